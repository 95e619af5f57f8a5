// Health checks: whether the database answers and the server accepts connections.
import type { Database } from "bun:sqlite";

export interface HealthProbe {
  /** True while the server accepts work; false while starting and while draining at shutdown. */
  ready(): boolean;
  database(): boolean;
  connections(): number;
  activeSessions(): number;
  startedAt: number;
}

/**
 * A read and a write-lock probe: a closed, unreadable or locked-out database fails the check (a server that
 * cannot commit cannot acknowledge a message, so it is not healthy).
 */
export function databaseAnswers(sqlite: Database): boolean {
  try {
    sqlite.query("SELECT count(*) FROM sessions WHERE rowid = 1").get();
    sqlite.run("BEGIN IMMEDIATE");
    sqlite.run("ROLLBACK");
    return true;
  } catch {
    return false;
  }
}
