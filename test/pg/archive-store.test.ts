// Archive jobs on a real PostgreSQL server, several stores standing for several nodes: the job is inserted by the
// statement that ends the session (never for an end that did not happen), due jobs are claimed with a lease (one
// node each; a dead node's job taken over once the lease lapses), and erasure takes the job with the session.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PgArchiveStore } from "../../src/pg/archive-store.ts";
import { PgPrivacyStore } from "../../src/pg/privacy-store.ts";
import { Archiver } from "../../src/integrations/archiver.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Counter } from "../../src/observability/metrics.ts";
import type { SessionInfo } from "../../src/protocol/types.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";
import { eventually, tempDir } from "../helpers.ts";
import { freshDatabase, node, pool, server } from "./setup.ts";

beforeAll(async () => void (await server()), 60_000);

const T0 = 1_700_000_000_000;
const countOf = async (url: string, sql: string, ...params: unknown[]): Promise<number> => Number((await pool(url, 1).unsafe(sql, params))[0].n);

/** A database with `ids` as active sessions of alice. */
async function world(ids: string[]) {
  const url = await freshDatabase();
  const sessions = node(url, { archiveJobs: true });
  for (const id of ids) await sessions.insertSession(newSessionRecord({ id, ownerId: "alice", at: T0 }));
  return { url, sessions };
}

describe("the job is recorded by the end itself", () => {
  test("an end inserts one job; an end that does not happen (already ended) inserts none; with archives off, none", async () => {
    const { url, sessions } = await world(["s1", "s2"]);
    expect(await sessions.endSession("s1", "completed", T0 + 10)).toBe(true);
    expect(await sessions.endSession("s1", "cancelled", T0 + 20)).toBe(false);
    expect(await sessions.endSession("nope", "completed", T0 + 20)).toBe(false);
    const job = await new PgArchiveStore(pool(url), { nodeId: "a" }).job("s1");
    expect(job).toMatchObject({ session_id: "s1", status: "pending", attempts: 0, next_attempt_at: T0 + 10, created_at: T0 + 10, claimed_by: null });
    expect(await countOf(url, "SELECT count(*) AS n FROM archive_jobs")).toBe(1);
    const off = node(url);
    expect(await off.endSession("s2", "completed", T0 + 30)).toBe(true);
    expect(await countOf(url, "SELECT count(*) AS n FROM archive_jobs")).toBe(1);
    await sessions.close();
    await off.close();
  });

  test("several nodes ending the same sessions at once: each ends once, with exactly one job", async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const { url, sessions } = await world(ids);
    const others = [node(url, { archiveJobs: true }), node(url, { archiveJobs: true })];
    const results = await Promise.all(ids.flatMap((id) => [sessions, ...others].map((s) => s.endSession(id, "expired", T0 + 5))));
    expect(results.filter(Boolean)).toHaveLength(ids.length);
    expect(await countOf(url, "SELECT count(*) AS n FROM archive_jobs")).toBe(ids.length);
    for (const s of [sessions, ...others]) await s.close();
  });
});

