// Lowers the scheduling priority of the calling thread (the analysis worker) below the write path's. `idle`: Linux
// SCHED_IDLE (a normal thread that wakes up preempts it at once), else nice 19; `low`: nice 10 (it yields to the
// write path but is not starved by unrelated load). Per thread; elsewhere nothing. Impure: one system call.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

/** What is asked: `idle` (only CPU nobody else wants) or `low` (below normal threads). */
export type PriorityRequest = "idle" | "low";
/** What the thread runs at: `idle` (SCHED_IDLE), `nice 19`, `nice 10`, or `normal` (could not lower it). */
export type ThreadPriority = "idle" | "nice 19" | "nice 10" | "normal";

/** sched.h: SCHED_IDLE. */
const SCHED_IDLE = 5;
const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];

function schedIdle(): boolean {
  if (process.platform !== "linux") return false;
  // Loaded only here, so a platform without FFI falls through to nice.
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  for (const name of LIBC_NAMES) {
    try {
      const libc = dlopen(name, { sched_setscheduler: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 } });
      try {
        // pid 0 is the calling thread; SCHED_IDLE takes priority 0.
        return libc.symbols.sched_setscheduler(0, SCHED_IDLE, ptr(new Int32Array([0]))) === 0;
      } finally {
        libc.close();
      }
    } catch {
      // not this libc
    }
  }
  return false;
}

function nice(level: number): boolean {
  // Linux applies nice per thread: the thread id is the last part of /proc/thread-self.
  const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
  if (!Number.isInteger(tid)) return false;
  setPriority(tid, level);
  return true;
}

/** Lowers the calling thread's priority as asked, as far as the platform allows; never throws. */
export function lowerThreadPriority(request: PriorityRequest): ThreadPriority {
  if (request === "idle") {
    try {
      if (schedIdle()) return "idle";
    } catch {
      // FFI unavailable: try nice
    }
  }
  const level = request === "idle" ? 19 : 10;
  try {
    if (nice(level)) return request === "idle" ? "nice 19" : "nice 10";
  } catch {
    // no /proc, or not permitted
  }
  return "normal";
}
