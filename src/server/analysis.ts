// Builds analysis from the config: the worker with the built-in analyzer, the model side for ANALYZER=llm|both,
// the subscriber, the alert service, their metrics, logs and the /health check. Called once by server/node.ts.
import type { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ModelClient } from "../ai/model-client.ts";
import type { Config } from "../config/index.ts";
import { SqliteAnalysisStore } from "../db/analysis-store.ts";
import type { CommitHooks } from "../db/commit-hooks.ts";
import { storageFaultCode, type StorageFaultListener } from "../db/storage-faults.ts";
import { errorFields, type Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { ErrorReporter } from "../observability/sentry.ts";
import { isUnavailable } from "../pg/faults.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import { AlertService } from "../analysis/alerts.ts";
import { TimeBudget } from "../analysis/budget.ts";
import { LlmAnalyzer } from "../analysis/llm.ts";
import { createPipeline } from "../analysis/pipeline.ts";
import type { AnalysisStorage } from "../analysis/store.ts";
import { AnalysisSubscriber } from "../analysis/subscriber.ts";
import { loadTopicTaxonomy } from "../analysis/topics.ts";
import { WorkerAnalyzer } from "../analysis/worker-analyzer.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";

export { AlertService, alertFor, applyAlertAction, type AlertAction, type AlertPage } from "../analysis/alerts.ts";
export { AnalysisSubscriber } from "../analysis/subscriber.ts";

/** A start-up problem with the analysis settings (one readable line; the server exits 1). */
export class AnalysisSetupError extends Error {}

const ANALYSIS_BUCKETS = [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** The share of the main thread's time analysis may use (see TimeBudget). */
const MAIN_THREAD_SHARE = 0.04;
/** The main thread's busy share above which a worker sharing its core is held back (see TimeBudget). */
const BUSY_SHARE = 0.5;
/** How often the model server is pinged for /health when the LLM analyzer is on, in ms. */
const PING_INTERVAL_MS = 15_000;

export type AnalysisConfig = Pick<
  Config,
  | "ANALYZER"
  | "ANALYSIS_DEFAULT"
  | "ANALYSIS_QUEUE_MAX"
  | "ANALYSIS_TOPICS_FILE"
  | "ANALYSIS_LLM_TIMEOUT_SECONDS"
  | "ANALYSIS_STORE_DELAY_MS"
  | "ALERT_MIN_RISK"
  | "AI_BASE_URL"
  | "AI_API_KEY"
  | "AI_MODEL"
  | "AI_MAX_CONCURRENCY"
>;

/** SQLite: the analysis store is built here, over the server's database, with the outbox hooks and the cipher. */
export interface SqliteAnalysisDeps {
  sqlite: Database;
  /** Run inside the transactions that store or change an alert (the webhook outbox). */
  hooks?: Pick<CommitHooks, "alertRaised" | "alertUpdated">;
  /** Seals analyses and alert triggers at rest (ENCRYPTION_KEY); plaintext when absent. */
  cipher?: FieldCipher;
  store?: never;
}

/** Any other storage (PostgreSQL: a PgAnalysisStore), built by the caller with its own cipher. */
export interface StorageAnalysisDeps {
  store: AnalysisStorage;
  sqlite?: never;
  hooks?: never;
  cipher?: never;
}

export type AnalysisDeps = (SqliteAnalysisDeps | StorageAnalysisDeps) & {
  config: AnalysisConfig;
  events: SessionEvents;
  service: SessionService;
  metrics: Metrics;
  logger: Logger;
  reporter: ErrorReporter;
  /** Told of SQLite storage faults (a busy or full database) instead of logging them as internal errors. */
  faults?: StorageFaultListener;
};

export interface AnalysisParts {
  subscriber: Subscriber;
  alerts: AlertService;
  /** /health `checks.analysis`: the queue is moving, the worker answers, and (with a model) the model server does. */
  healthy: () => boolean;
}

/**
 * The CPUs this process may use: its affinity (taskset, cpusets), and a cgroup v2 CPU quota (`docker --cpus`)
 * when one is set.
 */
export function effectiveCpus(): number {
  let cpus = availableParallelism();
  try {
    const [quota, period] = readFileSync("/sys/fs/cgroup/cpu.max", "utf8").trim().split(/\s+/);
    if (quota !== "max" && Number(period) > 0) cpus = Math.min(cpus, Number(quota) / Number(period));
  } catch {
    // no cgroup v2 quota to read
  }
  return cpus;
}

/** Throws AnalysisSetupError when ANALYSIS_TOPICS_FILE is unusable. */
export function checkTopicsFile(config: Pick<Config, "ANALYSIS_TOPICS_FILE">): void {
  if (config.ANALYSIS_TOPICS_FILE === undefined) return;
  const loaded = loadTopicTaxonomy(config.ANALYSIS_TOPICS_FILE);
  if (!loaded.ok) throw new AnalysisSetupError(`config: ANALYSIS_TOPICS_FILE is invalid: ${loaded.error}`);
}

/** Throws AnalysisSetupError when ANALYSIS_TOPICS_FILE is unusable. */
export function createAnalysis(deps: AnalysisDeps): AnalysisParts {
  const { config, metrics, logger, reporter, events, service } = deps;
  checkTopicsFile(config);
  const store: AnalysisStorage = deps.store ?? new SqliteAnalysisStore(deps.sqlite, deps.hooks, deps.cipher);
  const reportError = (e: unknown, where: string) => {
    // A busy or full database is no bug: the fault monitor logs it (once), and the catch-up stores these later.
    const fault = storageFaultCode(e);
    if (fault !== null && deps.faults) return deps.faults.failed(fault, where);
    // Nor is an unreachable PostgreSQL server: no error report (the deployment's fault), the catch-up retries.
    if (isUnavailable(e)) return logger.warn("analysis.storage_unavailable", { where });
    logger.error("internal.error", { where, ...errorFields(e) });
    reporter.capture(e, { where, code: "internal" });
  };

  const alertsTotal = metrics.counter("sessiond_alerts_total", "Crisis alerts raised, by risk level.");
  const seconds = metrics.histogram("sessiond_analysis_seconds", "Time to analyse one message (the built-in analyzer's compute time; with a model, until the combined result).", ANALYSIS_BUCKETS);
  const dropped = metrics.counter("sessiond_analysis_dropped_total", "Messages refused by the full analysis queue (each is analysed later by the catch-up).");
  const fallbacks = metrics.counter("sessiond_analysis_fallbacks_total", "Analyses that fell back, by reason: the model's failure (timeout, http, unreachable, invalid_reply, ...) or the worker's (worker_timeout, worker_failed).");
  const restarts = metrics.counter("sessiond_analysis_worker_restarts_total", "Restarts of the analysis worker, by reason (timeout, crashed).");

  // Analysis may take at most this share of the main thread (posting to the worker, storing results): when the
  // write path needs the CPU, messages wait in the queue (and, past ANALYSIS_QUEUE_MAX, are caught up later).
  // Where the worker has no core of its own, a main thread busier than BUSY_SHARE holds it to one batch a second.
  const sharedCore = effectiveCpus() < 2;
  const budget = new TimeBudget({ fraction: MAIN_THREAD_SHARE, busyShare: sharedCore ? BUSY_SHARE : undefined });
  const worker = new WorkerAnalyzer({
    budget,
    // Sharing the only core, it takes only what the write path leaves; with a core of its own it stays below the
    // write path without being starved by unrelated load (alerts stay prompt on a busy host).
    priority: sharedCore ? "idle" : "low",
    topicsFile: config.ANALYSIS_TOPICS_FILE,
    // "idle" (SCHED_IDLE), "nice 19" or "nice 10": analysis yields the CPU to the write path; "normal": it could not.
    onStarted: (priority) => logger.info("analysis.worker_ready", { priority, sharedCore }),
    onRestart: (reason) => {
      restarts.inc({ reason });
      logger.warn("analysis.worker_restarted", { reason });
    },
  });

  // Started now, so the analyzer loads while the rest of the server is assembled.
  const workerReady = worker.start();

  let model: ModelClient | null = null;
  let modelReachable = true;
  const mode = config.ANALYZER;
  if (mode !== "builtin") {
    // The config refuses llm/both without AI_BASE_URL and AI_MODEL.
    model = new ModelClient({ baseURL: config.AI_BASE_URL!, apiKey: config.AI_API_KEY, model: config.AI_MODEL!, maxRetries: 1 });
  }
  const analyze = createPipeline({
    builtin: worker,
    llm: model && mode !== "builtin" ? { analyzer: new LlmAnalyzer(model, { model: config.AI_MODEL!, timeoutMs: config.ANALYSIS_LLM_TIMEOUT_SECONDS * 1000 }), mode } : undefined,
    onFallback: (reason) => fallbacks.inc({ reason }),
    onModelOutcome: (ok, reason) => {
      if (ok) modelReachable = true;
      else if (reason === "unreachable" || reason === "timeout" || reason === "http") modelReachable = false;
    },
  });

  const subscriber = new AnalysisSubscriber(
    {
      events,
      service,
      store,
      analyze,
      newAlertId: () => Bun.randomUUIDv7(),
      onDropped: () => dropped.inc(),
      onAnalysed: (s) => seconds.observe(s),
      onAlert: (alert) => {
        alertsTotal.inc({ risk_level: alert.risk_level });
        // Ids and the level only: triggers and the message quote the person.
        logger.warn("alert.raised", { alert: alert.id, session: alert.session, seq: alert.seq, riskLevel: alert.risk_level });
      },
      onError: reportError,
      budget,
      onCatchUp: (found, full) => {
        if (found > 0 || full) logger.info("analysis.catch_up", { found, scope: full ? "all" : "dropped" });
      },
    },
    {
      queueMax: config.ANALYSIS_QUEUE_MAX,
      alertMinRisk: config.ALERT_MIN_RISK,
      defaultEnabled: config.ANALYSIS_DEFAULT === "on",
      // The worker takes batches; a model server takes only so many requests at once (shared with the assistant).
      concurrency: model ? config.AI_MAX_CONCURRENCY : 64,
      storeDelayMs: config.ANALYSIS_STORE_DELAY_MS,
    },
  );
  metrics.gauge("sessiond_analysis_queue_depth", "Messages waiting for analysis.", () => subscriber.depth);

  const alerts = new AlertService({
    store,
    events,
    onChanged: (alert, action, by) => logger.info(action === "acknowledge" ? "alert.acknowledged" : "alert.resolved", { alert: alert.id, session: alert.session, by }),
  });

  let pinger: ReturnType<typeof setInterval> | null = null;
  const ping = async () => {
    if (!model) return;
    const result = await model.ping().catch(() => ({ ok: false as const }));
    modelReachable = result.ok;
  };

  const WORKER_START_WAIT_MS = 3000;
  const lifecycle: Subscriber = {
    name: "analysis",
    start: async () => {
      // Loaded before the server reports started, so the first message is analysed at once; but a host too busy
      // to give the low-priority worker a turn must not hold the whole server back (messages wait in the queue).
      const loaded = await Promise.race([workerReady.then(() => true), Bun.sleep(WORKER_START_WAIT_MS).then(() => false)]);
      if (!loaded) logger.warn("analysis.worker_slow_start", { waitedMs: WORKER_START_WAIT_MS });
      if (model) {
        void ping();
        pinger = setInterval(() => void ping(), PING_INTERVAL_MS);
      }
      subscriber.start();
    },
    stop: async () => {
      if (pinger) clearInterval(pinger);
      await subscriber.stop();
      worker.stop();
    },
  };

  return {
    subscriber: lifecycle,
    alerts,
    healthy: () => subscriber.healthy() && worker.healthy && (model === null || modelReachable),
  };
}
