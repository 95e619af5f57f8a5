// Transcript archive files against a real server process: each format is the export's document, at
// users/<owner>/dialogs/archived/<startedAt>-<id>.<ext>; written once across a crash between the end and the
// write; an unwritable folder is logged, shown on /health and retried until it works.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { archiveTimestamp, safeSegment } from "../../src/integrations/archive-path.ts";
import { api, eventually, holdWriteLock, MAIN, startServer, tempDir, token, WsClient, type ServerProcess } from "../helpers.ts";

const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) if (s.proc.exitCode === null) await s.stop("SIGKILL");
});

async function serve(archiveDir: string, env: Record<string, string> = {}, opts: { dataDir?: string; unprivileged?: boolean } = {}): Promise<ServerProcess> {
  const s = await startServer({ dataDir: opts.dataDir, env: { ARCHIVE_DIR: archiveDir, ...env }, ...(opts.unprivileged && unprivileged()) });
  servers.push(s);
  return s;
}

/** As root a folder's mode does not stop writes, so the "read-only folder" server runs as nobody. */
function unprivileged(): { cmd?: string[]; env?: Record<string, string> } {
  if (process.getuid?.() !== 0) return {};
  return { cmd: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, MAIN, "serve"] };
}

/** Every file under `dir` (temporary ones included), relative, sorted. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

async function sessionWithMessages(s: ServerProcess, owner: string, contents: string[]): Promise<{ id: string; startedAt: string }> {
  const t = await token(owner);
  const created = await api(s.http, "POST", "/api/sessions", { token: t, body: {} });
  expect(created.status).toBe(201);
  for (const content of contents) expect((await api(s.http, "POST", `/api/sessions/${created.body.id}/messages`, { token: t, body: { content } })).status).toBe(201);
  return { id: created.body.id, startedAt: created.body.startedAt };
}

const fileOf = (root: string, owner: string, s: { id: string; startedAt: string }, ext: string) =>
  join(root, "users", safeSegment(owner), "dialogs", "archived", `${archiveTimestamp(Date.parse(s.startedAt))}-${s.id}.${ext}`);

describe("archive files", () => {
  for (const [format, ext] of [["yaml", "yaml"], ["json", "json"], ["markdown", "md"]] as const) {
    test(`ARCHIVE_FORMAT=${format}: the file is the export's document, at users/<owner>/dialogs/archived/<startedAt>-<id>.${ext}`, async () => {
      const root = tempDir();
      const s = await serve(root, format === "yaml" ? {} : { ARCHIVE_FORMAT: format });
      const session = await sessionWithMessages(s, "ann", ["I feel great today, thank you!", "second: with `backticks` and # hashes"]);
      await api(s.http, "POST", `/api/sessions/${session.id}/end`, { token: await token("ann"), body: {} });
      const file = fileOf(root, "ann", session, ext);
      await eventually(() => existsSync(file), 10_000, "the archive file");
      const text = readFileSync(file, "utf8");
      expect(text).toBe(await exportText(s, session.id, format));
      if (format === "yaml") {
        const doc = parseYaml(text);
        expect(doc.session).toMatchObject({ id: session.id, ownerId: "ann", status: "completed" });
        expect(doc.messages.map((m: any) => m.content)).toEqual(["I feel great today, thank you!", "second: with `backticks` and # hashes"]);
        // Analysis included, as a staff export has it (the archive waits briefly for the last analyses).
        expect(doc.messages[0].analysis.sentiment.labels[0]).toBe("positive");
      } else if (format === "json") {
        const doc = JSON.parse(text);
        expect(doc.session.id).toBe(session.id);
        expect(doc.messages.map((m: any) => m.seq)).toEqual([1, 2]);
      } else {
        expect(text).toStartWith(`# Session ${session.id}`);
        expect(text).toContain("I feel great today, thank you!");
      }
      // One file, no temporary left behind; the log names the path, not the content.
      expect(filesUnder(root)).toEqual([join("users", "ann", "dialogs", "archived", `${archiveTimestamp(Date.parse(session.startedAt))}-${session.id}.${ext}`)]);
      // The file appears at the rename; the job is marked and the line logged right after.
      await eventually(() => s.logs.some((l) => l.includes('"archive.written"')), 5000, "the archive.written line");
      const line = s.logs.find((l) => l.includes('"archive.written"'))!;
      expect(JSON.parse(line)).toMatchObject({ session: session.id, messages: 2 });
      expect(s.logs.some((l) => l.includes("I feel great"))).toBe(false);
    });
  }

  test("owner ids are made safe: traversal, slashes and unicode stay inside ARCHIVE_DIR as distinct folders", async () => {
    const root = join(tempDir(), "archive");
    const s = await serve(root, { ARCHIVE_FORMAT: "json" });
    const owners = ["../../escape", "a/b", "a%2Fb", "..", "zoë"];
    const sessions = [];
    for (const owner of owners) {
      const session = await sessionWithMessages(s, owner, ["hi"]);
      await api(s.http, "POST", `/api/sessions/${session.id}/end`, { token: await token(owner), body: {} });
      sessions.push({ owner, session });
    }
    for (const { owner, session } of sessions) await eventually(() => existsSync(fileOf(root, owner, session, "json")), 10_000, `the file of ${owner}`);
    expect(readdirSync(join(root, "users")).sort()).toEqual(["%2E.", "%2E.%2F..%2Fescape", "a%252Fb", "a%2Fb", "zo%C3%AB"]);
    expect(readdirSync(join(root, ".."))).toEqual(["archive"]);
  });

  test("a session that expires is archived with status expired", async () => {
    const root = tempDir();
    const s = await serve(root, { SESSION_EXPIRY_SECONDS: "1", ARCHIVE_FORMAT: "json" });
    const session = await sessionWithMessages(s, "eve", ["bye"]);
    const file = fileOf(root, "eve", session, "json");
    await eventually(() => existsSync(file), 15_000, "the archive of the expired session");
    expect(JSON.parse(readFileSync(file, "utf8")).session.status).toBe("expired");
  });

  test("ARCHIVE_ON_SHUTDOWN: sessions ended at SIGTERM are archived before the process exits", async () => {
    const root = tempDir();
    const s = await serve(root, { ARCHIVE_ON_SHUTDOWN: "true" });
    const a = await sessionWithMessages(s, "sam", ["one"]);
    const b = await sessionWithMessages(s, "sue", ["two"]);
    expect(await s.stop("SIGTERM")).toBe(0);
    for (const [owner, session] of [["sam", a], ["sue", b]] as const) {
      const file = fileOf(root, owner, session, "yaml");
      expect(existsSync(file)).toBe(true);
      expect(parseYaml(readFileSync(file, "utf8")).session.status).toBe("completed");
    }
  });
});

describe("when the folder cannot be written", () => {
  test("a blocked folder: a clear error in the log, /health degraded, retried, written once it can be", async () => {
    const root = tempDir();
    writeFileSync(join(root, "users"), "not a folder"); // every write under users/ fails (even for root)
    const s = await serve(root, { ARCHIVE_FORMAT: "json" });
    const session = await sessionWithMessages(s, "bo", ["private words"]);
    await api(s.http, "POST", `/api/sessions/${session.id}/end`, { token: await token("bo"), body: {} });
    await eventually(() => s.logs.some((l) => l.includes('"archive.write_failed"')), 10_000, "the failure line");
    const failure = JSON.parse(s.logs.find((l) => l.includes('"archive.write_failed"'))!);
    expect(failure).toMatchObject({ level: "error", session: session.id, code: "ENOTDIR", attempt: 1 });
    expect(failure.hint).toContain("ARCHIVE_DIR");
    expect(s.logs.some((l) => l.includes("private words"))).toBe(false);
    const health = await api(s.http, "GET", "/health");
    expect(health.body.status).toBe("degraded");
    expect(health.body.checks.archive).toBe(false);

    rmSync(join(root, "users"));
    const file = fileOf(root, "bo", session, "json");
    await eventually(() => existsSync(file), 15_000, "the file after the folder was fixed");
    await eventually(async () => (await api(s.http, "GET", "/health")).body.checks.archive === true, 5000, "a healthy archive check");
    expect(JSON.parse(readFileSync(file, "utf8")).messages).toHaveLength(1);
    expect(filesUnder(root)).toHaveLength(1);
  });

  test("a database too busy for the archive's own bookkeeping is logged and retried, never fatal", async () => {
    const root = tempDir();
    writeFileSync(join(root, "users"), "not a folder");
    const s = await serve(root, { ARCHIVE_FORMAT: "json" });
    const session = await sessionWithMessages(s, "bu", ["x"]);
    await api(s.http, "POST", `/api/sessions/${session.id}/end`, { token: await token("bu"), body: {} });
    await eventually(() => s.logs.some((l) => l.includes('"archive.write_failed"')), 10_000, "the first failed write");
    // Another process holds the write lock through the next retries: recording their failure is refused too.
    const lock = holdWriteLock(s.dataDir);
    try {
      await eventually(() => s.logs.some((l) => l.includes('"archive.store_failed"')), 10_000, "the bookkeeping failure");
    } finally {
      lock.release();
    }
    expect(JSON.parse(s.logs.find((l) => l.includes('"archive.store_failed"'))!)).toMatchObject({ level: "warn", code: "SQLITE_BUSY" });
    expect(s.proc.exitCode).toBeNull();
    rmSync(join(root, "users"));
    await eventually(() => existsSync(fileOf(root, "bu", session, "json")), 15_000, "the file once both are fixed");
    expect((await api(s.http, "GET", "/health")).status).toBe(200);
  });

  test("a read-only folder (EACCES) is retried and written once it is writable again", async () => {
    const root = tempDir();
    const dataDir = tempDir();
    chmodSync(dataDir, 0o777);
    chmodSync(root, 0o555);
    const s = await serve(root, { ARCHIVE_FORMAT: "yaml", HOME: dataDir }, { dataDir, unprivileged: true });
    const session = await sessionWithMessages(s, "ro", ["x"]);
    await api(s.http, "POST", `/api/sessions/${session.id}/end`, { token: await token("ro"), body: {} });
    await eventually(() => s.logs.some((l) => l.includes('"archive.write_failed"') && l.includes("EACCES")), 10_000, "the EACCES line");
    expect((await api(s.http, "GET", "/health")).body.checks.archive).toBe(false);
    chmodSync(root, 0o777);
    await eventually(() => existsSync(fileOf(root, "ro", session, "yaml")), 15_000, "the file once writable");
    expect(filesUnder(root)).toHaveLength(1);
  });

  test("kill -9 between the end and the write: the file is written after the restart, once", async () => {
    const root = tempDir();
    const dataDir = tempDir();
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "users"), "blocked");
    const first = await serve(root, { ARCHIVE_FORMAT: "markdown" }, { dataDir });
    const session = await sessionWithMessages(first, "kay", ["before the crash"]);
    await api(first.http, "POST", `/api/sessions/${session.id}/end`, { token: await token("kay"), body: {} });
    // The end committed with its archive job; the write has failed, so the file is owed.
    await eventually(() => first.logs.some((l) => l.includes('"archive.write_failed"')), 10_000, "the failed write");
    first.proc.kill("SIGKILL");
    await first.exited;
    rmSync(join(root, "users"));
    const second = await serve(root, { ARCHIVE_FORMAT: "markdown" }, { dataDir });
    const file = fileOf(root, "kay", session, "md");
    await eventually(() => existsSync(file), 15_000, "the file after the restart");
    expect(readFileSync(file, "utf8")).toContain("before the crash");
    await Bun.sleep(300);
    expect(filesUnder(root)).toHaveLength(1);
    // Written exactly once: a further restart does not write it again.
    expect(await second.stop()).toBe(0);
    const third = await serve(root, { ARCHIVE_FORMAT: "markdown" }, { dataDir });
    await Bun.sleep(500);
    expect(third.logs.some((l) => l.includes('"archive.written"'))).toBe(false);
    expect(filesUnder(root)).toHaveLength(1);
  });
});

/** The export as an admin reads it (the archive is written as a staff reader). */
async function exportText(s: ServerProcess, id: string, format: string): Promise<string> {
  const res = await fetch(`${s.http}/api/sessions/${id}/export?format=${format}`, { headers: { Authorization: `Bearer ${await token("root", { admin: true })}` } });
  return res.text();
}
