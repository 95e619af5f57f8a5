#!/usr/bin/env bun
// Composition root and CLI: config -> Sentry -> database + migrations -> services -> Bun.serve; signals.
// The only module that builds concrete objects and passes them in.
import { Authenticator, TokenBucketLimiter, TokenVerifier, ensureStoredSecret, mintToken, parseTtl } from "./auth/index.ts";
import { describeConfig, loadConfig, parseFlags, configSchema, type Config } from "./config/index.ts";
import { closeDatabase, databasePath, migrate, openDatabase, SqliteSessionStore } from "./db/index.ts";
import { backupDatabase } from "./db/backup.ts";
import { createApp } from "./http/app.ts";
import { databaseAnswers } from "./http/health.ts";
import { mountApi } from "./http/api.ts";
import { loadExamples, mountExamples, type Examples } from "./http/examples.ts";
import { createLogger, errorFields, type Logger } from "./observability/logger.ts";
import { Metrics, mountMetrics } from "./observability/metrics.ts";
import { initSentry, noopReporter, type ErrorReporter } from "./observability/sentry.ts";
import { CloseCode } from "./protocol/errors.ts";
import { Admission } from "./realtime/admission.ts";
import { Fanout } from "./realtime/fanout.ts";
import { Hub } from "./realtime/hub.ts";
import { SseGateway } from "./realtime/sse-gateway.ts";
import { WebSocketGateway } from "./realtime/ws-gateway.ts";
import { SessionEvents, SessionService, systemClock } from "./sessions/index.ts";
import { startMaintenance } from "./db/maintenance.ts";
import pkg from "../package.json";
import { existsSync } from "node:fs";
import { join } from "node:path";

const VERSION: string = pkg.version;

const HELP = `sessiond ${VERSION} — self-hosted real-time session server

Usage: sessiond [command] [--setting value ...]

Commands:
  serve                 start the server (default)
  migrate               apply database migrations and exit
  token --user <id>     print a signed token: [--admin] [--ttl 1h|30m|7d] [--session <id>]... [--room <key>]...
  backup <file>         write a consistent copy of the database to <file> (refuses to overwrite)
  version               print the version
  help, --help          this text

Settings come from environment variables; a flag such as --port 4000 or --data-dir ./x overrides one.
`;

function fail(lines: string[]): never {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(1);
}

function settingsHelp(): string {
  const defaults = loadConfig({});
  const values: Record<string, unknown> = defaults.ok ? { ...defaults.config } : {};
  const rows = Object.keys(configSchema.shape).map((name) => {
    const v = values[name];
    return `  ${name.padEnd(36)}${v === undefined ? "(unset)" : Array.isArray(v) ? v.join(",") : String(v)}`;
  });
  return `Environment variables (default):\n${rows.join("\n")}\n\nSee docs/configuration.md for what each one does.\n`;
}

function readConfig(overrides: Record<string, string>): Config {
  const result = loadConfig(process.env, overrides);
  if (!result.ok) fail(result.errors);
  return result.config;
}

/** The HS256 secret: configured, or the zero-config one stored in DATA_DIR/secret. */
function signingSecret(config: Config, logger?: Logger): string {
  if (config.JWT_SECRET) return config.JWT_SECRET;
  const stored = ensureStoredSecret(config.DATA_DIR);
  if (stored.created) {
    logger?.warn("auth.secret_created", {
      path: stored.path,
      hint: "No JWT_SECRET was set, so a random secret was generated and stored (mode 0600). Mint a token with: sessiond token --user alice",
    });
  }
  return stored.secret;
}

