// The fault trials, shared by the tests (short runs) and `bun run bench:faults` (the full counts): each starts real
// server processes on loopback, provokes one fault, and returns what it counted for the caller to judge.
import { api, holdWriteLock, startServer, token, type ServerProcess } from "../helpers.ts";
import { LoadClient } from "./load-client.ts";

/** Limits raised so the trials measure fault handling, not the rate limits. */
export const TRIAL_ENV = {
  RATE_LIMIT_MESSAGES_PER_MINUTE: "100000000",
  RATE_LIMIT_CONNECTIONS_PER_MINUTE: "1000000",
  MAX_CONNECTIONS_PER_USER: "10000",
};

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const totalAcks = (clients: LoadClient[]) => clients.reduce((n, c) => n + c.acks.size, 0);

async function openLoad(server: ServerProcess, connections: number, tag: string): Promise<LoadClient[]> {
  return Promise.all(range(connections).map(async (i) => LoadClient.open(server.ws, await token(`${tag}-u${i}`), `${tag}-s${i}`, `${tag}-${i}`)));
}

/** Every stored message of the given sessions, read through the HTTP API of a (restarted) server. */
export async function storedMessages(server: ServerProcess, sessions: Array<{ id: string; user: string }>): Promise<Map<string, Array<{ seq: number; clientMsgId?: string; id: string }>>> {
  const out = new Map<string, Array<{ seq: number; clientMsgId?: string; id: string }>>();
  for (const { id, user } of sessions) {
    const t = await token(user);
    const rows: Array<{ seq: number; clientMsgId?: string; id: string }> = [];
    let after = 0;
    for (;;) {
      const page = await api(server.http, "GET", `/api/sessions/${id}/messages?after=${after}&limit=500`, { token: t });
      if (page.status !== 200) throw new Error(`reading ${id}: ${page.status} ${JSON.stringify(page.body)}`);
      rows.push(...page.body.messages);
      if (page.body.nextAfter === null) break;
      after = page.body.nextAfter;
    }
    out.set(id, rows);
  }
  return out;
}

export interface SigtermResult {
  exitCode: number;
  closeCodes: number[];
  acked: number;
  stored: number;
  /** In the database after the restart, but its sender never heard the ack before the close. */
  committedUnacked: number;
  /** Acknowledged, but not in the database (or with another seq). */
  ackedLost: number;
  /** Messages refused with `unavailable` during the drain (sent again after a reconnect by a real client). */
  refusedWhileDraining: number;
}

/** SIGTERM under pipelined load from several connections; then every stored message must have had its ack. */
export async function sigtermTrial({ connections = 4, depth = 32, acksBefore = 2000 } = {}): Promise<SigtermResult> {
  const server = await startServer({ env: TRIAL_ENV });
  const clients = await openLoad(server, connections, "term");
  for (const c of clients) c.pump(depth);
  const deadline = performance.now() + 30_000;
  while (totalAcks(clients) < acksBefore && performance.now() < deadline) await Bun.sleep(5);
  const exitCode = await server.stop("SIGTERM");
  await Promise.all(clients.map((c) => c.closedAt()));
  const again = await startServer({ dataDir: server.dataDir, env: TRIAL_ENV });
  try {
    const stored = await storedMessages(again, clients.map((c, i) => ({ id: c.session, user: `term-u${i}` })));
    let committedUnacked = 0;
    let ackedLost = 0;
    let storedCount = 0;
    for (const c of clients) {
      const rows = stored.get(c.session)!;
      storedCount += rows.length;
      const bySeq = new Map(rows.map((r) => [r.clientMsgId!, r.seq]));
      for (const r of rows) if (!c.acks.has(r.clientMsgId!)) committedUnacked++;
      for (const [id, ack] of c.acks) if (bySeq.get(id) !== ack.seq) ackedLost++;
    }
    return {
      exitCode,
      closeCodes: [...new Set(clients.map((c) => c.closed!.code))],
      acked: totalAcks(clients),
      stored: storedCount,
      committedUnacked,
      ackedLost,
      refusedWhileDraining: clients.reduce((n, c) => n + (c.errors.get("unavailable") ?? 0), 0),
    };
  } finally {
    await again.stop();
  }
}

export interface Kill9Result {
  acked: number;
  sent: number;
  /** Acknowledged before the kill but missing (or with another seq) after the restart. */
  ackedLost: number;
  /** A clientMsgId stored more than once after every message was sent again. */
  duplicates: number;
  /** Sessions whose seqs are not exactly 1..n after the resend. */
  gaps: number;
  resent: number;
}

