// Which engines a node runs on, from the settings: PostgreSQL (DATABASE_URL) or SQLite in DATA_DIR for storage,
// Redis (REDIS_URL) or in-process for the broker, presence and the message rate limit. Opens and checks them at
// start-up, so an unreachable engine is one readable line naming host:port (never the password), and closes them
// in reverse order. The SQLite store itself is still opened by node.ts (it needs the file's own set-up).
import { SQL } from "bun";
import { hostname } from "node:os";
import { redactUrl, type Config } from "../config/index.ts";
import { randomEpoch } from "../db/meta-store.ts";
import { migratePostgres } from "../pg/migrate.ts";
import { closeRedis, connectRedis, openRedis, type Redis } from "../redis/connection.ts";
import { RedisBroker, type RedisBrokerProblem } from "../redis/broker.ts";
import { RedisPresence } from "../redis/presence.ts";
import { RedisTokenBucket } from "../redis/rate-limit.ts";
import { InProcessBroker, type Broker, type BrokerEvent, type BrokerHandler } from "../sessions/broker.ts";

/** An engine that cannot be used at start-up, as one sentence (node.ts turns it into a StartupError). */
export class EngineStartError extends Error {}

export interface PostgresEngine {
  /** The pool every PostgreSQL user on this node shares (DATABASE_POOL_SIZE connections at most). */
  sql: SQL;
  /** Migrations this start applied (0 when another node or `sessiond migrate` had applied them). */
  migrationsApplied: number;
  /** The database's epoch, the same on every node of this database. */
  epoch: string;
  /** `server_version` as the server reports it (for the start-up log). */
  serverVersion: string;
  /** DATABASE_URL with the password replaced by `***`. */
  shownUrl: string;
}

export interface RedisEngine {
  /** Shared by presence and the rate limit; fails commands at once while the link is down (no offline queue). */
  connection: Redis;
  /** Not started: the node starts it once its handlers exist, and stops it before the broker (its leaves go out). */
  presence: RedisPresence;
  /** The per-user message rate across nodes; nothing to start. */
  limiter: RedisTokenBucket;
  /** REDIS_URL with the password replaced by `***`. */
  shownUrl: string;
}

export interface Engines {
  /** This node's id: the broker's origin and the presence heartbeat's name; unique per process. */
  nodeId: string;
  /** Null: SQLite in DATA_DIR. */
  postgres: PostgresEngine | null;
  /** Null: in-process broker, presence and limits. */
  redis: RedisEngine | null;
  /**
   * Connected and subscribed when Redis is used: `start(handler)` hands it the node's fan-out (events that arrive
   * before that find no subscriber on this node and are dropped; receivers fill gaps from storage). In-process
   * otherwise.
   */
  broker: Broker;
  /** Closes in reverse order of opening: presence, broker, the Redis connection, the PostgreSQL pool. Idempotent. */
  close(): Promise<void>;
}

export interface EngineOptions {
  /** Presence: a user left because their node stopped heartbeating (see RedisPresenceOptions.onLeft). */
  onPresenceLeft?: (sessionId: string, userId: string) => void;
  /** Presence: this node put back its users after Redis lost them (see RedisPresenceOptions.onRejoined). */
  onPresenceRejoined?: (sessionId: string, userId: string) => void;
  /** A link problem after start-up: no content, no password (the node logs and counts it). */
  onProblem?: (engine: "redis", what: RedisBrokerProblem | "presence" | "limiter", error: Error) => void;
  /** How long a start waits for an engine to answer, in ms. @default 10000 */
  connectTimeoutMs?: number;
}

