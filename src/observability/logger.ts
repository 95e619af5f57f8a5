// Structured JSON logs, one line per event. Callers pass ids, codes and counts only; as a second line of defence
// any field whose name suggests a secret or conversation content is replaced before writing.
import { writeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const REDACTED_FIELDS = /token|authorization|secret|password|content|config|metadata|cookie|dsn/i;

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

export function createLogger(level: LogLevel = "info", write: (line: string) => void = stdoutLines()): Logger {
  const min = RANK[level];
  const log = (lvl: Exclude<LogLevel, "silent">, event: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    const record: LogFields = { ts: new Date().toISOString(), level: lvl, event };
    if (fields) for (const k in fields) record[k] = REDACTED_FIELDS.test(k) ? "[redacted]" : fields[k];
    write(JSON.stringify(record));
  };
  return {
    debug: (e, f) => log("debug", e, f),
    info: (e, f) => log("info", e, f),
    warn: (e, f) => log("warn", e, f),
    error: (e, f) => log("error", e, f),
  };
}

/**
 * Lines to stdout, written together once per event-loop turn (a connect storm logs a few lines per connection:
 * one write each would cost more than the connection), or at once past 64 KiB, and synchronously at exit.
 */
let sharedStdout: ((line: string) => void) | null = null;

function stdoutLines(): (line: string) => void {
  return (sharedStdout ??= bufferedStdout());
}

function bufferedStdout(): (line: string) => void {
  let pending = "";
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === "") return;
    const text = pending;
    pending = "";
    process.stdout.write(text);
  };
  process.once("exit", () => {
    if (pending !== "") writeAllSync(pending);
    pending = "";
  });
  return (line) => {
    pending += `${line}\n`;
    if (pending.length > 65_536) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

/** Writes the last lines at exit: stdout may be a non-blocking pipe, so a full one is waited on briefly. */
function writeAllSync(text: string): void {
  const bytes = Buffer.from(text);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let offset = 0, tries = 0; offset < bytes.length && tries < 2000; ) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN") return;
      tries++;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** An error as log fields: its name, code and message, never its stack or cause's payload. */
export function errorFields(e: unknown): LogFields {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { error: e.name, ...(code !== undefined && { code: String(code) }), message: e.message.slice(0, 300) };
  }
  return { error: typeof e };
}

/** The path of a URL with its query string removed: a `?token=` must never reach a log line. */
export function safePath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url.split("?")[0] ?? "";
  }
}
