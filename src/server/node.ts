// Server assembly: storage, the domain, transports and subscribers built from the config, and one ordered
// shutdown. `main.ts` (the CLI) calls `startNode`; tests can start a node in-process the same way.
import type { Server } from "bun";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Authenticator, TokenBucketLimiter, TokenVerifier, ensureStoredSecret } from "../auth/index.ts";
import { describeConfig, type Config } from "../config/index.ts";
import { closeDatabase, databasePath, migrate, openDatabase, SqliteSessionStore } from "../db/index.ts";
import { startMaintenance } from "../db/maintenance.ts";
import { mountApi } from "../http/api.ts";
import { createApp } from "../http/app.ts";
import { loadExamples, mountExamples, type Examples } from "../http/examples.ts";
import { createLogger, errorFields, type Logger } from "../observability/logger.ts";
import { Metrics, mountMetrics } from "../observability/metrics.ts";
import { initSentry, noopReporter, type ErrorReporter } from "../observability/sentry.ts";
import { CloseCode } from "../protocol/errors.ts";
import { Admission } from "../realtime/admission.ts";
import { Fanout } from "../realtime/fanout.ts";
import { Hub } from "../realtime/hub.ts";
import { SseGateway } from "../realtime/sse-gateway.ts";
import { WebSocketGateway } from "../realtime/ws-gateway.ts";
import { DEFAULT_ASSISTANT, SessionEvents, SessionService, systemClock } from "../sessions/index.ts";
import type { Subscriber } from "../sessions/subscriber.ts";

/** A start-up problem a person can fix; printed as one line, never a stack trace. */
export class StartupError extends Error {}

export interface RunningNode {
  port: number;
  /** Stops in order: intake, pending commits and their acks, subscribers, sockets, storage. */
  shutdown(signal: string): Promise<void>;
}

/** The HS256 secret: configured, or the zero-config one stored in DATA_DIR/secret. */
export function signingSecret(config: Config, logger?: Logger, tokenCommand = "sessiond token --user alice"): string {
  if (config.JWT_SECRET) return config.JWT_SECRET;
  const stored = ensureStoredSecret(config.DATA_DIR);
  if (stored.created) {
    logger?.warn("auth.secret_created", {
      path: stored.path,
      hint: `No JWT_SECRET was set, so a random secret was generated and stored (mode 0600). Mint a token with: ${tokenCommand}`,
    });
  }
  return stored.secret;
}

export interface NodeOptions {
  version: string;
  /** How a person runs the CLI here (`sessiond` or `bun src/main.ts`), for hints in the log. */
  command?: string;
}

