// The storage contract for replies in progress (the `assistant_streams` rows); implemented by
// db/SqliteAssistantStore (one node) and pg/PgAssistantStore (several nodes on one table). Pure types.
import type { Awaitable } from "../sessions/awaitable.ts";

/** A reply in progress as saved: its text so far, for committing as `interrupted` after a crash. Times are epoch ms. */
export interface StreamRow {
  id: string;
  sessionId: string;
  replyTo: number;
  /** The assistant's name (the committed message's userId). */
  userId: string;
  model: string;
  startedAt: number;
  text: string;
  reasoning: string;
  savedAt: number;
}

/**
 * Writes may answer later (a database over the network): the assistant never waits for insert, save or delete on
 * the streaming path, but issues each stream's writes one after another, so a save queued behind its delete finds
 * the row gone and never brings it back.
 */
export interface AssistantStore {
  /** Records a reply that started (text empty). */
  insert(row: StreamRow): Awaitable<void>;
  /** Saves the text so far; a row that is gone (already committed, or claimed by another node) is left gone. */
  save(id: string, text: string, reasoning: string, savedAt: number): Awaitable<void>;
  /** Forgets a reply once its message is committed (or it ended with nothing to commit). */
  delete(id: string): Awaitable<void>;
  /**
   * The replies in progress that no live node is saving any more, oldest first, which the caller must commit as
   * `interrupted` and then delete. Alone on its database (no `orphanAfterMs`), every row is one, asked once at
   * start. Shared, a row is one when it was not saved for `orphanAfterMs`; the call claims each row it returns
   * atomically (another node asking at the same time, or within `orphanAfterMs`, does not get it back), and a
   * claimed row not deleted within `orphanAfterMs` (the claimer died or could not commit) is an orphan again.
   */
  claimOrphans(now: number): Awaitable<StreamRow[]>;
  /**
   * Set when other live nodes write the same rows: how long (ms) a reply may go unsaved before it counts as left
   * behind by a node that is gone. A live node then saves each of its replies well within it even when no new
   * text came, and asks for orphans periodically, not only at start (a node restarted at once finds its own rows
   * still fresh). Unset: this node is the only one, and nothing is claimed after start.
   */
  readonly orphanAfterMs?: number;
}
