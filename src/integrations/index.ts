// Integrations that leave the process — lifecycle webhooks and transcript archive files — built from the config.
// Two phases: `hooks` go to the stores (they write outbox rows and archive jobs inside the stores' transactions);
// `attach` then adds what needs the domain: the sender and archiver subscribers, a health check, the admin view.
// On PostgreSQL (`createSharedWebhooks`, `createSharedArchive`) the stores write outbox rows through a per-transaction
// recorder, and PgSessionStore inserts archive jobs itself.
import type { Database } from "bun:sqlite";
import type { SQL } from "bun";
import { resolve } from "node:path";
import type { Config } from "../config/index.ts";
import { SqliteArchiveStore, type ArchiveJobStore } from "../db/archive-store.ts";
import { combineHooks, type CommitHooks, type TransactionRecorder } from "../db/commit-hooks.ts";
import { SqliteOutboxStore, type OutboxStore } from "../db/outbox-store.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { principal } from "../sessions/access.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import { PgArchiveStore } from "../pg/archive-store.ts";
import { PgOutboxStore } from "../pg/outbox-store.ts";
import { PgSenderLease } from "../pg/sender-lease.ts";
import type { Awaitable } from "../sessions/awaitable.ts";
import { Archiver } from "./archiver.ts";
import { WebhookAdmin } from "./webhook-admin.ts";
import { webhookEndpoints } from "./webhook-endpoints.ts";
import type { OutboxEvent } from "./webhook-events.ts";
import { OutboxWriter } from "./webhook-outbox.ts";
import { WebhookSender, type SenderLease } from "./webhook-sender.ts";
import { webhookKey } from "./webhook-signing.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";

export interface IntegrationsDeps {
  config: Config;
  sqlite: Database;
  logger: Logger;
  metrics: Metrics;
  version: string;
  /** Seals webhook event bodies at rest (ENCRYPTION_KEY); plaintext when absent. */
  cipher?: FieldCipher;
}

export interface AttachedIntegrations {
  /** Started after listen, stopped in reverse at shutdown (the archiver writes what shutdown ended first). */
  subscribers: Subscriber[];
  /** `archive`: false while an archive file cannot be written. */
  healthChecks: Record<string, () => boolean>;
  /** The admin API's view of webhooks (works, read-only, when webhooks are off). */
  webhooks: WebhookAdmin;
}

export interface Integrations {
  /** For every store that commits a reported change: SqliteSessionStore, and the analysis store (alerts). */
  hooks: CommitHooks;
  attach(deps: {
    service: SessionService;
    events: SessionEvents;
    /** Alerts raised in a session, for the archive's summary (as a staff export shows it). */
    alertCount?: (sessionId: string) => number | PromiseLike<number>;
    onError: (e: unknown, where: string) => void;
  }): AttachedIntegrations;
}

/** The reader archives are written as: staff, so the analysis is included as in a staff export. */
const ARCHIVE_READER = principal("sessiond:archive", { role: "admin" });

interface WebhookParts {
  endpoints: ReturnType<typeof webhookEndpoints>;
  /** Null when webhooks are off (no WEBHOOK_URLS, or no WEBHOOK_SECRET). */
  sender: WebhookSender | null;
  writer: OutboxWriter | null;
}

/** The sender and the outbox writer over `store`, and their metrics; `lease` where several nodes share the outbox. */
function buildWebhooks(
  store: OutboxStore & Partial<Pick<SqliteOutboxStore, "insertEvent">>,
  { config, logger, metrics, version }: Pick<IntegrationsDeps, "config" | "logger" | "metrics" | "version">,
  queueDepth: (sender: WebhookSender) => number,
  lease?: SenderLease,
): WebhookParts {
  const endpoints = webhookEndpoints(config.WEBHOOK_URLS ?? []);
  const deliveries = metrics.counter(
    "sessiond_webhook_deliveries_total",
    "Webhook delivery attempts by event type and outcome: delivered, failed (a retry is scheduled) or dead (given up: past WEBHOOK_MAX_AGE_SECONDS, or the endpoint answered 410).",
  );
  const latency = metrics.histogram("sessiond_webhook_delivery_seconds", "Time of one webhook request, from sending to the response status.", [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  ]);
  let sender: WebhookSender | null = null;
  let writer: OutboxWriter | null = null;
  if (endpoints.length > 0 && config.WEBHOOK_SECRET) {
    const key = webhookKey(config.WEBHOOK_SECRET);
    if (key.length < 24) logger.warn("webhook.weak_secret", { keyBytes: key.length, hint: "Use a key of 24 to 64 random bytes: echo whsec_$(openssl rand -base64 32)" });
    const s = new WebhookSender({
      store,
      lease,
      endpoints,
      key,
      retry: { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxAgeMs: config.WEBHOOK_MAX_AGE_SECONDS * 1000 },
      timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
      logger,
      metrics: { deliveries, latency },
      userAgent: `sessiond/${version}`,
    });
    sender = s;
    writer = new OutboxWriter({
      store,
      events: new Set(config.WEBHOOK_EVENTS),
      includeContent: config.WEBHOOK_INCLUDE_CONTENT,
      onRecorded: () => s.wake(),
    });
  }
  metrics.gauge("sessiond_webhook_queue_depth", "Webhook deliveries waiting to be delivered (pending or failed and due for a retry).", () =>
    sender ? queueDepth(sender) : 0,
  );
  return { endpoints, sender, writer };
}