/** kill -9 under pipelined load; after the restart every message sent is sent again with its clientMsgId. */
export async function kill9Trial({ connections = 4, depth = 32, acksBefore = 1500, dataDir }: { connections?: number; depth?: number; acksBefore?: number; dataDir?: string } = {}): Promise<Kill9Result> {
  const server = await startServer({ env: TRIAL_ENV, dataDir });
  const tag = `k${Math.random().toString(36).slice(2, 7)}`;
  const clients = await openLoad(server, connections, tag);
  for (const c of clients) c.pump(depth);
  const deadline = performance.now() + 30_000;
  while (totalAcks(clients) < acksBefore && performance.now() < deadline) await Bun.sleep(2);
  server.proc.kill("SIGKILL");
  await server.exited;
  const acked = totalAcks(clients);
  const sent = clients.reduce((n, c) => n + c.sent.length, 0);
  const again = await startServer({ dataDir: server.dataDir, env: TRIAL_ENV });
  try {
    let ackedLost = 0;
    let resent = 0;
    // Every message goes again, acknowledged or not, as a client that lost track of its acks would send it.
    for (const [i, before] of clients.entries()) {
      const after = await LoadClient.open(again.ws, await token(`${tag}-u${i}`), before.session, `${tag}-${i}`);
      for (let k = 0; k < before.sent.length; k += depth) {
        for (const id of before.sent.slice(k, k + depth)) after.send(id);
        resent += Math.min(depth, before.sent.length - k);
        await after.waitForAcks(Math.min(k + depth, before.sent.length));
      }
      for (const [id, ack] of before.acks) if (after.acks.get(id)?.seq !== ack.seq) ackedLost++;
      after.close();
    }
    const stored = await storedMessages(again, clients.map((c, i) => ({ id: c.session, user: `${tag}-u${i}` })));
    let duplicates = 0;
    let gaps = 0;
    for (const rows of stored.values()) {
      const ids = rows.map((r) => r.clientMsgId);
      duplicates += ids.length - new Set(ids).size;
      if (rows.some((r, k) => r.seq !== k + 1)) gaps++;
    }
    return { acked, sent, ackedLost, duplicates, gaps, resent };
  } finally {
    await again.stop();
  }
}

export interface LockResult {
  /** Replies to messages sent while the lock was held, by outcome. */
  unavailable: number;
  ackedAfterRelease: number;
  otherErrors: string[];
  retryAfterMs: number[];
  /** Acks of one connection in the order its messages were sent: the seqs must increase. */
  inOrder: boolean;
  /** Ping round trips during the lock (ms), and the server's own worst stall then (ms). */
  pingMaxMs: number;
  pings: number;
  stallsOver20ms: number;
  /** The server's worst event-loop stall while the lock was held (ms), and of it what its own work held it. */
  stallMaxMs: number;
  blockedMaxMs: number;
  healthDuring: number;
  healthAfter: number;
  /** Other write paths during the lock: their HTTP status and how long each took (ms). */
  writePaths: Array<{ path: string; status: number; code?: string; retryAfter: string | null; ms: number }>;
  logEvents: string[];
  /** Maintenance runs (expiry sweep, activity save) that were skipped for the fault, and internal errors logged. */
  maintenanceSkipped: number;
  internalErrors: string[];
  storageErrors: number;
  /** A message sent after the release is acknowledged. */
  recovered: boolean;
}

