// The background maintenance job: expiry sweep, WAL checkpoint, optional retention; each run logged.
import type { Database } from "bun:sqlite";
import type { Logger } from "../observability/logger.ts";
import { errorFields } from "../observability/logger.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import type { SessionService } from "../sessions/session-service.ts";

export interface MaintenanceDeps {
  service: SessionService;
  sqlite: Database;
  logger: Logger;
  reporter: ErrorReporter;
  sweepIntervalMs: number;
  /** Delete the messages of sessions that ended more than this many days ago; undefined keeps everything. */
  retentionDays?: number;
  /** When nothing is connected, the checkpoint truncates the WAL instead of only copying it back. */
  isIdle: () => boolean;
}

export interface MaintenanceRun {
  expired: number;
  checkpoint: "passive" | "truncate";
  walPages: number;
  deletedMessages: number;
}

export function runMaintenance(deps: MaintenanceDeps, now = Date.now()): MaintenanceRun {
  const expired = deps.service.expireIdleSessions().length;
  const mode = deps.isIdle() ? "truncate" : "passive";
  const wal = deps.sqlite.query<{ log: number }, []>(`PRAGMA wal_checkpoint(${mode.toUpperCase()})`).get();
  let deletedMessages = 0;
  if (deps.retentionDays !== undefined) {
    const cutoff = now - deps.retentionDays * 86_400_000;
    deletedMessages = deps.sqlite
      .query<unknown, [number]>(
        "DELETE FROM messages WHERE session_id IN (SELECT id FROM sessions WHERE status <> 'active' AND ended_at < ?)",
      )
      .run(cutoff).changes;
  }
  return { expired, checkpoint: mode, walPages: wal?.log ?? 0, deletedMessages };
}

export function startMaintenance(deps: MaintenanceDeps): { stop(): void; runNow(): MaintenanceRun | null } {
  const run = (): MaintenanceRun | null => {
    const started = performance.now();
    try {
      const result = runMaintenance(deps);
      deps.logger.info("maintenance.run", { ...result, durationMs: Math.round(performance.now() - started) });
      return result;
    } catch (e) {
      deps.logger.error("maintenance.failed", errorFields(e));
      deps.reporter.capture(e, { where: "maintenance", code: "internal" });
      return null;
    }
  };
  const timer = setInterval(run, deps.sweepIntervalMs);
  return { stop: () => clearInterval(timer), runNow: run };
}
