// Which PostgreSQL client errors mean "the database is not reachable right now" (connection refused or lost, the
// server shutting down or starting, out of connections) rather than a bug, and the errors a client gets (pure).
import { SessiondError } from "../protocol/errors.ts";

/** How long a client is told to wait before resending while the database is unreachable (ms). */
export const PG_RETRY_AFTER_MS = 2000;

/**
 * SQLSTATE classes and codes of an unreachable or overloaded server: 08 connection exceptions, 53 insufficient
 * resources, 57P01–57P03 shutdown or not yet accepting connections, 40001/40P01 (a retry may succeed).
 */
const UNAVAILABLE_STATES = /^(08|53|57P0[123]|40001|40P01)/;

/** Whether `e` (a Bun.SQL error, possibly wrapped) says the server cannot be used now. */
export function isUnavailable(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== null && typeof cur === "object" && depth < 4; depth++) {
    const { code, errno } = cur as { code?: unknown; errno?: unknown };
    if (typeof errno === "string" && UNAVAILABLE_STATES.test(errno)) return true;
    if (typeof code === "string" && (code.startsWith("ERR_POSTGRES_CONNECTION") || code === "ERR_POSTGRES_IDLE_TIMEOUT" ||
      code === "ERR_POSTGRES_LIFETIME_TIMEOUT" || code === "ECONNREFUSED" || code === "ECONNRESET" || code === "ERR_POSTGRES_TLS_NOT_AVAILABLE")) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/** The SQLSTATE of a server error (errno), or null. */
export function sqlState(e: unknown): string | null {
  const errno = typeof e === "object" && e !== null ? (e as { errno?: unknown }).errno : undefined;
  return typeof errno === "string" ? errno : null;
}

/**
 * The database cannot be reached: `internal` (as the cluster's contract states: it is the deployment's fault, not
 * the request's), with a sentence saying nothing was saved and when to try again.
 */
export const unavailable = (cause?: unknown): SessiondError =>
  new SessiondError("internal", "The database cannot be reached right now; nothing was saved. Try again shortly.", PG_RETRY_AFTER_MS, undefined, cause === undefined ? undefined : { cause });

export const notSaved = (cause?: unknown): SessiondError =>
  new SessiondError("internal", "The message could not be stored and was not saved; try again.", undefined, undefined, cause === undefined ? undefined : { cause });

/** The connection broke while COMMIT was on its way: the outcome is unknown to this node. */
export const commitUnknown = (cause?: unknown): SessiondError =>
  new SessiondError(
    "internal",
    "The database connection was lost during the commit, so it is not known whether the message was saved; resend it with the same clientMsgId.",
    PG_RETRY_AFTER_MS,
    undefined,
    cause === undefined ? undefined : { cause },
  );

/** Runs a read or a single-statement write, turning an unreachable database into `unavailable`. */
export async function guard<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (isUnavailable(e)) throw unavailable(e);
    throw e;
  }
}
