// The analysis worker thread: runs the built-in analyzer on batches of messages, so its CPU time never lands on
// the main thread's write path. Entry point of its own (scripts/build.ts compiles it into the binary beside main).
import { createBuiltinAnalyzer } from "./builtin/index.ts";
import { lowerThreadPriority } from "./thread-priority.ts";
import { loadTopicTaxonomy } from "./topics.ts";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.ts";

declare const self: Worker;

let analyzer: ReturnType<typeof createBuiltinAnalyzer> | null = null;
const reply = (message: WorkerReply) => self.postMessage(message);

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.type === "init") {
    // When the main thread needs the CPU it gets it; analysis runs on what is left.
    const priority = lowerThreadPriority(request.priority);
    let topics;
    if (request.topicsFile !== undefined) {
      const loaded = loadTopicTaxonomy(request.topicsFile);
      if (!loaded.ok) return reply({ type: "failed", error: "topics" });
      topics = loaded.taxonomy;
    }
    try {
      analyzer = createBuiltinAnalyzer(topics ? { topics } : {});
      // Loads the NLP model now (about 100 ms), not on the first message, which must reach staff at once.
      analyzer.analyze("warming up the analyzer");
    } catch (e) {
      return reply({ type: "failed", error: e instanceof Error ? e.name : "error" });
    }
    return reply({ type: "ready", priority });
  }
  if (request.type === "analyze") {
    const results: Extract<WorkerReply, { type: "analyzed" }>["results"] = [];
    for (const item of request.items) {
      const started = performance.now();
      try {
        if (!analyzer) throw new Error("not initialised");
        const core = analyzer.analyze(item.text);
        results.push({ id: item.id, ok: true, core, ms: performance.now() - started });
      } catch (e) {
        // Only the error's name crosses over: a message could quote the text.
        results.push({ id: item.id, ok: false, error: e instanceof Error ? e.name : "error" });
      }
    }
    reply({ type: "analyzed", batch: request.batch, results });
  }
};
