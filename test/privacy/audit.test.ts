// The audit trail against a real server: which reads and actions are recorded (who, role, what, which object,
// when, from where), the admin route's filters, that it never holds content, and `sessiond audit verify` on the file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mintToken } from "../../src/auth/tokens.ts";
import { api, eventually, MAIN, ROOT, startServer, tempDir, TEST_SECRET, token, WsClient, type ServerProcess } from "../helpers.ts";

const moderatorToken = (userId: string) => mintToken(TEST_SECRET, { userId, moderator: true, ttlSeconds: 3600 });

let server: ServerProcess;
let admin: string;
const audit = async (query = "") => (await api(server.http, "GET", `/api/admin/audit${query}`, { token: admin })).body;
const cli = (...args: string[]) => Bun.spawnSync([process.execPath, MAIN, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: server.dataDir } });

beforeAll(async () => {
  server = await startServer({ env: { ALERT_MIN_RISK: "medium" } });
  admin = await token("root", { admin: true });
});
afterAll(async () => {
  await server.stop();
});

describe("what is recorded", () => {
  test("a read from outside the session is recorded with who, role, object, time and address; the session's own people are not", async () => {
    const owner = await WsClient.connect(server.ws, { token: await token("olga") });
    await owner.request({ type: "join", session: "aud-1" });
    await owner.request({ type: "configure", session: "aud-1", members: ["max"], config: { secretNote: "AUDIT-CONFIG-SECRET" } });
    await owner.request({ type: "message", session: "aud-1", content: "AUDIT-CONTENT-SECRET" });
    // The owner and a member read: not audited.
    await api(server.http, "GET", "/api/sessions/aud-1/messages", { token: await token("olga") });
    await api(server.http, "GET", "/api/sessions/aud-1", { token: await token("max") });
    // A moderator reads three ways, an admin exports.
    const before = Date.now();
    const mod = await moderatorToken("dr-mia");
    await api(server.http, "GET", "/api/sessions/aud-1", { token: mod });
    await api(server.http, "GET", "/api/sessions/aud-1/messages", { token: mod });
    const watcher = await WsClient.connect(server.ws, { token: mod });
    await watcher.request({ type: "join", session: "aud-1" });
    await (await fetch(`${server.http}/api/sessions/aud-1/export`, { headers: { Authorization: `Bearer ${admin}` } })).text();
    // A user who neither owns nor belongs to it reads it once it is open.
    await owner.request({ type: "configure", session: "aud-1", access: "open" });
    await api(server.http, "GET", "/api/sessions/aud-1", { token: await token("nosy") });

    const { entries } = await audit("?session=aud-1");
    expect(entries.map((e: any) => [e.actorId, e.actorRole, e.action, e.detail?.via])).toEqual([
      ["dr-mia", "moderator", "session.read", "get"],
      ["dr-mia", "moderator", "session.read", "history"],
      ["dr-mia", "moderator", "session.read", "join"],
      ["root", "admin", "session.export", "export"],
      ["nosy", "user", "session.read", "get"],
    ]);
    for (const e of entries) {
      expect(e).toMatchObject({ objectType: "session", objectId: "aud-1", address: "127.0.0.1" });
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(before - 5);
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    await owner.close();
    await watcher.close();
  });

  test("alert acknowledge and resolve, admin reset, erasure, export and backups are recorded", async () => {
    const user = await WsClient.connect(server.ws, { token: await token("una") });
    await user.request({ type: "join", session: "aud-alert" });
    await user.request({ type: "message", session: "aud-alert", content: "I want to kill myself" });
    const mod = await moderatorToken("dr-ned");
    let alertId = "";
    await eventually(async () => {
      const list = await api(server.http, "GET", "/api/alerts?session=aud-alert", { token: mod });
      alertId = list.body.alerts?.[0]?.id ?? "";
      return alertId !== "";
    }, 10_000, "an alert");
    expect((await api(server.http, "POST", `/api/alerts/${alertId}/acknowledge`, { token: mod, body: {} })).status).toBe(200);
    expect((await api(server.http, "POST", `/api/alerts/${alertId}/resolve`, { token: mod, body: { note: "called them" } })).status).toBe(200);
    await user.close();
    await (await fetch(`${server.http}/api/admin/users/una/export`, { headers: { Authorization: `Bearer ${admin}` } })).text();
    expect((await api(server.http, "DELETE", "/api/admin/sessions/aud-alert", { token: admin })).status).toBe(200);
    expect((await api(server.http, "DELETE", "/api/admin/users/una", { token: admin })).status).toBe(200);
    expect((await api(server.http, "POST", "/api/admin/reset", { token: admin })).status).toBe(200);
    // A refused action is not recorded as done.
    expect((await api(server.http, "POST", "/api/admin/reset", { token: await token("una") })).status).toBe(403);
    expect(cli("backup", join(tempDir(), "b.db")).exitCode).toBe(0);

    const actions = (await audit()).entries.map((e: any) => `${e.actorId} ${e.action} ${e.objectType}:${e.objectId}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        `dr-ned alert.acknowledge alert:${alertId}`,
        `dr-ned alert.resolve alert:${alertId}`,
        "root user.export user:una",
        "root session.erase session:aud-alert",
        "root user.erase user:una",
        "root admin.reset database:all",
      ]),
    );
    expect(actions.filter((a: string) => a.includes("admin.reset"))).toHaveLength(1);
    expect(actions.some((a: string) => /^cli:.* database\.backup database:sessiond\.db$/.test(a))).toBe(true);
  });

  test("the route filters by actor and action and pages with after/limit", async () => {
    const byActor = (await audit("?actor=dr-mia")).entries;
    expect(byActor.length).toBe(3);
    expect(byActor.every((e: any) => e.actorId === "dr-mia")).toBe(true);
    expect((await audit("?action=session.export")).entries.map((e: any) => e.actorId)).toEqual(["root"]);
    const first = await audit("?limit=2");
    expect(first.entries).toHaveLength(2);
    const second = await audit(`?limit=2&after=${first.nextAfter}`);
    expect(second.entries[0].id).toBe(first.entries[1].id + 1);
    expect((await api(server.http, "GET", "/api/admin/audit?action=bogus", { token: admin })).status).toBe(400);
  });

  test("the trail never holds content: no message text or config in the table", () => {
    const db = new Database(join(server.dataDir, "sessiond.db"), { readonly: true });
    const text = JSON.stringify(db.query("SELECT * FROM audit_log").all());
    db.close();
    expect(text).toContain("dr-mia");
    for (const secret of ["AUDIT-CONTENT-SECRET", "AUDIT-CONFIG-SECRET", "kill myself", "called them"]) expect(text).not.toContain(secret);
  });
});

describe("sessiond audit verify", () => {
  test("an intact chain passes; an edited or removed entry is found by its id (exit 1)", () => {
    const ok = cli("audit", "verify");
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout.toString()).toMatch(/^audit: \d+ entries, chain intact\n$/);
    // Tamper with a copy of the data folder, as someone with the file would: triggers off, then an edit.
    const copy = tempDir();
    expect(cli("backup", join(copy, "sessiond.db")).exitCode).toBe(0);
    const verify = () => Bun.spawnSync([process.execPath, MAIN, "audit", "verify"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: copy } });
    expect(verify().exitCode).toBe(0);
    const db = new Database(join(copy, "sessiond.db"));
    expect(() => db.run("UPDATE audit_log SET actor_id = 'someone' WHERE id = 2")).toThrow("append-only");
    db.run("DROP TRIGGER audit_log_no_update");
    db.run("DROP TRIGGER audit_log_no_delete");
    db.run("UPDATE audit_log SET actor_id = 'someone' WHERE id = 2");
    const edited = verify();
    expect(edited.exitCode).toBe(1);
    expect(edited.stderr.toString().trim()).toBe("audit: the chain breaks at entry 2: entry 2 was edited: its content does not match its hash");
    db.run("UPDATE audit_log SET actor_id = 'dr-mia' WHERE id = 2");
    expect(verify().exitCode).toBe(0);
    db.run("DELETE FROM audit_log WHERE id = 3");
    const removed = verify();
    expect(removed.exitCode).toBe(1);
    expect(removed.stderr.toString().trim()).toBe("audit: the chain breaks at entry 4: entry 4 follows entry 2: 1 entry is missing before it");
    const last = (db.query("SELECT max(id) AS n FROM audit_log").get() as { n: number }).n;
    db.run("DELETE FROM audit_log WHERE id >= 3");
    const truncated = verify();
    expect(truncated.exitCode).toBe(1);
    expect(truncated.stderr.toString()).toContain(`audit: the chain breaks at entry ${last}: the trail ends at entry 2`);
    db.close();
  }, 90_000);

  test("no database, or a file that is not one: exit 1 with a sentence naming the path", () => {
    const empty = tempDir();
    const none = Bun.spawnSync([process.execPath, MAIN, "audit", "verify"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: empty } });
    expect(none.exitCode).toBe(1);
    expect(none.stderr.toString().trim()).toBe(`audit: no database at ${join(empty, "sessiond.db")} (set DATA_DIR to the server's data folder)`);
    expect(existsSync(join(empty, "sessiond.db"))).toBe(false);
    const garbage = tempDir();
    writeFileSync(join(garbage, "sessiond.db"), "not a database at all ".repeat(200));
    const bad = Bun.spawnSync([process.execPath, MAIN, "audit", "verify"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: garbage } });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.toString().trim()).toStartWith(`audit: ${join(garbage, "sessiond.db")} cannot be read as a sessiond database`);
  });
});