/** Opens the engines the settings select; throws EngineStartError with one sentence when one cannot be used. */
export async function openEngines(config: Config, options: EngineOptions = {}): Promise<Engines> {
  const nodeId = `${hostname()}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    // Each closer runs once, the last opened first; one that fails does not keep the others open.
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => {});
  };
  try {
    const postgres = config.DATABASE_URL ? await openPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE, options, closers) : null;
    let redis: RedisEngine | null = null;
    let broker: Broker = new InProcessBroker(nodeId);
    if (config.REDIS_URL) {
      ({ redis, broker } = await openRedisEngines(config, nodeId, options, closers));
    }
    return { nodeId, postgres, redis, broker, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * `sessiond migrate` with DATABASE_URL: applies the pending PostgreSQL migrations (under the same advisory lock as a
 * starting node) and returns how many; throws EngineStartError with one sentence when the server cannot be used.
 */
export async function migrateSelectedPostgres(url: string, connectTimeoutMs = 10_000): Promise<number> {
  const { sql } = await connectPostgres(url, 1, connectTimeoutMs);
  try {
    return await applyMigrations(sql, url);
  } finally {
    await sql.close({ timeout: 5 }).catch(() => {});
  }
}

/** A pool checked with one query (the server's version; the connection stays in the pool). */
async function connectPostgres(url: string, poolSize: number, timeoutMs: number): Promise<{ sql: SQL; serverVersion: string }> {
  const sql = new SQL({ url, max: poolSize, connectionTimeout: Math.max(1, Math.ceil(timeoutMs / 1000)) });
  try {
    const [row] = await sql`SELECT current_setting('server_version') AS version`;
    return { sql, serverVersion: String(row.version) };
  } catch (e) {
    await sql.close({ timeout: 1 }).catch(() => {});
    throw new EngineStartError(`database: PostgreSQL at ${hostPort(url, 5432)} ${whyUnreachable(e, timeoutMs, "DATABASE_URL")}`);
  }
}

async function applyMigrations(sql: SQL, url: string): Promise<number> {
  try {
    return await migratePostgres(sql);
  } catch (e) {
    throw new EngineStartError(`database: the PostgreSQL migrations could not be applied at ${hostPort(url, 5432)}: ${messageOf(e)}`);
  }
}

async function openPostgres(url: string, poolSize: number, options: EngineOptions, closers: Array<() => Promise<void>>): Promise<PostgresEngine> {
  const at = hostPort(url, 5432);
  const { sql, serverVersion } = await connectPostgres(url, poolSize, options.connectTimeoutMs ?? 10_000);
  closers.push(() => sql.close({ timeout: 5 }));
  const migrationsApplied = await applyMigrations(sql, url);
  let epoch: string;
  try {
    epoch = await readOrCreateEpoch(sql);
  } catch (e) {
    throw new EngineStartError(`database: the epoch could not be read from PostgreSQL at ${at}: ${messageOf(e)}`);
  }
  return { sql, migrationsApplied, epoch, serverVersion, shownUrl: redactUrl(url) };
}

async function openRedisEngines(
  config: Config,
  nodeId: string,
  options: EngineOptions,
  closers: Array<() => Promise<void>>,
): Promise<{ redis: RedisEngine; broker: Broker }> {
  const url = config.REDIS_URL!;
  const at = hostPort(url, 6379);
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const problem = (what: RedisBrokerProblem | "presence" | "limiter", error: Error) => {
    try {
      options.onProblem?.("redis", what, error);
    } catch {
      // A reporter that throws must not break the link.
    }
  };
  // ioredis retries by itself until connectRedis gives up: the last error it saw says why (refused, auth, TLS).
  let lastError: Error | null = null;
  const unreachable = (e: unknown) =>
    new EngineStartError(`redis: Redis at ${at} ${whyUnreachable(lastError ?? e, timeoutMs, "REDIS_URL")}`);

  // A hung Redis must not hold a sender or a join for long: commands give up after 2 s (presence and the limiter
  // then answer from this node's own view).
  const connection = openRedis(url, {
    name: `sessiond:${nodeId}:cmd`,
    commandTimeoutMs: 2000,
    onError: (e) => {
      lastError = e;
      problem("connection", e);
    },
  });
  closers.push(() => closeRedis(connection));
  try {
    await connectRedis(connection, url, timeoutMs);
  } catch (e) {
    throw unreachable(e);
  }
  lastError = null;

  const redisBroker = new RedisBroker({ url, nodeId, connectTimeoutMs: timeoutMs, onError: problem });
  const relay = new RelayHandler();
  try {
    await redisBroker.start(relay);
  } catch (e) {
    throw unreachable(e);
  }
  closers.push(() => redisBroker.stop());

  const presence = new RedisPresence({
    redis: connection,
    nodeId,
    onLeft: options.onPresenceLeft,
    onRejoined: options.onPresenceRejoined,
    onError: (e) => problem("presence", e),
  });
  // Runs STOP for this node: removes its entries (nothing when it never started) and tells who left.
  closers.push(() => presence.stop());
  const limiter = new RedisTokenBucket({
    redis: connection,
    capacity: config.RATE_LIMIT_MESSAGES_PER_MINUTE,
    refillMs: config.RATE_LIMIT_WINDOW_SECONDS * 1000,
    onError: (e) => problem("limiter", e),
  });
  return { redis: { connection, presence, limiter, shownUrl: redactUrl(url) }, broker: new StartedBroker(redisBroker, relay) };
}

/** Hands events on to the handler the node gives later; drops them until then (no subscriber here yet). */
class RelayHandler implements BrokerHandler {
  target: BrokerHandler | null = null;

  deliver(event: BrokerEvent, origin: string): void {
    this.target?.deliver(event, origin);
  }

  resubscribed(): void {
    this.target?.resubscribed?.();
  }
}

/** A broker already subscribed at start-up: `start` attaches the node's handler instead of connecting. */
class StartedBroker implements Broker {
  constructor(
    private readonly inner: RedisBroker,
    private readonly relay: RelayHandler,
  ) {}

  get nodeId(): string {
    return this.inner.nodeId;
  }

  /** The counters of the Redis link (published, publishFailures, received, resubscriptions), for metrics. */
  get redis(): RedisBroker {
    return this.inner;
  }

  async start(handler: BrokerHandler): Promise<void> {
    if (this.relay.target) throw new Error("broker.start called twice");
    this.relay.target = handler;
  }

  publish(event: BrokerEvent): void {
    this.inner.publish(event);
  }

  async stop(): Promise<void> {
    this.relay.target = null;
    await this.inner.stop();
  }

  healthy(): boolean {
    return this.inner.healthy();
  }
}

const EPOCH_KEY = "epoch";

/**
 * The database's epoch, created by whichever node asks first: every node of one PostgreSQL database gets the same
 * one. Concurrent first calls are safe: the losing INSERT does nothing, and the SELECT after it (a new statement,
 * so a new snapshot) sees the winner's committed row.
 */
export async function readOrCreateEpoch(sql: SQL): Promise<string> {
  await sql`INSERT INTO sessiond_meta (key, value) VALUES (${EPOCH_KEY}, ${randomEpoch()}) ON CONFLICT (key) DO NOTHING`;
  const [row] = await sql`SELECT value FROM sessiond_meta WHERE key = ${EPOCH_KEY}`;
  if (!row) throw new Error("sessiond_meta holds no epoch right after it was written");
  return String(row.value);
}

/** host:port of a URL, without credentials. */
function hostPort(url: string, defaultPort: number): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || defaultPort}`;
  } catch {
    return "the configured address";
  }
}

