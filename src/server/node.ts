// Server assembly: storage, the domain, transports and subscribers built from the config, and one ordered
// shutdown. `main.ts` (the CLI) calls `startNode`; tests can start a node in-process the same way.
import type { Server } from "bun";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { AnalysisSetupError, checkTopicsFile, createAnalysis, type AnalysisDeps, type AnalysisParts } from "./analysis.ts";
import { createAssistant } from "./assistant.ts";
import { createIntegrations, createSharedArchive, createSharedWebhooks } from "../integrations/index.ts";
import { TokenBucketLimiter } from "../auth/index.ts";
import { buildAuthenticator } from "./auth.ts";
import { describeConfig, isLoopbackHost, type Config } from "../config/index.ts";
import type { Database } from "bun:sqlite";
import { closeDatabase, SqliteSessionStore } from "../db/index.ts";
import { startMaintenance } from "../db/maintenance.ts";
import type { Checkpointer } from "../db/checkpointer.ts";
import { PgAnalysisStore } from "../pg/analysis-store.ts";
import { PgAssistantStore } from "../pg/assistant-store.ts";
import { PgSessionStore } from "../pg/session-store.ts";
import { preparePgStorage } from "./pg-storage.ts";
import { then } from "../sessions/awaitable.ts";
import { EngineStartError, openEngines, type Engines } from "./engines.ts";
import { openSqlite, startExpirySweep, StorageSetupError, watchDatabase, type SqliteStorage } from "./storage.ts";
import { watchStorageFaults } from "../db/fault-watch.ts";
import { mountApi } from "../http/api.ts";
import { createApp } from "../http/app.ts";
import { createConsole } from "../http/console-setup.ts";
import type { HealthProbe } from "../http/health.ts";
import { corsFor } from "../http/cors.ts";
import { loadExamples, mountExamples, type Examples } from "../http/examples.ts";
import { createLogger, errorFields } from "../observability/logger.ts";
import { Metrics, mountMetrics } from "../observability/metrics.ts";
import { startEventLoopMonitor } from "../observability/event-loop.ts";
import { initSentry, noopReporter, type ErrorReporter } from "../observability/sentry.ts";
import { CloseCode } from "../protocol/errors.ts";
import { Admission } from "../realtime/admission.ts";
import { Fanout } from "../realtime/fanout.ts";
import { Hub } from "../realtime/hub.ts";
import { RoomFollowers } from "../realtime/room-followers.ts";
import { SseGateway } from "../realtime/sse-gateway.ts";
import { WebSocketGateway } from "../realtime/ws-gateway.ts";
import { DEFAULT_ASSISTANT, SessionEvents, SessionService, systemClock } from "../sessions/index.ts";
import { relayToBroker } from "../sessions/broker.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import { createPrivacy, createSharedPrivacy, keyRingFromConfig, PrivacySetupError, type StorageSetup } from "./privacy.ts";
import type { PrivacyService } from "../privacy/privacy-service.ts";
import type { SharedPrivacyService } from "../privacy/shared-privacy-service.ts";
import { principal } from "../sessions/access.ts";
import { archiveCandidates } from "../integrations/archive-files.ts";

/** Headroom of the hard ceilings behind the server's own limits (request bodies, queued frames), in bytes. */
const CEILING_HEADROOM_BYTES = 64 * 1024 * 1024;

/** A start-up problem a person can fix; printed as one line, never a stack trace. */
export class StartupError extends Error {}

/** Reads a session's description for exports on PostgreSQL (an admin's view). */
const PRIVACY_READER = principal("sessiond:privacy", { role: "admin" });

export interface RunningNode {
  port: number;
  /** Stops in order: intake, pending commits and their acks, subscribers, sockets, storage. */
  shutdown(signal: string): Promise<void>;
}

export interface NodeOptions {
  version: string;
  /** How a person runs the CLI here (`sessiond` or `bun src/main.ts`), for hints in the log. */
  command?: string;
}

