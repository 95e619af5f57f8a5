// The background maintenance job: expiry sweep, WAL checkpoint, retention (through the erasure path); each run logged.
import type { Database } from "bun:sqlite";
import type { Logger } from "../observability/logger.ts";
import { errorFields } from "../observability/logger.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import type { SessionService } from "../sessions/session-service.ts";
import { isSessiondError } from "../protocol/errors.ts";
import type { Checkpointer } from "./checkpointer.ts";

export interface MaintenanceDeps {
  service: SessionService;
  sqlite: Database;
  logger: Logger;
  reporter: ErrorReporter;
  sweepIntervalMs: number;
  /**
   * Erases the ended sessions whose retention ran out (their own retentionDays, else RETENTION_DAYS) through the
   * erasure path (privacy/PrivacyService.applyRetention); absent: nothing is erased.
   */
  retention?: () => { sessions: number; messages: number };
  /** When nothing is connected, the checkpoint truncates the WAL instead of only copying it back. */
  isIdle: () => boolean;
  /** Runs the checkpoint off the event loop; without one (or once it failed) it runs here, on the main thread. */
  checkpointer?: Checkpointer;
}

export interface MaintenanceRun {
  expired: number;
  checkpoint: "passive" | "truncate";
  walPages: number;
  /** Sessions erased by retention in this run, and the messages they held. */
  erasedSessions: number;
  deletedMessages: number;
}

export function runMaintenance(deps: MaintenanceDeps): MaintenanceRun {
  const expired = deps.service.expireIdleSessions().length;
  const mode = deps.isIdle() ? "truncate" : "passive";
  let walPages: number;
  if (deps.checkpointer?.alive) {
    // Asked of the worker and not awaited: this run reports the WAL as the last checkpoint left it.
    void deps.checkpointer.checkpoint(mode);
    walPages = deps.checkpointer.last?.walPages ?? 0;
  } else {
    walPages = deps.sqlite.query<{ log: number }, []>(`PRAGMA wal_checkpoint(${mode.toUpperCase()})`).get()?.log ?? 0;
  }
  const retained = deps.retention?.() ?? { sessions: 0, messages: 0 };
  return { expired, checkpoint: mode, walPages, erasedSessions: retained.sessions, deletedMessages: retained.messages };
}

export function startMaintenance(deps: MaintenanceDeps): { stop(): void; runNow(): MaintenanceRun | null } {
  const run = (): MaintenanceRun | null => {
    const started = performance.now();
    try {
      const result = runMaintenance(deps);
      deps.logger.info("maintenance.run", { ...result, durationMs: Math.round(performance.now() - started) });
      return result;
    } catch (e) {
      if (isSessiondError(e) && e.code === "unavailable") {
        // A storage fault, logged (once, with its code) by the fault monitor; the next run tries again.
        deps.logger.warn("maintenance.skipped", { reason: "storage unavailable" });
        return null;
      }
      deps.logger.error("maintenance.failed", errorFields(e));
      deps.reporter.capture(e, { where: "maintenance", code: "internal" });
      return null;
    }
  };
  const timer = setInterval(run, deps.sweepIntervalMs);
  return { stop: () => clearInterval(timer), runNow: run };
}
