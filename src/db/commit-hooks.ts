// Commit hooks: what a store tells integrations (the webhook outbox, archive jobs) from INSIDE the transaction of
// the change, so their rows commit or roll back with it. Pure composition; the stores call them.
import type { Alert } from "../protocol/analysis.ts";
import type { Message } from "../protocol/types.ts";
import type { SessionRecord } from "../sessions/store.ts";

/**
 * Every method is optional and runs synchronously inside the store's open transaction, on the same connection:
 * it may write rows with that connection and must not await. A throw rolls the whole change back (the caller
 * sees the store's usual internal error), so an event is never lost for a change that committed nor recorded
 * for one that did not. A store checks for the method once, so an absent hook costs nothing.
 */
export interface CommitHooks {
  /** A session row was inserted. */
  sessionStarted?(record: SessionRecord): void;
  /** An active session was ended; `record` is the row after the end (status, endedAt, durationMs set). */
  sessionEnded?(record: SessionRecord): void;
  /** A user became a participant of a session (the first join or post of that user there). */
  participantAdded?(sessionId: string, userId: string, at: number): void;
  /** A message was stored in a group-commit batch (not called for an idempotent repeat). */
  messageCommitted?(message: Message): void;
  /** An alert was inserted (by the analysis store). */
  alertRaised?(alert: Alert): void;
  /** An alert's status or note changed (by the analysis store). */
  alertUpdated?(alert: Alert): void;
}

type HookName = keyof CommitHooks;
const HOOK_NAMES: HookName[] = ["sessionStarted", "sessionEnded", "participantAdded", "messageCommitted", "alertRaised", "alertUpdated"];

/** One hooks object calling each of `list` in order; a method is present only if some member has it. */
export function combineHooks(list: ReadonlyArray<CommitHooks>): CommitHooks {
  const combined: Record<string, (...args: never[]) => void> = {};
  for (const name of HOOK_NAMES) {
    const fns = list.map((h) => h[name]?.bind(h)).filter((f): f is NonNullable<typeof f> => f !== undefined) as Array<(...args: unknown[]) => void>;
    if (fns.length === 1) combined[name] = fns[0]!;
    else if (fns.length > 1) combined[name] = (...args: unknown[]) => {
      for (const f of fns) f(...args);
    };
  }
  return combined as CommitHooks;
}

/**
 * For a store whose transactions are asynchronous (PostgreSQL): a fresh set of hooks per transaction, called
 * synchronously as on SQLite, whose rows `flush` writes on the transaction's connection before it commits.
 */
export interface TransactionRecorder<Tx> {
  begin(): { hooks: CommitHooks; flush(tx: Tx): Promise<void> };
}
