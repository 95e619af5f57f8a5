// Archive jobs over bun:sqlite: one row per ended session owed a transcript file, inserted inside the end's own
// transaction (so a crash can neither lose the job nor create one for an end that rolled back), then retried.
import type { Database, Statement } from "bun:sqlite";
import type { Awaitable } from "../sessions/awaitable.ts";

export interface ArchiveJobRow {
  session_id: string;
  status: "pending" | "written";
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  path: string | null;
  created_at: number;
  written_at: number | null;
}

export interface ArchiveJobStore {
  /** Pending jobs due by `now`, oldest first (on a shared store: claimed by this node). */
  due(now: number, limit: number): Awaitable<ArchiveJobRow[]>;
  /** When the next pending job is due (epoch ms), or null when none is pending. */
  nextDueAt(): Awaitable<number | null>;
  pendingCount(): Awaitable<number>;
  /** False when the job is gone (its session was erased); "taken" when another node took it over meanwhile. */
  markWritten(sessionId: string, path: string, now: number): Awaitable<boolean | "taken">;
  markFailed(sessionId: string, error: string, nextAt: number): Awaitable<void>;
  postpone(sessionId: string, nextAt: number): Awaitable<void>;
  /** Gives back the jobs this node still holds (a shared store), at stop. */
  release?(): Awaitable<void>;
  /** Which of these jobs are still pending (a shared store: another node may have written one this node failed). */
  stillPending?(sessionIds: string[]): Awaitable<string[]>;
}

export class SqliteArchiveStore implements ArchiveJobStore {
  private readonly insert: Statement<unknown, [string, number, number]>;

  constructor(private readonly sqlite: Database) {
    this.insert = sqlite.prepare(
      "INSERT INTO archive_jobs (session_id, next_attempt_at, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (session_id) DO NOTHING",
    );
  }

  /** Inside the caller's transaction (the session end): owes the session one archive file. */
  enqueue(sessionId: string, now: number): void {
    this.insert.run(sessionId, now, now);
  }

  job(sessionId: string): ArchiveJobRow | null {
    return this.sqlite.query<ArchiveJobRow, [string]>("SELECT * FROM archive_jobs WHERE session_id = ?").get(sessionId) ?? null;
  }

  /** Pending jobs due by `now`, oldest first. */
  due(now: number, limit: number): ArchiveJobRow[] {
    return this.sqlite
      .query<ArchiveJobRow, [number, number]>("SELECT * FROM archive_jobs WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?")
      .all(now, limit);
  }

  /** When the next pending job is due (epoch ms), or null when none is pending. */
  nextDueAt(): number | null {
    return this.sqlite.query<{ t: number | null }, []>("SELECT min(next_attempt_at) AS t FROM archive_jobs WHERE status = 'pending'").get()!.t;
  }

  pendingCount(): number {
    return this.sqlite.query<{ n: number }, []>("SELECT count(*) AS n FROM archive_jobs WHERE status = 'pending'").get()!.n;
  }

  /** False when the job is gone: its session was erased meanwhile (the row goes with it). */
  markWritten(sessionId: string, path: string, now: number): boolean {
    return (
      this.sqlite
        .query("UPDATE archive_jobs SET status = 'written', attempts = attempts + 1, path = ?1, written_at = ?2, last_error = NULL WHERE session_id = ?3")
        .run(path, now, sessionId).changes > 0
    );
  }

  markFailed(sessionId: string, error: string, nextAt: number): void {
    this.sqlite
      .query("UPDATE archive_jobs SET attempts = attempts + 1, last_error = ?1, next_attempt_at = ?2 WHERE session_id = ?3")
      .run(error, nextAt, sessionId);
  }

  /** Puts a job off without counting an attempt (its analyses are still being written). */
  postpone(sessionId: string, nextAt: number): void {
    this.sqlite.query("UPDATE archive_jobs SET next_attempt_at = ? WHERE session_id = ?").run(nextAt, sessionId);
  }

  /**
   * User messages among the session's last 100 that have no stored analysis yet (the archive waits briefly for
   * them so the file carries the analysis, as the export does for staff; older ones were analysed long ago or never).
   */
  unanalysedUserMessages(sessionId: string): number {
    return this.sqlite
      .query<{ n: number }, [string]>(
        `SELECT count(*) AS n FROM messages m
         WHERE m.session_id = ?1 AND m.role = 'user' AND m.seq > (SELECT last_seq FROM sessions WHERE id = ?1) - 100
           AND NOT EXISTS (SELECT 1 FROM message_analyses a WHERE a.session_id = m.session_id AND a.seq = m.seq)`,
      )
      .get(sessionId)!.n;
  }
}
