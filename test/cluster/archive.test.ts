// Archive files with two real nodes on one PostgreSQL and one Redis, sharing one ARCHIVE_DIR: every session ended
// on either node (by its owner, or by the expiry sweep) gets exactly one file with its transcript, written by one
// node; a session erased after its end has no file, whether the erasure came before or after the write.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { api, eventually, tempDir, token } from "../helpers.ts";
import { startCluster, type Cluster } from "./setup.ts";

const archiveDir = tempDir();
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({
    nodes: 2,
    env: { ARCHIVE_DIR: archiveDir, ARCHIVE_FORMAT: "json", SESSION_EXPIRY_SECONDS: "5", SESSION_SWEEP_INTERVAL_SECONDS: "1" },
  });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

const http = (i: number) => cluster.nodes[i]!.http;

/** Archive files of a session under the shared folder (any format), relative. */
const filesOf = (id: string): string[] =>
  existsSync(archiveDir) ? (readdirSync(archiveDir, { recursive: true }) as string[]).filter((f) => f.endsWith(`-${id}.json`)) : [];

/** `archive.written` lines for the session, on every node. */
const writtenLines = (id: string): number =>
  cluster.nodes.flatMap((n) => n.logs).filter((l) => l.includes('"archive.written"') && l.includes(`"session":"${id}"`)).length;

/** A session of `owner` opened on node `on` with `contents` posted there; its id. */
async function sessionOn(on: number, owner: string, contents: string[]): Promise<string> {
  const t = await token(owner);
  const created = await api(http(on), "POST", "/api/sessions", { token: t, body: {} });
  expect(created.status).toBe(201);
  for (const content of contents) expect((await api(http(on), "POST", `/api/sessions/${created.body.id}/messages`, { token: t, body: { content } })).status).toBe(201);
  return created.body.id as string;
}

describe("archive files across two nodes", () => {
  test("sessions ended on both nodes: exactly one file per session, with its transcript, written once", async () => {
    const ended: Array<{ id: string; contents: string[] }> = [];
    for (let k = 0; k < 12; k++) {
      const contents = [`first ${k}`, `second ${k}`];
      const id = await sessionOn(k % 2, `owner${k}`, contents);
      // Ended on the other node half the time.
      const endOn = k % 3 === 0 ? k % 2 : 1 - (k % 2);
      expect((await api(http(endOn), "POST", `/api/sessions/${id}/end`, { token: await token(`owner${k}`), body: {} })).status).toBe(200);
      ended.push({ id, contents });
    }
    for (const { id } of ended) await eventually(() => writtenLines(id) === 1, 15_000, `the archive of ${id}`);
    // Let a second writer, if there were one, show itself.
    await Bun.sleep(2500);
    for (const { id, contents } of ended) {
      const files = filesOf(id);
      expect(files).toHaveLength(1);
      const doc = JSON.parse(readFileSync(join(archiveDir, files[0]!), "utf8"));
      expect(doc.session).toMatchObject({ id, status: "completed" });
      expect(doc.messages.map((m: { content: string }) => m.content)).toEqual(contents);
      // The archive waited for the analyses (of whichever node made them), as a staff export shows them.
      expect(doc.messages.every((m: { analysis?: unknown }) => m.analysis !== undefined)).toBe(true);
      expect(writtenLines(id)).toBe(1);
    }
    // Both nodes wrote some: the node that ends a session looks for due jobs at once.
    const writers = cluster.nodes.map((n) => n.logs.filter((l) => l.includes('"archive.written"')).length);
    expect(writers.every((n) => n > 0)).toBe(true);
    for (const i of [0, 1]) {
      const health = await (await fetch(`${http(i)}/health`)).json();
      expect(health.checks.archive).toBe(true);
    }
    const metrics = await (await fetch(`${http(0)}/metrics`)).text();
    expect(metrics).toMatch(/sessiond_archive_pending 0/);
  }, 60_000);

  test("a session that expires (the sweep on whichever node ends it) is archived once, with status expired", async () => {
    const id = await sessionOn(0, "idler", ["then silence"]);
    await eventually(() => writtenLines(id) === 1, 20_000, "the expired session's archive");
    await Bun.sleep(1500);
    const files = filesOf(id);
    expect(files).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(archiveDir, files[0]!), "utf8")).session.status).toBe("expired");
    expect(writtenLines(id)).toBe(1);
  }, 40_000);

  test("a session ended then erased on the other node: no file, whether the erasure came before or after the write", async () => {
    const admin = await token("root", { admin: true });
    // After the write: the erasure removes the file and counts it.
    const written = await sessionOn(0, "eve", ["to be forgotten"]);
    await api(http(0), "POST", `/api/sessions/${written}/end`, { token: await token("eve"), body: {} });
    await eventually(() => filesOf(written).length === 1, 15_000, "the file before the erasure");
    const erased = await api(http(1), "DELETE", `/api/admin/sessions/${written}`, { token: admin });
    expect(erased.status).toBe(200);
    expect(erased.body.archiveFiles).toBe(1);
    expect(filesOf(written)).toEqual([]);
    // Right after the end, likely before or during the write: whichever way, no file stays.
    const racing = await sessionOn(1, "eve", ["also forgotten"]);
    await api(http(1), "POST", `/api/sessions/${racing}/end`, { token: await token("eve"), body: {} });
    expect((await api(http(0), "DELETE", `/api/admin/sessions/${racing}`, { token: admin })).status).toBe(200);
    await Bun.sleep(4000);
    expect(filesOf(racing)).toEqual([]);
    expect(filesOf(written)).toEqual([]);
    for (const i of [0, 1]) expect((await (await fetch(`${http(i)}/health`)).json()).checks.archive).toBe(true);
  }, 60_000);
});
