// Backup and restore with epochs against real processes and files: restore refuses a running server's database
// and files that are not a compatible sessiond database; a restored database has a new epoch, and a client
// recovering with a seq or epoch of the old history gets `reset: true` with the current history (the SDK: `reset`).
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { closeDatabase, openDatabase } from "../../src/db/open.ts";
import { migrate } from "../../src/db/migrate.ts";
import { restoreDatabase } from "../../src/db/restore.ts";
import { api, freePort, MAIN, ROOT, sdk, startServer, tempDir, token, WsClient } from "../helpers.ts";

const run = (dataDir: string, ...args: string[]) => {
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

describe("sessiond restore", () => {
  test("refuses while a server has the database open; afterwards restores with a new epoch, and clients from the old history are reset", async () => {
    const port = freePort();
    const first = await startServer({ env: { PORT: String(port) } });
    const t = await token("rosa");
    const c = await WsClient.connect(first.ws, { token: t });
    const joined = await c.request({ type: "join", session: "rs-1" });
    const oldEpoch = joined.epoch;
    expect(oldEpoch).toMatch(/^[0-9a-f]{16}$/);
    expect(joined.session.epoch).toBe(oldEpoch);
    for (let i = 1; i <= 3; i++) await c.request({ type: "message", session: "rs-1", content: `before backup ${i}` });
    const backup = join(tempDir(), "rs.db");
    expect(run(first.dataDir, "backup", backup).code).toBe(0);
    expect(statSync(backup).mode & 0o777).toBe(0o600);
    for (let i = 4; i <= 6; i++) await c.request({ type: "message", session: "rs-1", content: `after backup ${i}` });

    const refused = run(first.dataDir, "restore", backup);
    expect(refused.code).toBe(1);
    expect(refused.err.trim()).toBe(`restore: a server has ${join(first.dataDir, "sessiond.db")} open; stop it before restoring (a running server's database is never overwritten)`);
    // The running server was not disturbed.
    expect((await c.request({ type: "message", session: "rs-1", content: "still here" })).type).toBe("ack");
    await c.close();
    expect(await first.stop()).toBe(0);

    const restored = run(first.dataDir, "restore", backup);
    expect(restored.code).toBe(0);
    expect(restored.out).toContain("restored");
    expect(restored.out).toMatch(/kept as .*sessiond\.db\.before-restore-/);
    expect(statSync(join(first.dataDir, "sessiond.db")).mode & 0o777).toBe(0o600);

    const second = await startServer({ dataDir: first.dataDir, env: { PORT: String(port) } });
    try {
      const d = await WsClient.connect(second.ws, { token: t });
      // The client was at seq 7 of the old history: above this session's last seq (3), so it is reset.
      const reset = await d.request({ type: "join", session: "rs-1", since: 7, epoch: oldEpoch });
      expect(reset.epoch).not.toBe(oldEpoch);
      expect(reset.session.epoch).toBe(reset.epoch);
      expect(reset.reset).toBe(true);
      expect(reset.messages.map((m: any) => m.content)).toEqual(["before backup 1", "before backup 2", "before backup 3"]);
      // A seq that exists, but counted in the old epoch, is reset too.
      const stale = await d.request({ type: "join", session: "rs-1", since: 2, epoch: oldEpoch });
      expect(stale.reset).toBe(true);
      expect(stale.messages.map((m: any) => m.seq)).toEqual([1, 2, 3]);
      // The current epoch and a seq within the history: a normal recovery.
      const normal = await d.request({ type: "join", session: "rs-1", since: 2, epoch: reset.epoch });
      expect(normal.reset).toBeUndefined();
      expect(normal.messages.map((m: any) => m.seq)).toEqual([3]);
      // Without an epoch, a seq above the last is still not silently answered with nothing.
      const ahead = await d.request({ type: "join", session: "rs-1", since: 99 });
      expect(ahead.reset).toBe(true);
      expect(ahead.messages).toHaveLength(3);
      // The restore is in the restored database's audit trail.
      const audit = await api(second.http, "GET", "/api/admin/audit?action=database.restore", { token: await token("root", { admin: true }) });
      expect(audit.body.entries).toHaveLength(1);
      expect(audit.body.entries[0]).toMatchObject({ actorRole: "operator", objectType: "database", detail: { epoch: reset.epoch } });
      await d.close();
    } finally {
      await second.stop();
    }
  }, 90_000);

  test("the SDK re-delivers the restored history from the start and tells the app with a reset event", async () => {
    const port = freePort();
    const first = await startServer({ env: { PORT: String(port) } });
    const client = sdk(first, "sam");
    const handle = await client.join("rs-sdk");
    const seen: string[] = [];
    const resets: Array<{ epoch: string | undefined; previousLastSeq: number }> = [];
    handle.on("message", (m) => seen.push(m.content));
    handle.on("reset", (r) => resets.push(r));
    const clientResets: Array<{ session: string; previousLastSeq: number }> = [];
    client.on("reset", ({ session, previousLastSeq }) => clientResets.push({ session, previousLastSeq }));
    await handle.send("one");
    await handle.send("two");
    const backup = join(tempDir(), "sdk.db");
    expect(run(first.dataDir, "backup", backup).code).toBe(0);
    await handle.send("three");
    await handle.send("four");
    const epochBefore = handle.epoch;
    expect(epochBefore).toMatch(/^[0-9a-f]{16}$/);
    expect(handle.lastSeq).toBe(4);
    await first.stop();
    expect(run(first.dataDir, "restore", backup).code).toBe(0);
    const second = await startServer({ dataDir: first.dataDir, env: { PORT: String(port) } });
    try {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && resets.length === 0) await Bun.sleep(50);
      expect(resets).toEqual([{ epoch: handle.epoch, previousLastSeq: 4 }]);
      expect(handle.epoch).not.toBe(epochBefore);
      expect(clientResets).toEqual([{ session: "rs-sdk", previousLastSeq: 4 }]);
      while (Date.now() < deadline && seen.length < 6) await Bun.sleep(20);
      expect(seen).toEqual(["one", "two", "three", "four", "one", "two"]);
      expect(handle.lastSeq).toBe(2);
      await handle.send("five");
      while (Date.now() < deadline && seen.length < 7) await Bun.sleep(20);
      expect(seen.at(-1)).toBe("five");
    } finally {
      client.close();
      await second.stop();
    }
  }, 90_000);

  test("SSE: a resume position from another history gets a reset event, then the current history from the start", async () => {
    const s = await startServer();
    try {
      const t = await token("sia");
      const c = await WsClient.connect(s.ws, { token: t });
      const { epoch } = await c.request({ type: "join", session: "rs-sse" });
      for (let i = 1; i <= 3; i++) await c.request({ type: "message", session: "rs-sse", content: `m${i}` });
      const read = async (query: string) => {
        const ctl = new AbortController();
        const res = await fetch(`${s.http}/api/sessions/rs-sse/events?token=${t}&${query}`, { signal: ctl.signal });
        const reader = res.body!.getReader();
        let text = "";
        const deadline = Date.now() + 5000;
        while (!text.includes('"content":"m3"') && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
        ctl.abort();
        return text;
      };
      const reset = await read("since=9");
      expect(reset).toContain(`event: reset\ndata: {"type":"reset","session":"rs-sse","epoch":"${epoch}"}`);
      expect([...reset.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([1, 2, 3]);
      const other = await read("since=1&epoch=0000000000000000");
      expect(other).toContain("event: reset");
      const normal = await read(`since=1&epoch=${epoch}`);
      expect(normal).not.toContain("event: reset");
      expect([...normal.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([2, 3]);
      await c.close();
    } finally {
      await s.stop();
    }
  });

  test("refuses a file that is not a sessiond database, or one from a newer version, and changes nothing", () => {
    const dir = tempDir();
    const target = join(dir, "sessiond.db");
    const restore = (file: string) => restoreDatabase(file, target, { actor: { actorId: "cli:test", actorRole: "operator", address: "local" } });
    const junk = join(dir, "junk.db");
    writeFileSync(junk, "this is not a database at all, just some text that is long enough to look like a header....");
    expect(restore(junk)).toEqual({ ok: false, error: `${junk} is not a sessiond database (it is not an SQLite file)` });
    const other = join(dir, "other.db");
    const o = new Database(other, { create: true });
    o.run("CREATE TABLE notes (x TEXT)");
    o.close();
    expect(restore(other)).toEqual({ ok: false, error: `${other} is not a sessiond database (it has no __drizzle_migrations table)` });
    expect(restore(join(dir, "missing.db"))).toEqual({ ok: false, error: `no such file: ${join(dir, "missing.db")}` });

    // A real sessiond database, then a copy "from the future": a migration this version does not know.
    const good = join(dir, "good.db");
    const g = openDatabase(good);
    migrate(g);
    g.query("VACUUM INTO ?").run(join(dir, "future.db"));
    closeDatabase(g);
    const f = new Database(join(dir, "future.db"));
    f.run("INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('abc', 9999999999999)");
    f.close();
    const newer = restore(join(dir, "future.db"));
    expect(newer.ok).toBe(false);
    expect(!newer.ok && newer.error).toContain("was written by a newer sessiond");
    expect(existsSync(target)).toBe(false);
    const ok = restore(good);
    expect(ok).toMatchObject({ ok: true, migrated: 0, previous: null });
    expect(statSync(target).mode & 0o777).toBe(0o600);
    // Restoring over a stopped database keeps the old one beside it.
    const again = restore(good);
    expect(again.ok && again.previous).toMatch(/sessiond\.db\.before-restore-/);
    expect(again.ok && ok.ok && again.epoch !== ok.epoch).toBe(true);
  });
});