describe("claims", () => {
  test("nodes claiming at once take disjoint jobs; a held job is not claimed by another node before its lease lapses", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `j${String(i).padStart(2, "0")}`);
    const { url, sessions } = await world(ids);
    for (const id of ids) await sessions.endSession(id, "completed", T0);
    const now = T0 + 1000;
    const stores = ["a", "b", "c"].map((nodeId) => new PgArchiveStore(pool(url), { nodeId, leaseMs: 60_000, now: () => now }));
    const claims = await Promise.all(stores.map((s) => s.due(now, 12)));
    const all = claims.flat().map((j) => j.session_id);
    expect(all.length).toBe(30);
    expect(new Set(all).size).toBe(30);
    // Everything is held: nobody else gets anything, the holder gets its own back (a drain at shutdown).
    expect(await stores[0]!.due(now, 100)).toHaveLength(claims[0]!.length);
    const d = new PgArchiveStore(pool(url), { nodeId: "d", now: () => now });
    expect(await d.due(now, 100)).toEqual([]);
    // Released at shutdown: free for the others at once.
    await stores[1]!.release();
    expect((await d.due(now, 100)).map((j) => j.session_id).sort()).toEqual(claims[1]!.map((j) => j.session_id).sort());
    // Another node's lease ends when its claim says: that is when the next one is due.
    expect(await stores[0]!.nextDueAt()).toBe(now + 60_000);
    expect(await stores[0]!.pendingCount()).toBe(30);
    await sessions.close();
  });

  test("a node that dies mid-write: its job is taken over after the lease; its late write is 'taken' and changes nothing", async () => {
    const { url, sessions } = await world(["dead"]);
    await sessions.endSession("dead", "completed", T0);
    let now = T0 + 100;
    const a = new PgArchiveStore(pool(url), { nodeId: "a", leaseMs: 5000, now: () => now });
    const b = new PgArchiveStore(pool(url), { nodeId: "b", leaseMs: 5000, now: () => now });
    expect((await a.due(now, 10)).map((j) => j.session_id)).toEqual(["dead"]);
    now += 4999;
    expect(await b.due(now, 10)).toEqual([]);
    now += 1;
    expect((await b.due(now, 10)).map((j) => j.session_id)).toEqual(["dead"]);
    expect((await b.job("dead"))!.claimed_by).toBe("b");
    // `a` comes back late: it neither marks the job written nor fails it under b's claim.
    expect(await a.markWritten("dead", "x/dead.json", now)).toBe("taken");
    await a.markFailed("dead", "EIO", now + 1000);
    await a.postpone("dead", now + 1000);
    expect(await b.job("dead")).toMatchObject({ status: "pending", attempts: 0, claimed_by: "b", last_error: null });
    expect(await b.markWritten("dead", "x/dead.json", now)).toBe(true);
    expect(await b.job("dead")).toMatchObject({ status: "written", attempts: 1, path: "x/dead.json", claimed_by: null });
    expect(await b.pendingCount()).toBe(0);
    expect(await b.nextDueAt()).toBeNull();
    await sessions.close();
  });

  test("a failure counts the attempt and releases the claim: the retry goes to whichever node finds it due", async () => {
    const { url, sessions } = await world(["f"]);
    await sessions.endSession("f", "completed", T0);
    const now = T0 + 100;
    const a = new PgArchiveStore(pool(url), { nodeId: "a", now: () => now });
    const b = new PgArchiveStore(pool(url), { nodeId: "b", now: () => now });
    await a.due(now, 1);
    await a.markFailed("f", "EACCES", now + 500);
    expect(await a.job("f")).toMatchObject({ attempts: 1, last_error: "EACCES", next_attempt_at: now + 500, claimed_by: null });
    expect(await b.due(now + 499, 1)).toEqual([]);
    expect((await b.due(now + 500, 1)).map((j) => j.attempts)).toEqual([1]);
    expect(await b.stillPending(["f", "other"])).toEqual(["f"]);
    await sessions.close();
  });
});

describe("erasure", () => {
  test("erasing a session takes its job with it and reports the path written; a late write finds the job gone", async () => {
    const { url, sessions } = await world(["e1", "e2"]);
    await sessions.endSession("e1", "completed", T0);
    await sessions.endSession("e2", "completed", T0);
    const now = T0 + 100;
    const a = new PgArchiveStore(pool(url), { nodeId: "a", now: () => now });
    await a.due(now, 10);
    expect(await a.markWritten("e1", "users/alice/dialogs/archived/e1.json", now)).toBe(true);
    const privacy = new PgPrivacyStore(pool(url));
    expect((await privacy.eraseSession("e1", now))!.archivePaths).toEqual(["users/alice/dialogs/archived/e1.json"]);
    expect((await privacy.eraseSession("e2", now))!.archivePaths).toEqual([]);
    expect(await countOf(url, "SELECT count(*) AS n FROM archive_jobs")).toBe(0);
    // e2 was claimed before its erasure: the write that follows learns it is gone.
    expect(await a.markWritten("e2", "users/alice/dialogs/archived/e2.json", now)).toBe(false);
    await sessions.close();
  });
});