export async function startNode(config: Config, { version, command = "sessiond" }: NodeOptions): Promise<RunningNode> {
  if (config.AUTH_MODE === "none" && !isLoopbackHost(config.HOST) && !config.ALLOW_INSECURE_DEV) {
    throw new StartupError(
      `config: AUTH_MODE=none with HOST=${config.HOST} would let anyone who can reach this machine act as any user: listen on 127.0.0.1 (HOST=127.0.0.1), or set ALLOW_INSECURE_DEV=true if you really mean it`,
    );
  }
  const logger = createLogger(config.LOG_LEVEL);
  const reporter: ErrorReporter = config.SENTRY_DSN ? initSentry(config.SENTRY_DSN, config.SENTRY_ENVIRONMENT, version) : noopReporter;
  const startedAt = Date.now();
  let ready = false;
  // Requests that arrive while the subscribers start are held until the server is ready, never answered half-built.
  const started = Promise.withResolvers<void>();

  let examples: Examples | null = null;
  if (config.DEV_EXAMPLES) {
    // Located from the source tree, which the compiled binary does not carry.
    const root = join(import.meta.dir, "..", "..");
    const clientEntry = join(root, "src", "client", "index.ts");
    if (!existsSync(clientEntry) || !existsSync(join(root, "examples"))) {
      throw new StartupError("config: DEV_EXAMPLES=true needs the source checkout (run `bun run dev` there); the compiled binary does not carry the examples");
    }
    examples = await loadExamples(join(root, "examples"), clientEntry);
    logger.warn("dev.examples", { warning: "DEV_EXAMPLES=true: serving the example pages at /examples/. Development only." });
  }

  // Settings read from files (the key, the topics) are checked before anything is written: a bad one leaves
  // DATA_DIR as it was.
  try {
    keyRingFromConfig(config);
    checkTopicsFile(config);
  } catch (e) {
    if (e instanceof PrivacySetupError || e instanceof AnalysisSetupError) throw new StartupError(e.message);
    throw e;
  }

  let recheckAfterNodeLoss = () => {};
  let sharedPrivacy: SharedPrivacyService | null = null;
  // Engines: PostgreSQL (DATABASE_URL) and Redis (REDIS_URL) when set, checked and migrated before anything else.
  let engines: Engines;
  try {
    engines = await openEngines(config, {
      onProblem: (engine, what, error) => logger.warn("engine.problem", { engine, what, ...errorFields(error) }),
      // Read only once running (after `service` below exists): a dead node's users leave, lost entries come back.
      onPresenceLeft: (sessionId, userId) => {
        service.presenceLeft(sessionId, userId);
        // A node died: a message it committed but had not yet published would otherwise wait for the session's next.
        recheckAfterNodeLoss();
      },
      onPresenceRejoined: (sessionId, userId) => service.presenceRejoined(sessionId, userId),
    });
  } catch (e) {
    if (e instanceof EngineStartError) throw new StartupError(e.message);
    throw e;
  }
  const pg = engines.postgres;
  if (pg) logger.info("db.postgres", { url: pg.shownUrl, serverVersion: pg.serverVersion, migrationsApplied: pg.migrationsApplied });
  if (engines.redis) logger.info("broker.redis", { url: engines.redis.shownUrl, node: engines.nodeId });

  // Storage: SQLite in DATA_DIR unless DATABASE_URL is set.
  let sqlite: Database | null = null;
  let checkpointer: Checkpointer | null = null;
  let storage: StorageSetup;
  if (pg) {
    try {
      storage = await preparePgStorage(config, pg, logger);
    } catch (e) {
      await engines.close();
      if (e instanceof PrivacySetupError) throw new StartupError(e.message);
      throw e;
    }
  } else {
    let local: SqliteStorage;
    try {
      local = openSqlite(config, logger);
    } catch (e) {
      await engines.close();
      if (e instanceof StorageSetupError) throw new StartupError(e.message);
      throw e;
    }
    ({ sqlite, storage, checkpointer } = local);
  }

  const authenticator = buildAuthenticator(config, logger, command);
  const metrics = new Metrics();
  // METRICS_ENABLED=false leaves out what metrics cost per frame, message and commit (and the stall monitor's timer).
  const counting = config.METRICS_ENABLED;
  const eventLoop = counting ? startEventLoopMonitor(metrics) : { maxMs: 0, maxBlockedMs: 0, stop: () => {} };
  const storageFaults = watchStorageFaults({ logger, metrics });
  const events = new SessionEvents((e, name) => {
    logger.error("internal.error", { where: `event:${name}`, ...errorFields(e) });
    reporter.capture(e, { where: `event:${name}`, code: "internal" });
  });
  // Webhooks and archive files: their rows are written inside the stores' transactions (see CommitHooks).
  const integrations = sqlite ? createIntegrations({ config, sqlite, logger, metrics, version, cipher: storage.cipher }) : null;
  // On PostgreSQL: archive files (the end inserts the job; every node's archiver claims due ones).
  const sharedArchive = pg ? createSharedArchive({ config, sql: pg.sql, nodeId: engines.broker.nodeId, logger, metrics }) : null;
  // On PostgreSQL: webhooks (the stores record events in their transactions; one node sends at a time).
  const sharedWebhooks = pg ? createSharedWebhooks({ config, sql: pg.sql, logger, metrics, version, cipher: storage.cipher }) : null;
  const onCallbackError = (e: unknown) => {
    logger.error("internal.error", { where: "commit.callback", ...errorFields(e) });
    reporter.capture(e, { where: "commit.callback", code: "internal" });
  };
  const onCommit = counting ? (size: number, seconds: number) => metrics.observeCommit(size, seconds) : undefined;
  const commitOptions = { maxBatch: config.GROUP_COMMIT_MAX_BATCH, maxDelayMs: config.GROUP_COMMIT_MAX_DELAY_MS, retryDeadlineMs: config.DB_RETRY_MS, onCommit, onCallbackError };
  const sqliteStore = sqlite
    ? new SqliteSessionStore(sqlite, { ...commitOptions, hooks: integrations!.hooks, cipher: storage.cipher, faults: storageFaults.monitor })
    : null;
  const store: SqliteSessionStore | PgSessionStore = sqliteStore ?? new PgSessionStore(pg!.sql, { ...commitOptions, cipher: storage.cipher, archiveJobs: sharedArchive !== null, outbox: sharedWebhooks?.recorder });
  if (sqliteStore) storageFaults.attach(() => sqliteStore.probeWrite());
  // PostgreSQL is asked in the background (a probe per second): /health reads the last answer at once.
  const pgHealth = pg ? watchDatabase(() => (store as PgSessionStore).probe(), 1000) : null;

  // The domain.
  const messageLimiter = new TokenBucketLimiter({
    capacity: config.RATE_LIMIT_MESSAGES_PER_MINUTE,
    refillMs: config.RATE_LIMIT_WINDOW_SECONDS * 1000,
  });
  const service = new SessionService({
    store,
    events,
    clock: systemClock,
    // With Redis, one budget per user across every node.
    limiter: engines.redis?.limiter ?? messageLimiter,
    presence: engines.redis?.presence,
    newMessageId: () => Bun.randomUUIDv7(),
    // Read at join time, once `privacy` below exists: an erased id is never opened again.
    wasErased: (id) => privacy.privacy.wasErased(id),
    rules: {
      expiryMs: config.SESSION_EXPIRY_SECONDS * 1000,
      windowSize: config.MAX_MESSAGES_PER_SESSION,
      cacheMaxSessions: config.SESSION_CACHE_MAX_SESSIONS,
      maxRecoveryMessages: config.MAX_RECOVERY_MESSAGES,
      maxRecoveryBytes: config.MAX_RECOVERY_BYTES,
      maxMessageBytes: config.MAX_MESSAGE_BYTES,
      createOnJoin: config.SESSION_CREATE === "join",
      assistantAvailable: config.AI_BASE_URL !== undefined,
      defaults: {
        analysis: { enabled: config.ANALYSIS_DEFAULT === "on", share: "staff" },
        assistant: DEFAULT_ASSISTANT,
        endOnDisconnect:
          config.END_ON_DISCONNECT_GRACE_SECONDS === undefined
            ? { enabled: false, graceSeconds: 30 }
            : { enabled: true, graceSeconds: config.END_ON_DISCONNECT_GRACE_SECONDS },
      },
      roomAccess: config.ROOM_ACCESS_DEFAULT,
      epoch: storage.epoch,
    },
    onTimerError: (e, sessionId) => {
      logger.error("internal.error", { where: "end_on_disconnect", session: sessionId, ...errorFields(e) });
      reporter.capture(e, { where: "end_on_disconnect", sessionId, code: "internal" });
    },
  });

  // Transports.
  const hub = new Hub();
  let server: Server<unknown> | null = null;
  const rooms = new RoomFollowers({ maxRoomsPerConnection: config.MAX_SESSIONS_PER_CONNECTION });
  rooms.listen(events);
  const fanout = new Fanout(hub, service, {
    nodeId: engines.broker.nodeId,
    slowConsumerBytes: config.SLOW_CONSUMER_BYTES,
    publish: (topic, frame) => server?.publish(topic, frame) ?? 0,
    fill: (id, after, limit) => store.messagesAfter(id, after, limit),
    onFillError: (e, sessionId) => logger.warn("fanout.fill_failed", { session: sessionId, ...errorFields(e) }),
    onSlowConsumer: (conn) => {
      metrics.slowConsumers.inc();
      logger.warn("connection.slow_consumer", { conn: conn.id, user: conn.principal.userId, transport: conn.transport });
    },
    // Everyone in a room's session when it ends follows the room to its next session.
    onSessionEnded: (session, subscribers) => {
      if (session.room !== undefined) for (const conn of subscribers) rooms.follow(conn, session.room, session.id);
    },
  });
  let recheckTimer: ReturnType<typeof setTimeout> | null = null;
  recheckAfterNodeLoss = () => {
    recheckTimer ??= setTimeout(() => {
      recheckTimer = null;
      fanout.resubscribed();
    }, 100);
  };
  // Every node, this one included, hears what is published through the same handler (one node: in-process).
  const broker = engines.broker;
  relayToBroker(events, broker);
  if (sqlite) await broker.start(fanout);
  else {
    // Another node's erasure: this node never opens that id again either (those before `load` below are read there).
    await broker.start({
      deliver: (event, origin) => {
        if (event.type === "session" && event.change === "erased" && origin !== broker.nodeId) sharedPrivacy?.noteErased(event.sessionId);
        fanout.deliver(event, origin);
      },
      resubscribed: () => fanout.resubscribed(),
    });
  }
  // After the broker: its first heartbeat may already report users who left or came back.
  await engines.redis?.presence.start();
  metrics.listen(events, service, hub, messageLimiter, { perMessage: counting });
  const recountActive = () => then(store.activeSessionIds(), (ids) => metrics.setActiveSessions(ids.length));
  await recountActive();
  events.on("session.ended", ({ session, status }) =>
    logger.info("session.ended", { session: session.id, status, messages: session.metrics.messageCount, participants: session.metrics.participantCount, durationMs: session.metrics.durationMs }),
  );
  events.on("session.started", ({ session }) => logger.info("session.started", { session: session.id, mode: session.mode }));

  const connectionErrors = metrics.counter(
    "sessiond_connection_errors_total",
    "WebSocket and SSE connections that failed or were refused, by reason: the refusal's code (unauthorized, forbidden, rate_limited, limit_exceeded, bad_request, not_found), upgrade_failed, or internal.",
  );
  const admission = new Admission(
    hub,
    new TokenBucketLimiter({ capacity: config.RATE_LIMIT_CONNECTIONS_PER_MINUTE, refillMs: 60_000 }),
    {
      allowedOrigins: config.ALLOWED_ORIGINS,
      maxConnections: config.MAX_CONNECTIONS,
      maxConnectionsPerUser: config.MAX_CONNECTIONS_PER_USER,
      trustedProxies: config.TRUSTED_PROXIES,
    },
  );
  const gateway = new WebSocketGateway({
    service,
    hub,
    fanout,
    authenticator,
    admission,
    logger,
    reporter,
    clock: systemClock,
    rooms,
    options: {
      maxSessionsPerConnection: config.MAX_SESSIONS_PER_CONNECTION,
      heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_SECONDS * 1000,
      heartbeatTimeoutMs: config.HEARTBEAT_TIMEOUT_SECONDS * 1000,
      slowConsumerBytes: config.SLOW_CONSUMER_BYTES,
    },
    onFrame: counting ? frameCounter(metrics) : undefined,
    onRefused: (code) => metrics.connectionRefusals.inc({ code }),
    onConnectionError: (reason) => connectionErrors.inc({ reason }),
    onErrorSent: (code) => metrics.errors.inc({ code }),
  });
  const sse = new SseGateway({
    service,
    hub,
    fanout,
    authenticator,
    admission,
    logger,
    clock: systemClock,
    heartbeatMs: config.SSE_HEARTBEAT_SECONDS * 1000,
    slowConsumerBytes: config.SLOW_CONSUMER_BYTES,
    onRefused: (code) => connectionErrors.inc({ reason: code }),
    rooms,
  });

  // Subscribers: work off the hot path, started in this order and stopped in reverse.
  const subscribers: Subscriber[] = [];
  const healthChecks: Record<string, () => boolean> = {};
  // The Redis link: without it messages still commit, and other nodes' subscribers get them by the gap fill later.
  if (engines.redis) healthChecks.broker = () => broker.healthy();
  const onIntegrationError = (e: unknown, where: string) => {
    logger.error("internal.error", { where, ...errorFields(e) });
    reporter.capture(e, { where, code: "internal" });
  };
  const attached =
    integrations?.attach({
      service,
      events,
      // Read only once running (after `analysis` below exists): the archive's summary counts alerts as a staff export does.
      alertCount: (sessionId) => analysis.alerts.count(sessionId),
      onError: onIntegrationError,
    }) ?? sharedWebhooks?.attach({ events, onError: onIntegrationError });
  if (attached) {
    subscribers.push(...attached.subscribers);
    Object.assign(healthChecks, attached.healthChecks);
  }
  const archive = sharedArchive?.attach({ service, events, alertCount: (sessionId) => analysis.alerts.count(sessionId) });
  if (archive) {
    subscribers.push(...archive.subscribers);
    Object.assign(healthChecks, archive.healthChecks);
  }
  const analysisStorage = sqlite ? { sqlite, hooks: integrations?.hooks, cipher: storage.cipher } : { store: new PgAnalysisStore(pg!.sql, storage.cipher, sharedWebhooks?.recorder) };
  const analysis = buildAnalysis({ ...analysisStorage, config, events, service, metrics, logger, reporter, faults: storageFaults.monitor });
  subscribers.push(analysis.subscriber);
  healthChecks.analysis = analysis.healthy;
  if (config.AI_BASE_URL) {
    const streams = sqlite ? { sqlite, cipher: storage.cipher } : { store: new PgAssistantStore(pg!.sql, { cipher: storage.cipher }) };
    const assistant = createAssistant({ config, baseURL: config.AI_BASE_URL, ...streams, service, events, metrics, logger, reporter });
    subscribers.push(assistant.subscriber);
    healthChecks.ai = assistant.healthy;
  }

  // Erasure, export, retention and the audit trail.
  const disconnectUser = (userId: string) => {
    let n = 0;
    for (const conn of [...hub.all()]) {
      if (conn.principal.userId !== userId) continue;
      conn.link.close(CloseCode.forbidden, "user erased");
      n++;
    }
    return n;
  };
  const onAuditError = (e: unknown) => reporter.capture(e, { where: "audit", code: "internal" });
  const privacy = sqlite
    ? createPrivacy({ config, sqlite, storage, service, events, logger, messagesAfter: (id, after, limit) => sqliteStore!.messagesAfter(id, after, limit), archiveCandidates, disconnectUser, onAuditError })
    : createSharedPrivacy({
        config,
        sql: pg!.sql,
        storage,
        service,
        events,
        logger,
        messagesAfter: (id, after, limit) => store.messagesAfter(id, after, limit),
        sessionInfo: async (id) => {
          try {
            return await service.run(() => service.get(PRIVACY_READER, id));
          } catch {
            return null;
          }
        },
        archiveCandidates,
        disconnectUser,
        onAuditError,
      });
  // Ids erased earlier, by any node, are never opened again.
  if (!sqlite) {
    sharedPrivacy = privacy.privacy as SharedPrivacyService;
    await sharedPrivacy.load();
  }
  subscribers.push(privacy.subscriber);
  // An erased session never ends; the gauge is recounted instead (erasures are rare).
  events.on("session.erased", () => void recountActive());

  const health: HealthProbe = {
    ready: () => ready,
    // Unhealthy from the first write refused for a storage fault until a write succeeds again: during a fault each
    // check tries one tiny write, so a node recovers as soon as the disk has room or the lock is gone.
    database: pgHealth ? () => pgHealth.healthy : () => sqliteStore!.probe() && (!storageFaults.monitor.faulted || sqliteStore!.probeWrite()),
    checks: () => Object.fromEntries(Object.entries(healthChecks).map(([name, check]) => [name, check()])),
    connections: () => hub.size,
    activeSessions: () => metrics.activeSessions(),
    startedAt,
    details: () => ({ encryption: privacy.details.encryption, ...(pg && { database: pg.shownUrl }) }),
  };
  const operatorConsole = config.CONSOLE_ENABLED
    ? createConsole({ events, service, metrics, hub, health, logger, authMode: config.AUTH_MODE, sampleIntervalMs: config.STATS_SAMPLE_SECONDS * 1000, webhooks: attached?.webhooks })
    : null;
  if (operatorConsole) subscribers.push(operatorConsole.subscriber);

  const app = createApp({
    health,
    logger,
    reporter,
    onErrorSent: (code) => metrics.errors.inc({ code }),
    mount: (app) => {
      // First, so preflights are answered before any route's authentication runs.
      app.use("*", corsFor(config.ALLOWED_ORIGINS));
      mountMetrics(app, metrics, config.METRICS_TOKEN);
      if (examples) mountExamples(app, examples);
      operatorConsole?.mount(app);
      mountApi(app, {
        service,
        authenticator,
        sse,
        maxMessageBytes: config.MAX_MESSAGE_BYTES,
        onMessageReceived: () => metrics.messagesReceived.inc({ transport: "http" }),
        onStreamRefused: (code) => connectionErrors.inc({ reason: code }),
        console: operatorConsole?.api,
        alerts: analysis.alerts,
        privacy: privacy.routes,
        admin: {
          hub,
          webhooks: attached?.webhooks,
          reset: async () => {
            const ended = await service.endAll("cancelled");
            const closed = gateway.closeAll(CloseCode.adminReset, "reset by an administrator") + sse.closeAll();
            logger.warn("admin.reset", { endedSessions: ended, closedConnections: closed });
            return { endedSessions: ended, closedConnections: closed };
          },
        },
      });
    },
  });

  const handle = (req: Request, srv: Server<unknown>) => {
    const path = pathOf(req.url);
    if (path === "/ws") return gateway.upgrade(req, srv as never);
    return app.fetch(req, { server: srv, requestIP: { address: admission.clientAddress(req, srv) } });
  };
  server = Bun.serve({
    port: config.PORT,
    hostname: config.HOST,
    // The API's own limit (MAX_MESSAGE_BYTES + 32 KiB, read from Content-Length or counted while streaming) answers
    // with the JSON error; Bun's bare 413 is only the ceiling far behind it, for bodies nothing should send.
    maxRequestBodySize: config.MAX_MESSAGE_BYTES + CEILING_HEADROOM_BYTES,
    fetch(req, srv) {
      if (!ready) return started.promise.then(() => handle(req, srv));
      return handle(req, srv);
    },
    websocket: {
      ...gateway.websocket,
      // Frames far over the message limit are closed with 1009 before they are buffered whole.
      maxPayloadLength: config.MAX_MESSAGE_BYTES + 32 * 1024,
      // The gateway closes slow consumers with 4002 at SLOW_CONSUMER_BYTES (not counting the replies to the client's own
      // joins, up to MAX_RECOVERY_BYTES each); this is the hard ceiling far behind it, so that the 4002 always goes
      // out first and a client reading several large join replies at once is never cut (Bun closes with 1006).
      backpressureLimit: config.SLOW_CONSUMER_BYTES * 2 + config.MAX_RECOVERY_BYTES * 8 + CEILING_HEADROOM_BYTES,
      closeOnBackpressureLimit: true,
      idleTimeout: Math.min(960, config.HEARTBEAT_TIMEOUT_SECONDS + config.HEARTBEAT_INTERVAL_SECONDS),
      sendPings: false,
      perMessageDeflate: false,
    },
    error(e) {
      logger.error("internal.error", { where: "serve", ...errorFields(e) });
      reporter.capture(e, { where: "serve", code: "internal" });
      return Response.json({ error: { code: "internal", message: "An internal error occurred." } }, { status: 500 });
    },
  }) as Server<unknown>;
  gateway.startHeartbeats();
  sse.start();
  for (const s of subscribers) await s.start();
  const sweepIntervalMs = config.SESSION_SWEEP_INTERVAL_SECONDS * 1000;
  const maintenance = sqlite
    ? startMaintenance({
        service,
        sqlite,
        logger,
        reporter,
        sweepIntervalMs,
        retention: () => (privacy.privacy as PrivacyService).applyRetention(),
        isIdle: () => hub.size === 0,
        checkpointer: checkpointer ?? undefined,
      })
    : startExpirySweep({ service, logger, reporter, sweepIntervalMs, retention: () => (privacy.privacy as SharedPrivacyService).applyRetention() });
  ready = true;
  started.resolve();
  logger.info("server.started", { version, ...describeConfig(config), encryption: storage.mode, port: server.port });

  let stopping: Promise<void> | null = null;
  const shutdown = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      ready = false;
      logger.info("server.stopping", { signal, connections: hub.size });
      // No new connections, no new messages (refused with `unavailable`: sent again after the reconnect), no more
      // timers that start work.
      server!.stop(false);
      gateway.drain();
      // The sockets closed below were not left by their people: their sessions must not end on disconnect.
      service.suspendEndOnDisconnect();
      maintenance.stop();
      gateway.stop();
      if (config.ARCHIVE_ON_SHUTDOWN) {
        try {
          const ended = await service.endAll("completed");
          logger.info("sessions.archived_on_shutdown", { ended });
        } catch (e) {
          logger.warn("sessions.archive_on_shutdown_failed", errorFields(e));
        }
      }
      // Pending appends commit (or fail: a full disk, a lock held past DB_RETRY_MS); the callbacks that send their
      // acks and fan-out run before anything closes.
      const settle = async () => {
        try {
          await service.flush();
        } catch (e) {
          // Activity times not written (a storage fault): they are only a hint for expiry.
          logger.warn("server.flush_failed", errorFields(e));
        }
        await (sqliteStore ? sqliteStore.idle() : store.flush());
        await Bun.sleep(0);
      };
      await settle();
      for (const s of [...subscribers].reverse()) {
        try {
          await s.stop();
        } catch (e) {
          logger.error("subscriber.stop_failed", { subscriber: s.name, ...errorFields(e) });
        }
      }
      await settle();
      // Every ack and fan-out frame handed to the kernel before the 1001 close frame goes behind them.
      gateway.quiesce();
      await gateway.flushed(2000);
      gateway.closeAll(CloseCode.goingAway, "server restarting");
      sse.closeAll();
      await gateway.flushed(1000);
      await Bun.sleep(50);
      await server!.stop(true);
      // Presence (its leaves go out), the broker, Redis, the PostgreSQL pool; the in-process broker for SQLite.
      await engines.close();
      if (recheckTimer) clearTimeout(recheckTimer);
      pgHealth?.stop();
      storageFaults.stop();
      eventLoop.stop();
      await checkpointer?.stop();
      const closeFailure = sqlite ? closeDatabase(sqlite) : null;
      if (closeFailure) {
        // Nothing is lost: the WAL keeps every commit and is replayed on the next start.
        logger.warn("db.close_checkpoint_failed", { ...errorFields(closeFailure), hint: "the WAL is intact and is replayed on the next start" });
      }
      await reporter.close(2000);
      logger.info("server.stopped", { signal });
    })();
    return stopping;
  };

  return { port: server.port!, shutdown };
}

/** Analysis and alerts; a bad analysis setting is a start-up error (one line, exit 1). */
function buildAnalysis(deps: AnalysisDeps): AnalysisParts {
  try {
    return createAnalysis(deps);
  } catch (e) {
    if (e instanceof AnalysisSetupError) throw new StartupError(e.message);
    throw e;
  }
}

/** Counts a received frame by type (and a message as received over WebSocket), label keys rendered once. */
function frameCounter(metrics: Metrics): (type: string) => void {
  const byType = new Map<string, { inc(): void }>();
  const messages = metrics.messagesReceived.labelled({ transport: "ws" });
  return (type) => {
    let counter = byType.get(type);
    if (counter === undefined) byType.set(type, (counter = metrics.framesReceived.labelled({ type })));
    counter.inc();
    if (type === "message") messages.inc();
  };
}

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}