/** Another process holds the database's write lock for `lockMs` while clients keep working. */
export async function lockTrial({ lockMs = 5000, retryMs = 1000 } = {}): Promise<LockResult> {
  const server = await startServer({ env: { ...TRIAL_ENV, DB_RETRY_MS: String(retryMs) } });
  try {
    const [writer, pinger] = await openLoad(server, 2, "lock");
    const owner = await token("lock-u0");
    // An open session that exists before the lock, for the write paths tried during it.
    await api(server.http, "PATCH", "/api/sessions/lock-s0", { token: owner, body: { access: "open" } });
    await api(server.http, "POST", "/api/sessions/lock-s0/messages", { token: owner, body: { content: "before" } });
    const stallsBefore = await stallCount(server, 20);
    const lock = holdWriteLock(server.dataDir);
    const lockedAt = performance.now();
    const sentDuringLock: string[] = [];
    let pingMaxMs = 0;
    let pings = 0;
    const writePaths: LockResult["writePaths"] = [];
    let healthDuring = 0;
    let stallMaxMs = 0;
    let blockedMaxMs = 0;
    try {
      const sender = setInterval(() => sentDuringLock.push(writer!.send()), 100);
      const timedCall = async (path: string, call: () => Promise<{ status: number; body: any; headers: Headers }>) => {
        const t0 = performance.now();
        const r = await call();
        writePaths.push({ path, status: r.status, code: r.body?.error?.code, retryAfter: r.headers.get("retry-after"), ms: Math.round(performance.now() - t0) });
      };
      await Bun.sleep(200);
      healthDuring = (await api(server.http, "GET", "/health")).status;
      await timedCall("POST /api/sessions", () => api(server.http, "POST", "/api/sessions", { token: owner, body: { access: "open" } }));
      await timedCall("PATCH /api/sessions/lock-s0", () => api(server.http, "PATCH", "/api/sessions/lock-s0", { token: owner, body: { members: ["someone"] } }));
      await timedCall("POST /api/sessions/lock-s0/messages", () => api(server.http, "POST", "/api/sessions/lock-s0/messages", { token: owner, body: { content: "during" } }));
      await timedCall("POST /api/sessions/lock-s0/end", () => api(server.http, "POST", "/api/sessions/lock-s0/end", { token: owner }));
      await timedCall("join of a new participant", async () => {
        const reply = await pinger!.request({ type: "join", session: "lock-s0" });
        return { status: reply.type === "joined" ? 200 : 503, body: { error: { code: reply.code } }, headers: new Headers(reply.retryAfterMs ? { "retry-after": String(reply.retryAfterMs) } : {}) };
      });
      let lastScrape = 0;
      while (performance.now() - lockedAt < lockMs) {
        if (performance.now() - lastScrape > 1000) {
          lastScrape = performance.now();
          const m = await recentStalls(server);
          stallMaxMs = Math.max(stallMaxMs, m.stallMs);
          blockedMaxMs = Math.max(blockedMaxMs, m.blockedMs);
        }
        const t0 = performance.now();
        const pong = await pinger!.request({ type: "ping" });
        if (pong.type === "pong") {
          pings++;
          pingMaxMs = Math.max(pingMaxMs, performance.now() - t0);
        }
        await Bun.sleep(20);
      }
      clearInterval(sender);
    } finally {
      lock.release();
    }
    const stallsOver20ms = (await stallCount(server, 20)) - stallsBefore;
    // The gauges look back 10-20 s: read once more right after the release, so the lock's last second counts too.
    const after = await recentStalls(server);
    stallMaxMs = Math.max(stallMaxMs, after.stallMs);
    blockedMaxMs = Math.max(blockedMaxMs, after.blockedMs);
    await writer!.waitForAcks(writer!.acks.size + 1, 100);
    const deadline = performance.now() + retryMs + 3000;
    while (sentDuringLock.some((id) => !writer!.acks.has(id) && !writer!.refused.has(id)) && performance.now() < deadline) await Bun.sleep(20);
    const healthAfter = (await api(server.http, "GET", "/health")).status;
    const last = writer!.send();
    await writer!.waitForAcks(writer!.acks.size + 1, 5000);
    const seqs = writer!.sent.filter((id) => writer!.acks.has(id)).map((id) => writer!.acks.get(id)!.seq);
    const refusals = sentDuringLock.map((id) => writer!.refused.get(id)).filter((r) => r !== undefined);
    await Bun.sleep(100);
    const metrics = await (await fetch(`${server.http}/metrics`)).text();
    return {
      unavailable: refusals.filter((r) => r.code === "unavailable").length,
      ackedAfterRelease: sentDuringLock.filter((id) => writer!.acks.has(id)).length,
      otherErrors: refusals.filter((r) => r.code !== "unavailable").map((r) => r.code),
      retryAfterMs: [...new Set(refusals.map((r) => r.retryAfterMs ?? -1))],
      inOrder: seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
      pingMaxMs: Math.round(pingMaxMs * 10) / 10,
      pings,
      stallsOver20ms,
      stallMaxMs: Math.round(stallMaxMs * 10) / 10,
      blockedMaxMs: Math.round(blockedMaxMs * 10) / 10,
      healthDuring,
      healthAfter,
      writePaths,
      logEvents: server.logs.filter((l) => l.includes('"storage.')).map((l) => JSON.parse(l).event as string),
      maintenanceSkipped: server.logs.filter((l) => l.includes('"maintenance.skipped"')).length,
      internalErrors: server.logs.filter((l) => l.includes('"internal.error"')),
      storageErrors: Number(/^sessiond_storage_errors_total\{code="SQLITE_BUSY"\} (\d+)$/m.exec(metrics)?.[1] ?? 0),
      recovered: writer!.acks.has(last),
    };
  } finally {
    await server.stop();
  }
}

/**
 * How many event-loop ticks of the server were at least `ms` late so far (a histogram bucket bound). By default the
 * loop's own blocking (`blocked`: lateness minus the time it waited for a core, where Linux reports it), which a
 * busy shared machine does not inflate; `stall` counts the whole lateness.
 */
export async function stallCount(server: ServerProcess, ms: number, kind: "blocked" | "stall" = "blocked"): Promise<number> {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const name = text.includes("sessiond_event_loop_blocked_seconds_count") && kind === "blocked" ? "sessiond_event_loop_blocked_seconds" : "sessiond_event_loop_stall_seconds";
  const le = Number(new RegExp(`^${name}_bucket\\{le="${ms / 1000}"\\} (\\d+)$`, "m").exec(text)?.[1]);
  const all = Number(new RegExp(`^${name}_count (\\d+)$`, "m").exec(text)?.[1]);
  return all - le;
}

/** The server's worst stall of the last 10-20 s (ms), whole and of its own making (the latter NaN off Linux). */
export async function recentStalls(server: ServerProcess): Promise<{ stallMs: number; blockedMs: number }> {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, "m").exec(text)?.[1]) * 1000;
  return { stallMs: gauge("sessiond_event_loop_stall_max_seconds"), blockedMs: gauge("sessiond_event_loop_blocked_max_seconds") };
}