describe("the archiver on PostgreSQL", () => {
  const session = (id: string) => ({ id, ownerId: "alice", startedAt: new Date(T0).toISOString(), status: "completed", metrics: { messageCount: 1 } }) as unknown as SessionInfo;
  const metrics = () => ({ written: new Counter("w", "w"), failures: new Counter("f", "f") });

  test("two archivers on one database and one folder: every session's file written exactly once", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `two${i}`);
    const { url, sessions } = await world(ids);
    for (const id of ids) await sessions.endSession(id, "completed", Date.now());
    const root = tempDir();
    const lines: string[] = [];
    const reads: string[] = [];
    const archivers = ["a", "b"].map(
      (nodeId) =>
        new Archiver({
          store: new PgArchiveStore(pool(url), { nodeId }),
          root,
          format: "json",
          read: async (id) => {
            reads.push(id);
            await Bun.sleep(2);
            return { session: session(id), pages: [[]] };
          },
          logger: createLogger("info", (line) => lines.push(line)),
          metrics: metrics(),
          pollMs: 50,
        }),
    );
    for (const a of archivers) a.start();
    await eventually(async () => (await countOf(url, "SELECT count(*) AS n FROM archive_jobs WHERE status = 'written'")) === ids.length, 10_000, "every job written");
    // The gauge's count follows within a poll on each node, whichever wrote the last ones.
    await eventually(() => archivers.every((a) => a.pendingCount() === 0), 2000, "the pending counts");
    for (const a of archivers) await a.stop();
    expect(reads.length).toBe(ids.length);
    expect(lines.filter((l) => l.includes('"archive.written"'))).toHaveLength(ids.length);
    const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith(".json"));
    expect(files).toHaveLength(ids.length);
    expect(archivers.every((a) => a.healthy())).toBe(true);
    await sessions.close();
  });

  test("a folder that cannot be written: retried with the backoff, /health false, then written once it can be", async () => {
    const { url, sessions } = await world(["r"]);
    await sessions.endSession("r", "completed", Date.now());
    const root = tempDir();
    // A file where the archive's first folder must go: every write fails (ENOTDIR or EEXIST).
    writeFileSync(join(root, "users"), "in the way");
    const store = new PgArchiveStore(pool(url), { nodeId: "a" });
    const archiver = new Archiver({
      store,
      root,
      format: "json",
      read: () => ({ session: session("r"), pages: [[]] }),
      logger: createLogger("error", () => {}),
      metrics: metrics(),
      retryBaseMs: 20,
      retryCapMs: 80,
      pollMs: 50,
    });
    archiver.start();
    await eventually(async () => ((await store.job("r"))?.attempts ?? 0) >= 3, 5000, "three attempts");
    expect(archiver.healthy()).toBe(false);
    const failed = (await store.job("r"))!;
    expect(failed.status).toBe("pending");
    expect(failed.last_error).not.toBeNull();
    expect(archiver.pendingCount()).toBe(1);
    rmSync(join(root, "users"));
    mkdirSync(join(root, "users"));
    await eventually(async () => (await store.job("r"))?.status === "written", 5000, "the write");
    await eventually(() => archiver.healthy(), 2000, "healthy again");
    await archiver.stop();
    const path = (await store.job("r"))!.path!;
    expect(JSON.parse(readFileSync(join(root, path), "utf8")).session.id).toBe("r");
    await sessions.close();
  });

  test("another node writes the job this node failed: this node's /health recovers without writing it again", async () => {
    const { url, sessions } = await world(["h"]);
    await sessions.endSession("h", "completed", Date.now());
    const blocked = tempDir();
    writeFileSync(join(blocked, "users"), "in the way");
    const a = new Archiver({
      store: new PgArchiveStore(pool(url), { nodeId: "a" }),
      root: blocked,
      format: "json",
      read: () => ({ session: session("h"), pages: [[]] }),
      logger: createLogger("error", () => {}),
      metrics: metrics(),
      retryBaseMs: 60_000,
      retryCapMs: 60_000,
      pollMs: 50,
    });
    a.start();
    await eventually(() => !a.healthy(), 5000, "a failed");
    // The retry is due in a minute; b is told it is due now (as once the minute has passed).
    await pool(url, 1).unsafe("UPDATE archive_jobs SET next_attempt_at = 0");
    const b = new PgArchiveStore(pool(url), { nodeId: "b" });
    const [job] = await b.due(Date.now(), 1);
    expect(job!.session_id).toBe("h");
    expect(await b.markWritten("h", "somewhere.json", Date.now())).toBe(true);
    await eventually(() => a.healthy(), 2000, "a healthy again");
    await a.stop();
    await sessions.close();
  });

  test("the session erased while its file is written: the file is removed, the job not retried", async () => {
    const { url, sessions } = await world(["gone"]);
    await sessions.endSession("gone", "completed", Date.now());
    const root = tempDir();
    const lines: string[] = [];
    const privacy = new PgPrivacyStore(pool(url));
    const archiver = new Archiver({
      store: new PgArchiveStore(pool(url), { nodeId: "a" }),
      root,
      format: "json",
      read: async (id) => {
        await privacy.eraseSession(id, Date.now());
        return { session: session(id), pages: [[]] };
      },
      logger: createLogger("info", (line) => lines.push(line)),
      metrics: metrics(),
      pollMs: 50,
    });
    archiver.start();
    await eventually(() => lines.some((l) => l.includes('"archive.skipped"')), 5000, "the skip");
    await archiver.stop();
    expect(lines.some((l) => l.includes('"archive.skipped"') && l.includes("erased"))).toBe(true);
    expect(lines.some((l) => l.includes('"archive.written"'))).toBe(false);
    const files = existsSync(root) ? (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith(".json")) : [];
    expect(files).toEqual([]);
    expect(archiver.healthy()).toBe(true);
    await sessions.close();
  });
});