export function createIntegrations({ config, sqlite, logger, metrics, version, cipher }: IntegrationsDeps): Integrations {
  const outboxStore = new SqliteOutboxStore(sqlite, cipher);
  const { endpoints, sender, writer } = buildWebhooks(outboxStore, { config, logger, metrics, version }, (s) => outboxStore.queueDepth(s.activeEndpointIds()));

  const archiveStore = config.ARCHIVE_DIR ? new SqliteArchiveStore(sqlite) : null;
  let archiver: Archiver | null = null;
  const hookList: CommitHooks[] = [];
  if (writer) hookList.push(writer.hooks());
  if (archiveStore) {
    hookList.push({
      sessionEnded: (record) => {
        archiveStore.enqueue(record.id, Date.now());
        archiver?.kick();
      },
    });
  }

  return {
    hooks: combineHooks(hookList),
    attach({ service, events, alertCount, onError }) {
      const subscribers: Subscriber[] = [];
      const healthChecks: Record<string, () => boolean> = {};
      if (writer && sender) {
        writer.listen(events, (e) => onError(e, "webhook.participant_left"));
        subscribers.push(sender);
      }
      if (archiveStore && config.ARCHIVE_DIR) {
        const a = buildArchiver({ config, archiveDir: config.ARCHIVE_DIR, store: archiveStore, service, alertCount, logger, metrics, pending: () => archiveStore.pendingCount() });
        archiver = a;
        subscribers.push(a);
        healthChecks.archive = () => a.healthy();
      }
      return { subscribers, healthChecks, webhooks: new WebhookAdmin(outboxStore, endpoints, sender) };
    },
  };
}

export interface SharedWebhooksDeps extends Omit<IntegrationsDeps, "sqlite"> {
  /** The pool of the PostgreSQL database every node shares. */
  sql: SQL;
}

/** How often the sending node looks at the query for the gauge of waiting deliveries (read synchronously), in ms. */
const SHARED_QUEUE_DEPTH_MS = 5000;

/**
 * Webhooks on PostgreSQL: the stores record events through `recorder` inside their transactions (with one
 * delivery per endpoint each, see PgOutboxStore), and one node at a time sends (an advisory-lock lease); the
 * others take over when it goes. `recorder` is absent when webhooks are off.
 */
export function createSharedWebhooks({ config, sql, logger, metrics, version, cipher }: SharedWebhooksDeps): {
  recorder?: TransactionRecorder<SQL>;
  attach(deps: { events: SessionEvents; onError: (e: unknown, where: string) => void }): AttachedIntegrations;
} {
  const endpointIds = webhookEndpoints(config.WEBHOOK_URLS ?? []).map((e) => e.id);
  const store = new PgOutboxStore(sql, endpointIds, cipher);
  let depth = 0;
  let depthAt = 0;
  const { endpoints, sender, writer } = buildWebhooks(store, { config, logger, metrics, version }, (s) => {
    // The gauge cannot wait for the database: the count last read, refreshed in the background.
    const now = Date.now();
    if (now - depthAt >= SHARED_QUEUE_DEPTH_MS) {
      depthAt = now;
      void Promise.resolve(store.queueDepth(s.activeEndpointIds())).then((n) => (depth = n), () => {});
    }
    return depth;
  }, new PgSenderLease(sql));
  const recorder: TransactionRecorder<SQL> | undefined = writer
    ? {
        begin() {
          const events: OutboxEvent[] = [];
          return {
            hooks: writer.hooksInto((e) => events.push(e)),
            async flush(tx) {
              if (events.length === 0) return;
              await store.insertEvents(tx, events.map((e) => {
                const stamped = writer.stamp(e);
                return { id: stamped.id, type: e.type, sessionId: e.sessionId, payload: e.body, createdAt: stamped.createdAt };
              }));
              sender?.wake();
            },
          };
        },
      }
    : undefined;
  return {
    recorder,
    attach({ events, onError }) {
      if (!writer || !sender) return { subscribers: [], healthChecks: {}, webhooks: new WebhookAdmin(store, endpoints, null) };
      writer.listen(events, (e) => onError(e, "webhook.participant_left"));
      return { subscribers: [sender], healthChecks: {}, webhooks: new WebhookAdmin(store, endpoints, sender) };
    },
  };
}