/**
 * Why a first query or connect failed and what to check, as the end of a sentence. Server messages (a refused
 * login, a missing database) name the user or database, never the password.
 */
function whyUnreachable(e: unknown, timeoutMs: number, setting: string): string {
  const code = typeof e === "object" && e !== null ? String((e as { code?: unknown }).code ?? "") : "";
  const errno = typeof e === "object" && e !== null ? (e as { errno?: unknown }).errno : undefined;
  const message = messageOf(e);
  const notThere = `check that it is running and that ${setting} names it`;
  const refused = `check the user, password and database in ${setting}`;
  if (code === "ERR_POSTGRES_CONNECTION_REFUSED" || /ECONNREFUSED/.test(message)) return `refused the connection (connection refused); ${notThere}`;
  if (code === "ERR_POSTGRES_CONNECTION_TIMEOUT" || /did not answer/.test(message)) return `did not answer within ${Math.round(timeoutMs / 1000)} s; ${notThere}`;
  if (code === "ERR_POSTGRES_CONNECTION_FAILED" || code === "ERR_POSTGRES_CONNECTION_CLOSED") {
    return `cannot be reached (the connection closed before it was established); ${notThere}`;
  }
  if (typeof errno === "string") return `refused sessiond: ${message} (SQLSTATE ${errno}); ${refused}`;
  if (/^(WRONGPASS|NOAUTH|NOPERM)/.test(message)) return `refused sessiond: ${message.split(",")[0]}; ${refused}`;
  return `cannot be used: ${message}; ${notThere}`;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split("\n")[0]!.replace(/\.$/, "");
