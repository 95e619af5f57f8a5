// A real cluster for tests: one PostgreSQL, one Redis (unless left out), N `sessiond serve` processes on them with
// the same JWT secret and a DATA_DIR each, and the test load balancer in front (round robin, no stickiness).
// Faults are real: a node is SIGKILLed, restarted on its own port and DATA_DIR; Redis is restarted empty.
import { startBalancer, type Balancer } from "../engines/balancer.ts";
import { startPostgres, type PostgresEngine } from "../engines/postgres.ts";
import { startRedis, type RedisEngine } from "../engines/redis.ts";
import { startServer, type ServerProcess } from "../helpers.ts";

export interface ClusterOptions {
  nodes: 2 | 3;
  /** Added to every node's environment (after the cluster's own settings, so a test may override them). */
  env?: Record<string, string>;
  /**
   * Whether to start Redis and give it to the nodes (REDIS_URL, CLUSTER=true). Without it the nodes share
   * PostgreSQL only: no fan-out between them (CLUSTER=true is then refused, so it is not set). @default true
   */
  redis?: boolean;
  /** How long each node may take to print `server.started`, in ms. @default 30000 */
  startTimeoutMs?: number;
}

export interface Cluster {
  /**
   * The running node processes, index by index. `restartNode(i)` replaces entry i: read `nodes[i]` again after it
   * rather than keeping the old object.
   */
  nodes: ServerProcess[];
  balancer: Balancer;
  /** The balancer's `http://127.0.0.1:PORT`. */
  http: string;
  /** The balancer's `ws://127.0.0.1:PORT/ws`. */
  ws: string;
  /** Each node's own base URL (the SDK's URL list for a cluster without the balancer). */
  nodeUrls(): string[];
  postgres: PostgresEngine;
  /** Null with `redis: false`. */
  redis: RedisEngine | null;
  /** SIGKILLs node i (a crash) and waits for it to exit; the balancer skips it from then on (its port refuses). */
  killNode(i: number): Promise<void>;
  /**
   * Starts node i again (after killNode, or stopping it gracefully first when it runs) on the same port and DATA_DIR,
   * so the balancer and URL lists reach it again; `env` is added to its environment for this start.
   */
  restartNode(i: number, env?: Record<string, string>): Promise<ServerProcess>;
  /** Stops Redis and starts it again on the same port, empty; resolves once it answers. */
  restartRedis(): Promise<void>;
  /** Stops the balancer, every node (SIGTERM), Redis and PostgreSQL. Idempotent. */
  stop(): Promise<void>;
}

const running = (node: ServerProcess) => node.proc.exitCode === null && node.proc.signalCode === null;

/** SIGTERM (a drain takes up to 10 s), then SIGKILL if it is still running after 15 s. */
async function stopGracefully(node: ServerProcess): Promise<void> {
  if (!running(node)) return;
  node.proc.kill("SIGTERM");
  const timer = setTimeout(() => node.proc.kill("SIGKILL"), 15_000);
  await node.exited;
  clearTimeout(timer);
}

/** Starts the engines, then every node at once (they migrate once between them), then the balancer. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const withRedis = options.redis ?? true;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const [postgres, redis] = await Promise.all([startPostgres(), withRedis ? startRedis() : Promise.resolve(null)]);

  const clusterEnv: Record<string, string> = {
    DATABASE_URL: postgres.url,
    ...(redis && { REDIS_URL: redis.url, CLUSTER: "true" }),
    ...options.env,
  };
  const launch = (dataDir?: string, env: Record<string, string> = {}) =>
    startServer({ dataDir, env: { ...clusterEnv, ...env }, timeoutMs: startTimeoutMs });

  const stopEngines = async () => {
    await redis?.stop();
    await postgres.stop();
  };

  const starts = await Promise.allSettled(Array.from({ length: options.nodes }, () => launch()));
  const nodes = starts.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = starts.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    await stopEngines();
    throw failed.reason;
  }

  const balancer = await startBalancer(nodes.map((n) => n.port));
  let stopped: Promise<void> | null = null;

  const nodeAt = (i: number): ServerProcess => {
    const node = nodes[i];
    if (!node) throw new Error(`the cluster has no node ${i} (it has ${nodes.length})`);
    return node;
  };

  return {
    nodes,
    balancer,
    http: balancer.http,
    ws: balancer.ws,
    nodeUrls: () => nodes.map((n) => n.http),
    postgres,
    redis,
    async killNode(i) {
      const node = nodeAt(i);
      if (running(node)) await node.stop("SIGKILL");
    },
    async restartNode(i, env = {}) {
      const old = nodeAt(i);
      await stopGracefully(old);
      // The same address: the balancer's backend list and the clients' URL lists name this port.
      const node = await launch(old.dataDir, { PORT: String(old.port), ...env });
      nodes[i] = node;
      return node;
    },
    restartRedis: async () => {
      if (!redis) throw new Error("this cluster was started without Redis");
      await redis.restart();
    },
    stop() {
      stopped ??= (async () => {
        await balancer.stop();
        await Promise.all(nodes.map(stopGracefully));
        await stopEngines();
      })();
      return stopped;
    },
  };
}
