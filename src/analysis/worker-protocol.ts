// The messages between the main thread and the analysis worker (types only).
import type { PriorityRequest, ThreadPriority } from "./thread-priority.ts";
import type { AnalysisCore } from "./types.ts";

export type WorkerRequest =
  | { type: "init"; topicsFile?: string; priority: PriorityRequest }
  | { type: "analyze"; batch: number; items: Array<{ id: number; text: string }> };

export type WorkerReply =
  | { type: "ready"; priority: ThreadPriority }
  /** Start-up failed; `error` is a name, never a message (messages could quote text). */
  | { type: "failed"; error: string }
  | {
      type: "analyzed";
      batch: number;
      results: Array<{ id: number; ok: true; core: AnalysisCore; ms: number } | { id: number; ok: false; error: string }>;
    };
