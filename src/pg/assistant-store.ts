// AssistantStore over PostgreSQL (Bun.SQL): the `assistant_streams` rows of every node in one table. A live node
// refreshes `saved_at` of its replies well within the orphan window, so a row left unsaved longer belongs to a node
// that is gone; a starting or sweeping node claims such rows atomically before committing them. Save times are the
// nodes' own clocks, so these must agree to well within the window (as NTP keeps them). Sealing is the SQLite
// store's, column for column.
import type { SQL } from "bun";
import type { AssistantStore, StreamRow } from "../assistant/store.ts";
import { PLAINTEXT, type FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";
import { guard } from "./faults.ts";
import { num } from "./rows.ts";

type Row = Record<string, unknown>;

/**
 * How long a reply may go unsaved before another node commits it as `interrupted`: far above the save interval
 * (200 ms) and the keep-alive saves (a third of it), so a node whose saves are slowed by a busy database for a few
 * seconds keeps its replies; low enough that a crashed node's reply is committed within half a minute.
 */
export const DEFAULT_ORPHAN_AFTER_MS = 15_000;

export interface PgAssistantStoreOptions {
  /** Seals the saved text and reasoning at rest (ENCRYPTION_KEY); plaintext when absent. */
  cipher?: FieldCipher;
  /** @default DEFAULT_ORPHAN_AFTER_MS */
  orphanAfterMs?: number;
}

export class PgAssistantStore implements AssistantStore {
  readonly orphanAfterMs: number;
  private readonly cipher: FieldCipher;

  constructor(
    private readonly sql: SQL,
    options: PgAssistantStoreOptions = {},
  ) {
    this.cipher = options.cipher ?? PLAINTEXT;
    this.orphanAfterMs = options.orphanAfterMs ?? DEFAULT_ORPHAN_AFTER_MS;
  }

  async insert(row: StreamRow): Promise<void> {
    await guard(() =>
      this.sql.unsafe(
        `INSERT INTO assistant_streams (id, session_id, reply_to, user_id, model, started_at, text, reasoning, saved_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          row.id, row.sessionId, row.replyTo, row.userId, row.model, row.startedAt,
          this.cipher.seal("", aad.streamText(row.id)), this.cipher.seal("", aad.streamReasoning(row.id)), row.savedAt,
        ],
      ),
    );
  }

  async save(id: string, text: string, reasoning: string, savedAt: number): Promise<void> {
    await guard(() =>
      this.sql.unsafe("UPDATE assistant_streams SET text = $1, reasoning = $2, saved_at = $3 WHERE id = $4", [
        this.cipher.seal(text, aad.streamText(id)), this.cipher.seal(reasoning, aad.streamReasoning(id)), savedAt, id,
      ]),
    );
  }

  async delete(id: string): Promise<void> {
    await guard(() => this.sql.unsafe("DELETE FROM assistant_streams WHERE id = $1", [id]));
  }

  /**
   * Claims the rows unsaved for `orphanAfterMs` by setting their `saved_at` to `now`, in one statement: a node
   * claiming at the same time skips the rows this one holds locked, and one claiming later finds them fresh.
   * The row stays until its message is committed, so a claimer that dies or cannot commit leaves it to be claimed
   * again once the window passes (the commit is idempotent by the stream id). Rows come back with the save time
   * they had before this claim.
   */
  async claimOrphans(now: number): Promise<StreamRow[]> {
    const rows = await guard(() =>
      this.sql.unsafe(
        `WITH stale AS (
           SELECT id, saved_at FROM assistant_streams WHERE saved_at < $1::bigint FOR UPDATE SKIP LOCKED
         )
         UPDATE assistant_streams s SET saved_at = $2::bigint FROM stale WHERE s.id = stale.id
         RETURNING s.id, s.session_id, s.reply_to, s.user_id, s.model, s.started_at, s.text, s.reasoning, stale.saved_at`,
        [now - this.orphanAfterMs, now],
      ),
    );
    return this.decode(rows as Row[]).sort((a, b) => a.startedAt - b.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Every row, live or not, oldest first (for inspection: recovery goes through claimOrphans). */
  async all(): Promise<StreamRow[]> {
    const rows = await guard(() => this.sql.unsafe("SELECT * FROM assistant_streams ORDER BY started_at, id"));
    return this.decode(rows as Row[]);
  }

  private decode(rows: Row[]): StreamRow[] {
    return rows.map((r) => {
      const id = r.id as string;
      return {
        id,
        sessionId: r.session_id as string,
        replyTo: num(r.reply_to),
        userId: r.user_id as string,
        model: r.model as string,
        startedAt: num(r.started_at),
        text: this.cipher.open(r.text as string, aad.streamText(id)),
        reasoning: this.cipher.open(r.reasoning as string, aad.streamReasoning(id)),
        savedAt: num(r.saved_at),
      };
    });
  }
}