export async function startNode(config: Config, { version, command = "sessiond" }: NodeOptions): Promise<RunningNode> {
  const logger = createLogger(config.LOG_LEVEL);
  const reporter: ErrorReporter = config.SENTRY_DSN ? initSentry(config.SENTRY_DSN, config.SENTRY_ENVIRONMENT, version) : noopReporter;
  const startedAt = Date.now();
  let ready = false;

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

  // Storage.
  const sqlite = openDatabase(databasePath(config.DATA_DIR), { synchronous: config.DB_SYNCHRONOUS });
  const applied = migrate(sqlite);
  if (applied > 0) logger.info("db.migrated", { applied });

  const authenticator = buildAuthenticator(config, logger, command);
  const metrics = new Metrics();
  const events = new SessionEvents((e, name) => {
    logger.error("internal.error", { where: `event:${name}`, ...errorFields(e) });
    reporter.capture(e, { where: `event:${name}`, code: "internal" });
  });
  const store = new SqliteSessionStore(sqlite, {
    maxBatch: config.GROUP_COMMIT_MAX_BATCH,
    maxDelayMs: config.GROUP_COMMIT_MAX_DELAY_MS,
    onCommit: (size, seconds) => metrics.observeCommit(size, seconds),
    onCallbackError: (e) => {
      logger.error("internal.error", { where: "commit.callback", ...errorFields(e) });
      reporter.capture(e, { where: "commit.callback", code: "internal" });
    },
  });

  // The domain.
  const messageLimiter = new TokenBucketLimiter({
    capacity: config.RATE_LIMIT_MESSAGES_PER_MINUTE,
    refillMs: config.RATE_LIMIT_WINDOW_SECONDS * 1000,
  });
  const service = new SessionService({
    store,
    events,
    clock: systemClock,
    limiter: messageLimiter,
    newMessageId: () => Bun.randomUUIDv7(),
    rules: {
      expiryMs: config.SESSION_EXPIRY_SECONDS * 1000,
      windowSize: config.MAX_MESSAGES_PER_SESSION,
      cacheMaxSessions: config.SESSION_CACHE_MAX_SESSIONS,
      maxRecoveryMessages: config.MAX_RECOVERY_MESSAGES,
      maxMessageBytes: config.MAX_MESSAGE_BYTES,
      createOnJoin: config.SESSION_CREATE === "join",
      assistantAvailable: config.AI_BASE_URL !== undefined,
      defaults: {
        analysis: { enabled: config.ANALYSIS_DEFAULT === "on", share: "staff" },
        assistant: DEFAULT_ASSISTANT,
        endOnDisconnect: { enabled: false, graceSeconds: 30 },
      },
    },
  });

  // Transports.
  const hub = new Hub();
  let server: Server<unknown> | null = null;
  const fanout = new Fanout(hub, {
    slowConsumerBytes: config.SLOW_CONSUMER_BYTES,
    publish: (topic, frame) => server?.publish(topic, frame) ?? 0,
    onSlowConsumer: (conn) => {
      metrics.slowConsumers.inc();
      logger.warn("connection.slow_consumer", { conn: conn.id, user: conn.principal.userId, transport: conn.transport });
    },
  });
  fanout.listen(events, service);
  metrics.listen(events, service, hub, messageLimiter);
  metrics.setActiveSessions(store.activeSessionIds().length);
  events.on("session.ended", ({ session, status }) =>
    logger.info("session.ended", { session: session.id, status, messages: session.metrics.messageCount, participants: session.metrics.participantCount, durationMs: session.metrics.durationMs }),
  );
  events.on("session.started", ({ session }) => logger.info("session.started", { session: session.id, mode: session.mode }));

  const admission = new Admission(
    hub,
    new TokenBucketLimiter({ capacity: config.RATE_LIMIT_CONNECTIONS_PER_MINUTE, refillMs: 60_000 }),
    { allowedOrigins: config.ALLOWED_ORIGINS, maxConnections: config.MAX_CONNECTIONS, maxConnectionsPerUser: config.MAX_CONNECTIONS_PER_USER },
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
    options: {
      maxSessionsPerConnection: config.MAX_SESSIONS_PER_CONNECTION,
      heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_SECONDS * 1000,
      heartbeatTimeoutMs: config.HEARTBEAT_TIMEOUT_SECONDS * 1000,
      slowConsumerBytes: config.SLOW_CONSUMER_BYTES,
    },
    onFrame: (type) => {
      metrics.framesReceived.inc({ type });
      if (type === "message") metrics.messagesReceived.inc({ transport: "ws" });
    },
    onRefused: (code) => metrics.connectionRefusals.inc({ code }),
    onErrorSent: (code) => metrics.errors.inc({ code }),
  });
  const sse = new SseGateway({
    service,
    hub,
    authenticator,
    admission,
    logger,
    clock: systemClock,
    heartbeatMs: config.SSE_HEARTBEAT_SECONDS * 1000,
    slowConsumerBytes: config.SLOW_CONSUMER_BYTES,
  });

  // Subscribers: work off the hot path, started in this order and stopped in reverse.
  const subscribers: Subscriber[] = [];
  const healthChecks: Record<string, () => boolean> = {};

  const app = createApp({
    health: {
      ready: () => ready,
      database: () => store.probe(),
      checks: () => Object.fromEntries(Object.entries(healthChecks).map(([name, check]) => [name, check()])),
      connections: () => hub.size,
      activeSessions: () => metrics.activeSessions(),
      startedAt,
    },
    logger,
    reporter,
    onErrorSent: (code) => metrics.errors.inc({ code }),
    mount: (app) => {
      mountMetrics(app, metrics, config.METRICS_TOKEN);
      if (examples) mountExamples(app, examples);
      mountApi(app, {
        service,
        authenticator,
        sse,
        maxMessageBytes: config.MAX_MESSAGE_BYTES,
        onMessageReceived: () => metrics.messagesReceived.inc({ transport: "http" }),
        admin: {
          hub,
          reset: () => {
            const ended = service.endAll("cancelled");
            const closed = gateway.closeAll(CloseCode.adminReset, "reset by an administrator") + sse.closeAll();
            logger.warn("admin.reset", { endedSessions: ended, closedConnections: closed });
            return { endedSessions: ended, closedConnections: closed };
          },
        },
      });
    },
  });

  server = Bun.serve({
    port: config.PORT,
    hostname: config.HOST,
    // Bodies larger than this are refused by Bun before a handler reads them.
    maxRequestBodySize: config.MAX_MESSAGE_BYTES + 64 * 1024,
    fetch(req, srv) {
      const path = pathOf(req.url);
      if (path === "/ws") return gateway.upgrade(req, srv as never);
      return app.fetch(req, { server: srv, requestIP: srv.requestIP(req) });
    },
    websocket: {
      ...gateway.websocket,
      // Frames far over the message limit are closed with 1009 before they are buffered whole.
      maxPayloadLength: config.MAX_MESSAGE_BYTES + 32 * 1024,
      // The gateway closes slow consumers with 4002 at SLOW_CONSUMER_BYTES; this is the hard ceiling behind it.
      backpressureLimit: config.SLOW_CONSUMER_BYTES * 2,
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
  const maintenance = startMaintenance({
    service,
    sqlite,
    logger,
    reporter,
    sweepIntervalMs: config.SESSION_SWEEP_INTERVAL_SECONDS * 1000,
    retentionDays: config.RETENTION_DAYS,
    isIdle: () => hub.size === 0,
  });
  ready = true;
  logger.info("server.started", { version, ...describeConfig(config), port: server.port });

  let stopping: Promise<void> | null = null;
  const shutdown = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      ready = false;
      logger.info("server.stopping", { signal, connections: hub.size });
      // No new connections; no more timers that start work.
      server!.stop(false);
      maintenance.stop();
      gateway.stop();
      if (config.ARCHIVE_ON_SHUTDOWN) {
        const ended = service.endAll("completed");
        logger.info("sessions.archived_on_shutdown", { ended });
      }
      // Pending appends commit; their acks and fan-out go out on the next turn, before any socket closes.
      service.flush();
      await Bun.sleep(0);
      for (const s of [...subscribers].reverse()) {
        try {
          await s.stop();
        } catch (e) {
          logger.error("subscriber.stop_failed", { subscriber: s.name, ...errorFields(e) });
        }
      }
      service.flush();
      await Bun.sleep(0);
      gateway.closeAll(CloseCode.goingAway, "server restarting");
      sse.closeAll();
      await Bun.sleep(50);
      await server!.stop(true);
      closeDatabase(sqlite);
      await reporter.close(2000);
      logger.info("server.stopped", { signal });
    })();
    return stopping;
  };

  return { port: server.port!, shutdown };
}

function buildAuthenticator(config: Config, logger: Logger, command: string): Authenticator {
  if (config.AUTH_MODE === "none") {
    logger.warn("auth.disabled", {
      warning: "AUTH_MODE=none: anyone can act as any user by passing ?user=<id>. Use this only on a development machine.",
    });
    return new Authenticator("none", null);
  }
  const verifier = new TokenVerifier({
    algorithm: config.JWT_ALGORITHM,
    secret: config.JWT_ALGORITHM === "HS256" ? signingSecret(config, logger, `${command} token --user alice`) : undefined,
    publicKey: config.JWT_PUBLIC_KEY,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  return new Authenticator("jwt", verifier);
}

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}