async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const reporter: ErrorReporter = config.SENTRY_DSN ? initSentry(config.SENTRY_DSN, config.SENTRY_ENVIRONMENT, VERSION) : noopReporter;
  const startedAt = Date.now();
  let ready = false;

  let examples: Examples | null = null;
  if (config.DEV_EXAMPLES) {
    // Located from the source tree, which the compiled binary does not carry.
    const root = join(import.meta.dir, "..");
    const clientEntry = join(root, "src", "client", "index.ts");
    if (!existsSync(clientEntry) || !existsSync(join(root, "examples"))) {
      fail(["config: DEV_EXAMPLES=true needs the source checkout (run `bun run dev` there); the compiled binary does not carry the examples"]);
    }
    examples = await loadExamples(join(root, "examples"), clientEntry);
    logger.warn("dev.examples", { warning: "DEV_EXAMPLES=true: serving the example pages at /examples/. Development only." });
  }

  const sqlite = openDatabase(databasePath(config.DATA_DIR), { synchronous: config.DB_SYNCHRONOUS });
  const applied = migrate(sqlite);
  if (applied > 0) logger.info("db.migrated", { applied });

  let authenticator: Authenticator;
  if (config.AUTH_MODE === "none") {
    logger.warn("auth.disabled", {
      warning: "AUTH_MODE=none: anyone can act as any user by passing ?user=<id>. Use this only on a development machine.",
    });
    authenticator = new Authenticator("none", null);
  } else {
    const verifier = new TokenVerifier({
      algorithm: config.JWT_ALGORITHM,
      secret: config.JWT_ALGORITHM === "HS256" ? signingSecret(config, logger) : undefined,
      publicKey: config.JWT_PUBLIC_KEY,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
    });
    authenticator = new Authenticator("jwt", verifier);
  }

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
  const messageLimiter = new TokenBucketLimiter({
    capacity: config.RATE_LIMIT_MESSAGES_PER_MINUTE,
    refillMs: config.RATE_LIMIT_WINDOW_SECONDS * 1000,
  });
  const service = new SessionService({
    store,
    events,
    clock: systemClock,
    limiter: messageLimiter,
    rules: {
      expiryMs: config.SESSION_EXPIRY_SECONDS * 1000,
      windowSize: config.MAX_MESSAGES_PER_SESSION,
      cacheMaxSessions: config.SESSION_CACHE_MAX_SESSIONS,
      maxRecoveryMessages: config.MAX_RECOVERY_MESSAGES,
      maxMessageBytes: config.MAX_MESSAGE_BYTES,
      createOnJoin: config.SESSION_CREATE === "join",
    },
  });

  const hub = new Hub();
  let server: ReturnType<typeof Bun.serve> | null = null;
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

  const app = createApp({
    health: {
      ready: () => ready,
      database: () => databaseAnswers(sqlite),
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
      if (path === "/ws") return gateway.upgrade(req, srv);
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
  });
  gateway.startHeartbeats();
  sse.start();
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
  logger.info("server.started", { version: VERSION, ...describeConfig(config), port: server.port });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ready = false;
    const force = setTimeout(() => {
      logger.error("server.stop_timeout", { signal });
      process.exit(1);
    }, 10_000);
    logger.info("server.stopping", { signal, connections: hub.size });
    try {
      server!.stop(false);
      maintenance.stop();
      gateway.stop();
      if (config.ARCHIVE_ON_SHUTDOWN) {
        const ended = service.endAll("completed");
        logger.info("sessions.archived_on_shutdown", { ended });
      }
      // Pending appends commit and are acked before the sockets close.
      service.flush();
      gateway.closeAll(CloseCode.goingAway, "server restarting");
      sse.closeAll();
      await Bun.sleep(50);
      await server!.stop(true);
      closeDatabase(sqlite);
      await reporter.close(2000);
      logger.info("server.stopped", { signal });
      clearTimeout(force);
      process.exit(0);
    } catch (e) {
      logger.error("server.stop_failed", errorFields(e));
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", start);
  return q === -1 ? url.slice(start) : url.slice(start, q);
}

async function tokenCommand(args: string[]): Promise<void> {
  let user: string | undefined;
  let admin = false;
  let ttl = 3600;
  const sessions: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = () => {
      const v = args[++i];
      if (v === undefined) fail([`token: ${a} needs a value`]);
      return v;
    };
    if (a === "--user") user = next();
    else if (a === "--admin") admin = true;
    else if (a === "--ttl") {
      const text = next();
      const parsed = parseTtl(text);
      if (parsed === null) fail([`token: --ttl "${text}" is invalid: expected a duration such as 90s, 30m, 1h or 7d`]);
      ttl = parsed;
    } else if (a === "--session") sessions.push(next());
    else if (a === "--room") sessions.push(`room:${next()}`);
    else rest.push(a);
  }
  if (!user) fail(["token: --user <id> is required"]);
  const { overrides, unknown } = parseFlags(rest);
  if (unknown.length > 0) fail(unknown.map((u) => `token: unknown option ${u}`));
  const config = readConfig(overrides);
  if (config.AUTH_MODE === "none") fail(["token: AUTH_MODE=none accepts no tokens; pass ?user=<id> instead"]);
  if (config.JWT_ALGORITHM !== "HS256") {
    fail([`token: this server verifies ${config.JWT_ALGORITHM} tokens with a public key; mint them with your private key instead`]);
  }
  const token = await mintToken(signingSecret(config), {
    userId: user,
    admin,
    ttlSeconds: ttl,
    sessions,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  process.stdout.write(`${token}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  const command = first === undefined || first.startsWith("--") ? "serve" : first;
  const args = command === "serve" && first !== "serve" ? argv : rest;
  if (argv.includes("--help") || argv.includes("-h") || command === "help") {
    process.stdout.write(HELP + "\n" + settingsHelp());
    return;
  }
  switch (command) {
    case "version":
      process.stdout.write(`sessiond ${VERSION}\n`);
      return;
    case "token":
      return tokenCommand(args);
    case "serve":
    case "migrate":
    case "backup": {
      const { overrides, positional, unknown } = parseFlags(args);
      if (unknown.length > 0) fail(unknown.map((u) => `sessiond: unknown option ${u} (see sessiond --help)`));
      const config = readConfig(overrides);
      if (command === "serve") return serve(config);
      if (command === "migrate") {
        const sqlite = openDatabase(databasePath(config.DATA_DIR), { synchronous: config.DB_SYNCHRONOUS });
        const applied = migrate(sqlite);
        closeDatabase(sqlite);
        process.stdout.write(`migrations applied: ${applied}\n`);
        return;
      }
      const target = positional[0];
      if (!target) fail(["backup: a target file is required: sessiond backup <file>"]);
      const result = backupDatabase(databasePath(config.DATA_DIR), target);
      if (!result.ok) fail([`backup: ${result.error}`]);
      process.stdout.write(`backup written to ${target} (${result.bytes} bytes)\n`);
      return;
    }
    default:
      fail([`sessiond: unknown command "${command}" (see sessiond --help)`]);
  }
}

main(Bun.argv.slice(2)).catch((e) => {
  // Start-up failures are reported as one readable line, never a stack trace.
  process.stderr.write(`sessiond: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
