// The storage contract for replies in progress (the `assistant_streams` rows); implemented by
// db/SqliteAssistantStore. Pure types.

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

export interface AssistantStore {
  /** Records a reply that started (text empty). */
  insert(row: StreamRow): void;
  /** Saves the text so far; a row that is gone (already committed) is left gone. */
  save(id: string, text: string, reasoning: string, savedAt: number): void;
  /** Forgets a reply once its message is committed (or it ended with nothing to commit). */
  delete(id: string): void;
  /** Every reply still in progress, oldest first: after a crash, what must be committed as `interrupted`. */
  all(): StreamRow[];
}
