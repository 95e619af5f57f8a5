// The background maintenance job: expiry sweep, WAL checkpoint, retention (through the erasure path); each run logged.
import type { Database } from "bun:sqlite";
import type { Logger } from "../observability/logger.ts";
import { errorFields } from "../observability/logger.ts";
import { LogThrottle } from "../observability/log-throttle.ts";
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

/**
 * Longest one step of the expiry sweep may hold the event loop, in ms; a sweep that needs longer goes on in further
 * steps on later turns (a step ends after the session that used the time up).
 */
export const SWEEP_STEP_MS = 8;

export interface MaintenanceRun {
  /** Sessions the run's first sweep step expired (see `sweeping`). */
  expired: number;
  /** The sweep has more to do and carries on in steps on later turns of the event loop. */
  sweeping: boolean;
  checkpoint: "passive" | "truncate";
  walPages: number;
  /** Sessions erased by retention in this run, and the messages they held. */
  erasedSessions: number;
  deletedMessages: number;
}

/** One run: the first step of the expiry sweep (`sweeping` when it has more to do), the checkpoint, retention. */
export function runMaintenance(deps: MaintenanceDeps): MaintenanceRun {
  const step = sweepStep(deps);
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
  return { expired: step.expired.length, sweeping: !step.done, checkpoint: mode, walPages, erasedSessions: retained.sessions, deletedMessages: retained.messages };
}

function sweepStep(deps: MaintenanceDeps): { expired: string[]; done: boolean } {
  const until = performance.now() + SWEEP_STEP_MS;
  return deps.service.expireIdleSessions(() => performance.now() >= until);
}

export function startMaintenance(deps: MaintenanceDeps): { stop(): void; runNow(): MaintenanceRun | null } {
  /** A sweep that goes on in steps (one per setImmediate), or null. */
  let sweep: { timer: ReturnType<typeof setImmediate>; expired: number; started: number } | null = null;
  const carryOn = () => {
    const current = sweep!;
    try {
      const step = sweepStep(deps);
      current.expired += step.expired.length;
      if (!step.done) {
        current.timer = setImmediate(carryOn);
        return;
      }
      deps.logger.info("maintenance.sweep_done", { expired: current.expired, durationMs: Math.round(performance.now() - current.started) });
    } catch (e) {
      if (!(isSessiondError(e) && e.code === "unavailable")) {
        deps.logger.error("maintenance.failed", errorFields(e));
        deps.reporter.capture(e, { where: "maintenance", code: "internal" });
      }
    }
    sweep = null;
  };
  const skipped = new LogThrottle(60_000);
  const run = (): MaintenanceRun | null => {
    // The sweep still in progress from the last run has the expiry in hand; the rest of this run can wait too.
    if (sweep !== null) return null;
    const started = performance.now();
    try {
      const result = runMaintenance(deps);
      deps.logger.info("maintenance.run", { ...result, durationMs: Math.round(performance.now() - started) });
      if (result.sweeping) sweep = { timer: setImmediate(carryOn), expired: result.expired, started };
      return result;
    } catch (e) {
      if (isSessiondError(e) && e.code === "unavailable") {
        // A storage fault, logged (once, with its code) by the fault monitor; the next run tries again.
        const t = skipped.take(Date.now());
        if (t.log) deps.logger.warn("maintenance.skipped", { reason: "storage unavailable", skippedSinceLastLine: t.held });
        return null;
      }
      deps.logger.error("maintenance.failed", errorFields(e));
      deps.reporter.capture(e, { where: "maintenance", code: "internal" });
      return null;
    }
  };
  const timer = setInterval(run, deps.sweepIntervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      if (sweep) clearImmediate(sweep.timer);
      sweep = null;
    },
    runNow: run,
  };
}
