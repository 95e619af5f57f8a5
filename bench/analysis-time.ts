// Per-message time of the built-in analyzer: in-process (compute only) and through the analysis worker (the round
// trip the server pays), over chat-sized messages and a few large ones up to 64 KiB. `bun run bench:analysis`.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createBuiltinAnalyzer } from "../src/analysis/builtin/index.ts";
import { WorkerAnalyzer } from "../src/analysis/worker-analyzer.ts";

const ROOT = join(import.meta.dir, "..");
const EVAL = join(ROOT, "test", "fixtures", "crisis-eval.jsonl");

const openers = ["honestly", "so", "ok", "today", "lately", "i think", "not sure but", "tbh", "well", "anyway"];
const bodies = [
  "work has been really stressful and i can't sleep",
  "we should move the deadline for the release to friday",
  "my sister keeps calling me about the money she owes",
  "i love how the team handled the bug bash this week",
  "i don't want to be here anymore",
  "this exam is killing me lol",
  "i've been saving my pills for a while now",
  "the planning meeting ran long again, nobody decided anything",
  "i feel like everyone would be better off without me",
  "had a great run this morning, feeling good",
];
const tails = ["", ".", "!!", " :(", " idk", " what do you think?", " haha", "..."];

/** Deterministic chat-like lines (a small LCG, so every run measures the same text). */
function chatLines(n: number): string[] {
  let x = 42;
  const next = (k: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % k);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const parts = 1 + next(3);
    let line = openers[next(openers.length)]!;
    for (let p = 0; p < parts; p++) line += ` ${bodies[next(bodies.length)]}`;
    out.push(line + tails[next(tails.length)]);
  }
  return out;
}

const evalTexts = existsSync(EVAL)
  ? readFileSync(EVAL, "utf8").split("\n").filter(Boolean).map((l) => String(JSON.parse(l).text ?? ""))
  : [];
const chat = [...chatLines(2000), ...evalTexts];
const big = (bytes: number) => chatLines(Math.ceil(bytes / 60)).join(" ").slice(0, bytes);
const large = [4096, 16_384, 65_536].flatMap((b) => Array.from({ length: 10 }, () => big(b)));

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (n: number) => n.toFixed(2);

const analyzer = createBuiltinAnalyzer();
for (const t of chat.slice(0, 200)) analyzer.analyze(t);
const timeEach = (texts: string[]) =>
  texts.map((t) => {
    const started = performance.now();
    analyzer.analyze(t);
    return performance.now() - started;
  });
const chatTimes = timeEach(chat);
console.log(`built-in analyzer, in-process (${chat.length} chat messages${evalTexts.length ? `, ${evalTexts.length} from the eval set` : ""}, mean ${Math.round(chat.reduce((s, t) => s + t.length, 0) / chat.length)} chars)`);
console.log(`  p50 ${ms(pct(chatTimes, 50))} ms  p99 ${ms(pct(chatTimes, 99))} ms  max ${ms(Math.max(...chatTimes))} ms`);
for (const size of [4096, 16_384, 65_536]) {
  const times = timeEach(large.filter((t) => t.length === size));
  console.log(`  ${size / 1024} KiB: p50 ${ms(pct(times, 50))} ms  max ${ms(Math.max(...times))} ms`);
}

const worker = new WorkerAnalyzer();
await worker.start();
for (const t of chat.slice(0, 200)) await worker.analyze(t);
const roundTrips: number[] = [];
const compute: number[] = [];
for (const t of chat.slice(0, 1000)) {
  const started = performance.now();
  const r = await worker.analyze(t);
  roundTrips.push(performance.now() - started);
  compute.push(r.ms);
}
console.log("through the worker, one at a time (what one message waits for on an idle server)");
console.log(`  round trip p50 ${ms(pct(roundTrips, 50))} ms  p99 ${ms(pct(roundTrips, 99))} ms; compute p50 ${ms(pct(compute, 50))} ms  p99 ${ms(pct(compute, 99))} ms`);
const started = performance.now();
await Promise.all(chat.map((t) => worker.analyze(t)));
console.log(`  a burst of ${chat.length} (batched): ${Math.round(chat.length / ((performance.now() - started) / 1000))} messages/s`);
worker.stop();
