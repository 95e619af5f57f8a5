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

/** A read that touches the file, so a closed or unreadable database fails the check. */
export function databaseAnswers(sqlite: Database): boolean {
  try {
    sqlite.query("SELECT count(*) FROM sessions WHERE rowid = 1").get();
    return true;
  } catch {
    return false;
  }
}
