// AssistantStore over bun:sqlite: the `assistant_streams` rows that make a streamed reply survive a crash.
// Statements are prepared once: a save runs every few hundred milliseconds per reply in progress. One node owns the
// file, so every row found at start was left by a crash of this node (no orphan window) and writes answer at once.
import type { Database, Statement } from "bun:sqlite";
import type { AssistantStore, StreamRow } from "../assistant/store.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";

interface Row {
  id: string;
  session_id: string;
  reply_to: number;
  user_id: string;
  model: string;
  started_at: number;
  text: string;
  reasoning: string;
  saved_at: number;
}

export class SqliteAssistantStore implements AssistantStore {
  private readonly stmt: {
    insert: Statement<unknown, [string, string, number, string, string, number, string, string, number]>;
    save: Statement<unknown, [string, string, number, string]>;
    remove: Statement<unknown, [string]>;
    all: Statement<Row, []>;
  };

  /** `cipher` seals the saved text and reasoning at rest. */
  constructor(
    sqlite: Database,
    private readonly cipher: FieldCipher = PLAINTEXT,
  ) {
    this.stmt = {
      insert: sqlite.prepare(
        `INSERT INTO assistant_streams (id, session_id, reply_to, user_id, model, started_at, text, reasoning, saved_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      save: sqlite.prepare("UPDATE assistant_streams SET text = ?, reasoning = ?, saved_at = ? WHERE id = ?"),
      remove: sqlite.prepare("DELETE FROM assistant_streams WHERE id = ?"),
      all: sqlite.prepare("SELECT * FROM assistant_streams ORDER BY started_at, id"),
    };
  }

  insert(row: StreamRow): void {
    this.stmt.insert.run(row.id, row.sessionId, row.replyTo, row.userId, row.model, row.startedAt, this.cipher.seal("", aad.streamText(row.id)), this.cipher.seal("", aad.streamReasoning(row.id)), row.savedAt);
  }

  save(id: string, text: string, reasoning: string, savedAt: number): void {
    this.stmt.save.run(this.cipher.seal(text, aad.streamText(id)), this.cipher.seal(reasoning, aad.streamReasoning(id)), savedAt, id);
  }

  delete(id: string): void {
    this.stmt.remove.run(id);
  }

  /** Every row: one node owns the file, so at start each is a reply a crash cut short. */
  claimOrphans(_now: number): StreamRow[] {
    return this.all();
  }

  /** Every reply still in progress, oldest first. */
  all(): StreamRow[] {
    return this.stmt.all.all().map((r) => ({
      id: r.id,
      sessionId: r.session_id,
      replyTo: r.reply_to,
      userId: r.user_id,
      model: r.model,
      startedAt: r.started_at,
      text: this.cipher.open(r.text, aad.streamText(r.id)),
      reasoning: this.cipher.open(r.reasoning, aad.streamReasoning(r.id)),
      savedAt: r.saved_at,
    }));
  }
}
