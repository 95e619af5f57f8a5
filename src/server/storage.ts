// Where a node stores: SQLite in DATA_DIR (the default: the file, its migrations, encryption at rest and the
// checkpoint worker) or PostgreSQL (DATABASE_URL, opened by engines.ts). Also what watches each: the SQLite
// maintenance job lives in db/maintenance.ts; for PostgreSQL, a health probe in the background and the expiry sweep.
import type { Database } from "bun:sqlite";
import type { Config } from "../config/index.ts";
import { databasePath, migrate, openDatabase } from "../db/index.ts";
import { startCheckpointer, type Checkpointer } from "../db/checkpointer.ts";
import { errorFields, type Logger } from "../observability/logger.ts";
import { LogThrottle } from "../observability/log-throttle.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import { isSessiondError } from "../protocol/errors.ts";
import type { SessionService } from "../sessions/session-service.ts";
import { prepareStorage, PrivacySetupError, type StorageSetup } from "./privacy.ts";

/** A start-up problem with storage a person can fix, as one sentence (node.ts prints it as one line). */
export class StorageSetupError extends Error {}

export interface SqliteStorage {
  sqlite: Database;
  storage: StorageSetup;
  checkpointer: Checkpointer;
}

/** Opens DATA_DIR's database, migrates it, decides its encryption (a wrong key stops here) and starts checkpoints. */
export function openSqlite(config: Config, logger: Logger): SqliteStorage {
  // Checkpoints run on a worker thread (checkpointer.ts), never inside a commit on the event loop.
  const sqlite = openDatabase(databasePath(config.DATA_DIR), { synchronous: config.DB_SYNCHRONOUS, walAutoCheckpoint: 0 });
  const applied = migrate(sqlite);
  if (applied > 0) logger.info("db.migrated", { applied });
  let storage: StorageSetup;
  try {
    storage = prepareStorage(config, sqlite, logger);
  } catch (e) {
    sqlite.close();
    if (e instanceof PrivacySetupError) throw new StorageSetupError(e.message);
    throw e;
  }
  const checkpointFailures = new LogThrottle(60_000);
  const checkpointer = startCheckpointer(databasePath(config.DATA_DIR), {
    onError: (e) => {
      const t = checkpointFailures.take(Date.now());
      if (t.log || !checkpointer.alive) logger.warn("db.checkpoint_failed", { ...e, alive: checkpointer.alive, failedSinceLastLine: t.log ? t.held : 0 });
      // Without the worker the WAL would grow without bound: fall back to SQLite's own checkpoints in commits.
      if (!checkpointer.alive) sqlite.run("PRAGMA wal_autocheckpoint = 1000");
    },
  });
  return { sqlite, storage, checkpointer };
}

export interface DatabaseWatch {
  /** The last probe's answer (true until the first one has answered, as the start-up just reached the server). */
  readonly healthy: boolean;
  stop(): void;
}

/**
 * Probes a remote database every `intervalMs` in the background, so /health answers at once from the last probe
 * and a server that went away shows as unhealthy within about one interval.
 */
export function watchDatabase(probe: () => Promise<boolean>, intervalMs: number, onChange?: (healthy: boolean) => void): DatabaseWatch {
  let healthy = true;
  let inFlight = false;
  const check = async () => {
    if (inFlight) return;
    inFlight = true;
    const now = await probe().catch(() => false);
    inFlight = false;
    if (now !== healthy) onChange?.(now);
    healthy = now;
  };
  const timer = setInterval(check, intervalMs);
  return {
    get healthy() {
      return healthy;
    },
    stop: () => clearInterval(timer),
  };
}

export interface ExpirySweepDeps {
  service: SessionService;
  logger: Logger;
  reporter: ErrorReporter;
  sweepIntervalMs: number;
  /** Erases the ended sessions whose retention ran out (through the erasure path); after each sweep. */
  retention?: () => Promise<{ sessions: number; messages: number }>;
}

/**
 * The expiry sweep on a shared database: every interval, idle sessions are ended through the store, which lets
 * exactly one node end each (the others find it ended). One sweep at a time; an unreachable database skips runs.
 */
export function startExpirySweep({ service, logger, reporter, sweepIntervalMs, retention }: ExpirySweepDeps): { stop(): void } {
  let running = false;
  const skipped = new LogThrottle(60_000);
  const run = async () => {
    if (running) return;
    running = true;
    const started = performance.now();
    try {
      const expired = await service.sweepIdle();
      if (expired.length > 0) logger.info("maintenance.sweep_done", { expired: expired.length, durationMs: Math.round(performance.now() - started) });
      const retained = await retention?.();
      if (retained && retained.sessions > 0) logger.info("maintenance.retention", { erasedSessions: retained.sessions, deletedMessages: retained.messages });
    } catch (e) {
      if (isSessiondError(e) && (e.code === "unavailable" || e.code === "internal")) {
        const t = skipped.take(Date.now());
        if (t.log) logger.warn("maintenance.skipped", { reason: "storage unavailable", skippedSinceLastLine: t.held });
      } else {
        logger.error("maintenance.failed", errorFields(e));
        reporter.capture(e, { where: "maintenance", code: "internal" });
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(run, sweepIntervalMs);
  return { stop: () => clearInterval(timer) };
}
