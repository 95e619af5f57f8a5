// Archive jobs in PostgreSQL, shared by every node: the job is inserted by the statement that ends the session
// (PgSessionStore.endSession), then claimed with a lease, so exactly one node writes each file and a node that dies
// mid-write has its job taken over once the lease lapses. Every update after the claim names the claiming node, so
// a node whose lease was taken over cannot overwrite what the new holder records.
import type { SQL } from "bun";
import type { ArchiveJobRow, ArchiveJobStore } from "../db/archive-store.ts";

type Row = Record<string, unknown>;

export interface PgArchiveStoreOptions {
  /** This node's id, written to `claimed_by`. */
  nodeId: string;
  /** How long a claim holds before another node may take the job over, in ms. @default 60000 */
  leaseMs?: number;
  now?: () => number;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function jobFromRow(r: Row): ArchiveJobRow {
  return {
    session_id: r.session_id as string,
    status: r.status as ArchiveJobRow["status"],
    attempts: Number(r.attempts),
    next_attempt_at: Number(r.next_attempt_at),
    last_error: (r.last_error as string | null) ?? null,
    path: (r.path as string | null) ?? null,
    created_at: Number(r.created_at),
    written_at: num(r.written_at),
  };
}

export class PgArchiveStore implements ArchiveJobStore {
  private readonly nodeId: string;
  private readonly leaseMs: number;
  private readonly now: () => number;

  constructor(
    private readonly sql: SQL,
    options: PgArchiveStoreOptions,
  ) {
    this.nodeId = options.nodeId;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  async job(sessionId: string): Promise<(ArchiveJobRow & { claimed_by: string | null; lease_until: number | null }) | null> {
    const [r]: Row[] = await this.sql.unsafe("SELECT * FROM archive_jobs WHERE session_id = $1", [sessionId]);
    return r ? { ...jobFromRow(r), claimed_by: (r.claimed_by as string | null) ?? null, lease_until: num(r.lease_until) } : null;
  }

  /**
   * Claims up to `limit` pending jobs due by `dueBy`, oldest first: those nobody holds, whose lease lapsed, or that
   * this node holds already. SKIP LOCKED lets nodes claiming at once take disjoint sets without waiting.
   */
  async due(dueBy: number, limit: number): Promise<ArchiveJobRow[]> {
    const now = this.now();
    const rows: Row[] = await this.sql.unsafe(
      `WITH c AS (
         SELECT session_id FROM archive_jobs
         WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $2 OR claimed_by = $3)
         ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED
       )
       UPDATE archive_jobs j SET claimed_by = $3, lease_until = $5 FROM c WHERE j.session_id = c.session_id RETURNING j.*`,
      [dueBy, now, this.nodeId, limit, now + this.leaseMs],
    );
    return rows.map(jobFromRow).sort((a, b) => a.next_attempt_at - b.next_attempt_at);
  }

  /** When the next pending job may be claimed (its retry time, or the end of another node's lease); null: none. */
  async nextDueAt(): Promise<number | null> {
    const [r]: Row[] = await this.sql.unsafe(
      "SELECT min(greatest(next_attempt_at, coalesce(lease_until, 0))) AS t FROM archive_jobs WHERE status = 'pending'",
    );
    return num(r?.t);
  }

  async pendingCount(): Promise<number> {
    const [r]: Row[] = await this.sql.unsafe("SELECT count(*)::int AS n FROM archive_jobs WHERE status = 'pending'");
    return Number(r!.n);
  }

  /**
   * False when the job is gone (its session was erased meanwhile, the row with it); "taken" when another node took
   * the job over after this node's lease lapsed (it writes the same file; this one's is left to it).
   */
  async markWritten(sessionId: string, path: string, now: number): Promise<boolean | "taken"> {
    const rows: Row[] = await this.sql.unsafe(
      `UPDATE archive_jobs SET status = 'written', attempts = attempts + 1, path = $1, written_at = $2, last_error = NULL,
         claimed_by = NULL, lease_until = NULL
       WHERE session_id = $3 AND status = 'pending' AND claimed_by = $4 RETURNING 1`,
      [path, now, sessionId, this.nodeId],
    );
    if (rows.length > 0) return true;
    return (await this.job(sessionId)) === null ? false : "taken";
  }

  /** Counts the attempt and releases the claim: the retry is for whichever node finds it due first. */
  async markFailed(sessionId: string, error: string, nextAt: number): Promise<void> {
    await this.sql.unsafe(
      `UPDATE archive_jobs SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, claimed_by = NULL, lease_until = NULL
       WHERE session_id = $3 AND claimed_by = $4`,
      [error, nextAt, sessionId, this.nodeId],
    );
  }

  /** Puts a job off without counting an attempt (its analyses are still being written), releasing the claim. */
  async postpone(sessionId: string, nextAt: number): Promise<void> {
    await this.sql.unsafe(
      "UPDATE archive_jobs SET next_attempt_at = $1, claimed_by = NULL, lease_until = NULL WHERE session_id = $2 AND claimed_by = $3",
      [nextAt, sessionId, this.nodeId],
    );
  }

  /** Gives back every job this node still holds (at shutdown), so other nodes need not wait for the lease. */
  async release(): Promise<void> {
    await this.sql.unsafe("UPDATE archive_jobs SET claimed_by = NULL, lease_until = NULL WHERE status = 'pending' AND claimed_by = $1", [this.nodeId]);
  }

  /** Which of these jobs are still pending (another node may have written one this node failed). */
  async stillPending(sessionIds: string[]): Promise<string[]> {
    if (sessionIds.length === 0) return [];
    const rows: Row[] = await this.sql.unsafe(
      "SELECT session_id FROM archive_jobs WHERE status = 'pending' AND session_id IN (SELECT jsonb_array_elements_text($1::text::jsonb))",
      [JSON.stringify(sessionIds)],
    );
    return rows.map((r) => r.session_id as string);
  }

  /** As SqliteArchiveStore.unanalysedUserMessages: user messages among the last 100 without a stored analysis. */
  async unanalysedUserMessages(sessionId: string): Promise<number> {
    const [r]: Row[] = await this.sql.unsafe(
      `SELECT count(*)::int AS n FROM messages m
       WHERE m.session_id = $1 AND m.role = 'user' AND m.seq > (SELECT last_seq FROM sessions WHERE id = $1) - 100
         AND NOT EXISTS (SELECT 1 FROM message_analyses a WHERE a.session_id = m.session_id AND a.seq = m.seq)`,
      [sessionId],
    );
    return Number(r!.n);
  }
}
