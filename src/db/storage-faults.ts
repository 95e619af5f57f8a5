// Storage faults: which SQLite errors are faults of the environment (busy or locked database, full disk, I/O) and
// not bugs, the `unavailable` error a client gets for them, and the monitor that logs each fault episode once when
// it starts, in summaries while it lasts and once when it ends. Pure apart from the logger and counter it is given.
import { SessiondError } from "../protocol/errors.ts";

/** How long a client is told to wait before resending, by kind of fault (ms). */
export const RETRY_AFTER_MS = { busy: 1000, full: 5000, io: 2000 } as const;

export type StorageFaultKind = keyof typeof RETRY_AFTER_MS;

/** SQLite primary result codes that a retry may cure; everything else (constraints, misuse, SQL errors) is a bug. */
const KINDS: Record<string, StorageFaultKind> = {
  SQLITE_BUSY: "busy",
  SQLITE_LOCKED: "busy",
  SQLITE_FULL: "full",
  SQLITE_IOERR: "io",
  SQLITE_CANTOPEN: "io",
  SQLITE_PROTOCOL: "io",
  SQLITE_NOMEM: "io",
  SQLITE_READONLY: "io",
};

/**
 * The SQLite code of a storage fault (`SQLITE_BUSY`, `SQLITE_FULL`, `SQLITE_IOERR_WRITE`, ...), or null when `e` is
 * anything else. Looks through `cause` too, since query builders wrap the driver's error.
 */
export function storageFaultCode(e: unknown): string | null {
  for (let cur: unknown = e, depth = 0; cur !== null && typeof cur === "object" && depth < 4; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && faultKind(code) !== null) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return null;
}

/** The kind of fault an SQLite code names (extended codes like SQLITE_IOERR_FSYNC count as their primary). */
export function faultKind(code: string): StorageFaultKind | null {
  if (Object.hasOwn(KINDS, code)) return KINDS[code]!;
  const primary = /^(SQLITE_[A-Z]+?)_[A-Z_]+$/.exec(code)?.[1];
  return primary !== undefined && Object.hasOwn(KINDS, primary) ? KINDS[primary]! : null;
}

/** Whether waiting a few milliseconds may be enough (another connection holds the lock). */
export const isBusyCode = (code: string): boolean => faultKind(code) === "busy";

const SENTENCES: Record<StorageFaultKind, string> = {
  busy: "The database is busy (another process holds its write lock); nothing was saved. Try again shortly.",
  full: "The server's disk is full; nothing was saved. Try again later.",
  io: "The database could not be read or written (an I/O error); nothing was saved. Try again later.",
};

/** The error a client receives for a storage fault: `unavailable` (HTTP 503) with `retryAfterMs`. */
export function unavailableError(code: string, cause?: unknown): SessiondError {
  const kind = faultKind(code) ?? "io";
  return new SessiondError("unavailable", SENTENCES[kind], RETRY_AFTER_MS[kind], undefined, cause === undefined ? undefined : { cause });
}

/** Where storage reports how its writes go; the monitor below is the implementation. */
export interface StorageFaultListener {
  /** A read or write failed with a storage fault. `op` names the path (append, insertSession, ...). */
  failed(code: string, op: string): void;
  /** A write committed: the fault, if any, is over. */
  succeeded(): void;
}

export interface FaultLog {
  error(event: string, fields: Record<string, unknown>): void;
  warn(event: string, fields: Record<string, unknown>): void;
  info(event: string, fields: Record<string, unknown>): void;
}

export interface StorageFaultMonitorOptions {
  log: FaultLog;
  /** Counts every failure by code (`sessiond_storage_errors_total{code}`). */
  count?: (code: string) => void;
  /** Told when a fault starts and when it ends (to start and stop a recovery probe). */
  onChange?: (faulted: boolean) => void;
  now?: () => number;
  /** At most one summary line this often while a fault lasts. @default 10_000 */
  summaryEveryMs?: number;
}

/**
 * One fault episode at a time: the first failure logs `storage.fault_started` (with its code), later failures are
 * counted and summarised in `storage.fault_ongoing` at most once per summaryEveryMs, and the first success after
 * them logs `storage.fault_ended` with the totals. Nothing is logged per failed message.
 */
export class StorageFaultMonitor implements StorageFaultListener {
  private episode: { since: number; code: string; total: number; byCode: Map<string, number>; sinceSummary: number; lastLine: number } | null = null;
  private readonly now: () => number;
  private readonly summaryEveryMs: number;

  constructor(private readonly options: StorageFaultMonitorOptions) {
    this.now = options.now ?? Date.now;
    this.summaryEveryMs = options.summaryEveryMs ?? 10_000;
  }

  /** Whether a fault is in progress (no write has succeeded since the last failure). */
  get faulted(): boolean {
    return this.episode !== null;
  }

  /** The code that started the fault in progress, or null. */
  get code(): string | null {
    return this.episode?.code ?? null;
  }

  failed(code: string, op: string): void {
    this.options.count?.(code);
    const now = this.now();
    const e = this.episode;
    if (e === null) {
      this.episode = { since: now, code, total: 1, byCode: new Map([[code, 1]]), sinceSummary: 0, lastLine: now };
      this.options.log.error("storage.fault_started", { code, op, hint: hintFor(code) });
      this.options.onChange?.(true);
      return;
    }
    e.total++;
    e.sinceSummary++;
    e.byCode.set(code, (e.byCode.get(code) ?? 0) + 1);
    if (now - e.lastLine >= this.summaryEveryMs) {
      e.lastLine = now;
      this.options.log.warn("storage.fault_ongoing", { code, failures: e.sinceSummary, total: e.total, byCode: Object.fromEntries(e.byCode), durationMs: now - e.since });
      e.sinceSummary = 0;
    }
  }

  succeeded(): void {
    const e = this.episode;
    if (e === null) return;
    this.episode = null;
    this.options.log.info("storage.fault_ended", { code: e.code, failures: e.total, byCode: Object.fromEntries(e.byCode), durationMs: this.now() - e.since });
    this.options.onChange?.(false);
  }
}

function hintFor(code: string): string {
  switch (faultKind(code)) {
    case "busy":
      return "Another process holds the database's write lock; writes are retried and then refused with unavailable until it lets go.";
    case "full":
      return "The disk holding DATA_DIR is full; free space and writes resume by themselves.";
    default:
      return "The database file could not be read or written; check the disk and DATA_DIR.";
  }
}

/** A listener that ignores everything, for stores built without a monitor (tests, CLI commands). */
export const IGNORE_FAULTS: StorageFaultListener = { failed() {}, succeeded() {} };

/** A storage fault as `unavailable` (told to the listener); any other thrown value unchanged. */
export function asUnavailable(listener: StorageFaultListener, e: unknown, op: string): unknown {
  const code = storageFaultCode(e);
  if (code === null) return e;
  listener.failed(code, op);
  return unavailableError(code, e);
}

/** Runs a synchronous write: a storage fault becomes `unavailable`; a success ends the fault in progress. */
export function guardWrite<T>(listener: StorageFaultListener, op: string, write: () => T): T {
  let result: T;
  try {
    result = write();
  } catch (e) {
    throw asUnavailable(listener, e, op);
  }
  listener.succeeded();
  return result;
}

/** Runs a synchronous read: a storage fault becomes `unavailable`. */
export function guardRead<T>(listener: StorageFaultListener, op: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw asUnavailable(listener, e, op);
  }
}