export interface SharedArchiveDeps {
  config: Config;
  /** The pool of the PostgreSQL database every node shares. */
  sql: SQL;
  /** This node's id (its claims on archive jobs). */
  nodeId: string;
  logger: Logger;
  metrics: Metrics;
}

/** How often a node looks for archive jobs other nodes recorded or left behind (a lapsed lease), in ms. */
const SHARED_ARCHIVE_POLL_MS = 2000;

/**
 * Archive files on PostgreSQL: null without ARCHIVE_DIR. The jobs are inserted by PgSessionStore's end (give it
 * `archiveJobs: true`); every node's archiver claims due ones, so ARCHIVE_DIR must be one folder the nodes share.
 */
export function createSharedArchive({ config, sql, nodeId, logger, metrics }: SharedArchiveDeps): {
  attach(deps: Pick<Parameters<Integrations["attach"]>[0], "service" | "events" | "alertCount">): Pick<AttachedIntegrations, "subscribers" | "healthChecks">;
} | null {
  const archiveDir = config.ARCHIVE_DIR;
  if (!archiveDir) return null;
  const store = new PgArchiveStore(sql, { nodeId });
  return {
    attach({ service, events, alertCount }) {
      // The gauge answers synchronously: the count the archiver read at its last run (one every poll at least).
      const archiver: Archiver = buildArchiver({ config, archiveDir, store, service, alertCount, logger, metrics, pending: () => archiver.pendingCount(), pollMs: SHARED_ARCHIVE_POLL_MS });
      // The end that wrote the job has committed by the time this node emits it; other nodes find it by polling.
      events.on("session.ended", () => archiver.kick());
      return { subscribers: [archiver], healthChecks: { archive: () => archiver.healthy() } };
    },
  };
}

interface ArchiverDeps {
  config: Config;
  archiveDir: string;
  store: ArchiveJobStore & { unanalysedUserMessages(sessionId: string): Awaitable<number> };
  service: SessionService;
  alertCount?: (sessionId: string) => number | PromiseLike<number>;
  logger: Logger;
  metrics: Metrics;
  pending: () => number;
  pollMs?: number;
}

function buildArchiver({ config, archiveDir, store, service, alertCount, logger, metrics, pending, pollMs }: ArchiverDeps): Archiver {
  const written = metrics.counter("sessiond_archive_written_total", "Transcript archive files written, by format.");
  const failures = metrics.counter("sessiond_archive_failures_total", "Failed attempts to write a transcript archive file, by error code.");
  metrics.gauge("sessiond_archive_pending", "Ended sessions whose archive file is not written yet.", pending);
  return new Archiver({
    store,
    root: resolve(archiveDir),
    format: config.ARCHIVE_FORMAT,
    read: async (id) => {
      try {
        const { session, pages } = await service.run(() => service.transcript(ARCHIVE_READER, id));
        return { session, pages, summary: alertCount ? { alerts: await alertCount(id) } : {} };
      } catch (e) {
        if ((e as { code?: unknown }).code === "not_found") return null;
        throw e;
      }
    },
    analysisPending: async (id) => {
      try {
        const info = await service.run(() => service.get(ARCHIVE_READER, id));
        return info.analysis.enabled && (await store.unanalysedUserMessages(id)) > 0;
      } catch {
        return false;
      }
    },
    logger,
    metrics: { written, failures },
    pollMs,
  });
}
