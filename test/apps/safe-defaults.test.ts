// Safe defaults: the development server is reachable from this machine only and keeps its own data; no tokens on a
// network address needs saying so; the database, its WAL/shm files and backups are 0600 whatever the umask; the
// Markdown export cannot be forged by what people write.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { api, MAIN, startServer, tempDir, token, WsClient, type ServerProcess } from "../helpers.ts";

const modeOf = (path: string): number => statSync(path).mode & 0o777;

/** Runs the CLI with a umask that would leave new files world-readable (0666/0777). */
function cliUnderOpenUmask(args: string[], env: Record<string, string>, cwd: string) {
  return Bun.spawn(["sh", "-c", 'umask 000 && exec "$0" "$@"', process.execPath, MAIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
}

describe("npm run dev", () => {
  test("package.json's dev script is the dev command", async () => {
    const pkg = await Bun.file(join(import.meta.dir, "..", "..", "package.json")).json();
    expect(pkg.scripts.dev).toBe("bun src/main.ts dev");
  });

  test("listens on 127.0.0.1 only, keeps its data in ./data-dev, and says both when it starts", async () => {
    const cwd = tempDir();
    const proc = Bun.spawn([process.execPath, MAIN, "dev"], {
      cwd,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: "0", LOG_LEVEL: "info" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const decoder = new TextDecoder();
    let out = "";
    const reader = proc.stdout.getReader();
    const deadline = Date.now() + 15_000;
    while (!out.includes('"server.started"') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value, { stream: true });
    }
    const started = JSON.parse(out.split("\n").find((l) => l.includes('"server.started"'))!);
    expect(started).toMatchObject({ host: "127.0.0.1", dataDir: "./data-dev", authMode: "none" });
    expect(existsSync(join(cwd, "data-dev", "sessiond.db"))).toBe(true);
    // The chat page is served, and anyone on this machine may be anyone (?user=).
    const page = await fetch(`http://127.0.0.1:${started.port}/examples/chat/`);
    expect(page.status).toBe(200);
    proc.kill("SIGTERM");
    await proc.exited;
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).toContain(`sessiond dev: listening on 127.0.0.1:${started.port} only, data in ./data-dev`);
  });

  test("AUTH_MODE=none on a non-loopback HOST refuses to start with one line, unless ALLOW_INSECURE_DEV=true", async () => {
    const run = async (env: Record<string, string>) => {
      const proc = Bun.spawn([process.execPath, MAIN, "serve"], {
        cwd: tempDir(),
        env: { PATH: process.env.PATH ?? "", DATA_DIR: tempDir(), PORT: "0", AUTH_MODE: "none", ...env },
        stdout: "pipe",
        stderr: "pipe",
      });
      // Stopped as soon as it says it started; a refusal exits by itself.
      let stdout = "";
      const decoder = new TextDecoder();
      let stopping = false;
      for await (const chunk of proc.stdout) {
        stdout += decoder.decode(chunk, { stream: true });
        if (!stopping && stdout.includes('"server.started"')) {
          stopping = true;
          setTimeout(() => proc.kill("SIGTERM"), 100);
        }
      }
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      return { code, stderr, stdout };
    };
    const refused = await run({ HOST: "0.0.0.0" });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toEqual([
      "config: AUTH_MODE=none with HOST=0.0.0.0 would let anyone who can reach this machine act as any user: listen on 127.0.0.1 (HOST=127.0.0.1), or set ALLOW_INSECURE_DEV=true if you really mean it",
    ]);
    expect(refused.stdout).not.toContain("server.started");
    // The default HOST (0.0.0.0) is refused the same way: only a loopback address passes without the override.
    expect((await run({})).code).toBe(1);
    const allowed = await run({ HOST: "0.0.0.0", ALLOW_INSECURE_DEV: "true" });
    expect(allowed.stdout).toContain("server.started");
    expect(allowed.code).toBe(0);
  });
});

describe("file permissions", () => {
  test("the database, its -wal and -shm files and the secret are 0600 even under umask 000", async () => {
    const dataDir = join(tempDir(), "fresh");
    const server = await startServer({
      dataDir,
      env: { JWT_SECRET: "" },
      cmd: ["sh", "-c", 'umask 000 && exec "$0" "$@"', process.execPath, MAIN, "serve"],
    });
    // A write makes sure the WAL is in use.
    const t = (await Bun.file(join(dataDir, "secret")).text()).trim();
    const { mintToken } = await import("../../src/auth/tokens.ts");
    const tok = await mintToken(t, { userId: "ann", ttlSeconds: 600 });
    expect((await api(server.http, "POST", "/api/sessions", { token: tok, body: {} })).status).toBe(201);
    for (const name of ["sessiond.db", "sessiond.db-wal", "sessiond.db-shm", "secret"]) {
      expect(existsSync(join(dataDir, name))).toBe(true);
      expect([name, modeOf(join(dataDir, name)).toString(8)]).toEqual([name, "600"]);
    }
    expect(modeOf(dataDir).toString(8)).toBe("700");
    await server.stop();
  });

  test("a backup is written 0600 under umask 000; into a folder that does not exist it says so in one line", async () => {
    const dataDir = tempDir();
    const migrate = cliUnderOpenUmask(["migrate"], { DATA_DIR: dataDir }, dataDir);
    expect(await migrate.exited).toBe(0);
    const target = join(tempDir(), "copy.db");
    const backup = cliUnderOpenUmask(["backup", target], { DATA_DIR: dataDir }, dataDir);
    expect(await backup.exited).toBe(0);
    expect(modeOf(target).toString(8)).toBe("600");

    const missing = join(tempDir(), "no", "such", "folder", "copy.db");
    const refused = cliUnderOpenUmask(["backup", missing], { DATA_DIR: dataDir }, dataDir);
    expect(await refused.exited).toBe(1);
    expect((await new Response(refused.stderr).text()).trim()).toBe(`backup: the folder ${join(missing, "..")} does not exist; create it first`);
    expect(existsSync(missing)).toBe(false);
  });

  test("an existing database left world-readable is tightened to 0600 at the next start", async () => {
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    expect(await cliUnderOpenUmask(["migrate"], { DATA_DIR: dataDir }, dataDir).exited).toBe(0);
    const { chmodSync } = await import("node:fs");
    chmodSync(join(dataDir, "sessiond.db"), 0o644);
    expect(await cliUnderOpenUmask(["migrate"], { DATA_DIR: dataDir }, dataDir).exited).toBe(0);
    expect(modeOf(join(dataDir, "sessiond.db")).toString(8)).toBe("600");
  });
});

describe("the Markdown export escapes what people write", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.stop());

  const exportMarkdown = async (id: string, t: string) =>
    (await fetch(`${server.http}/api/sessions/${id}/export?format=markdown`, { headers: { Authorization: `Bearer ${t}` } })).text();

  test("a message cannot forge a heading that looks like another author's entry", async () => {
    const mallory = await token("mallory");
    const ws = await WsClient.connect(server.ws, { token: mallory });
    const joined = await ws.request({ type: "join", session: "forgery" });
    await ws.request({ type: "configure", session: "forgery", access: "open" });
    const forged = `fine.\n\n### 2 · alice (user) · ${joined.session.startedAt}\n\nI consent to everything.`;
    await ws.request({ type: "message", session: "forgery", content: forged });
    await ws.request({ type: "message", session: "forgery", content: "# Session forgery\n- Owner: alice\nSetext\n===" });
    await ws.close();
    const md = await exportMarkdown("forgery", mallory);
    const html = Bun.markdown.html(md);
    // Exactly one h3 per real message, each naming its real author; the forged text is shown inside a code block.
    expect([...html.matchAll(/<h3>(.*?)<\/h3>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, "").split(" · ").slice(0, 2).join(" · "))).toEqual([
      "1 · mallory (user)",
      "2 · mallory (user)",
    ]);
    expect(html.match(/<h1>/g)).toHaveLength(1);
    expect(html.match(/<h2>/g)).toHaveLength(1);
    expect(html).toContain("I consent to everything.");
    expect(html.indexOf("I consent to everything.")).toBeGreaterThan(html.indexOf("<pre><code>"));
    expect(md).toContain(forged);
  });

  test("an unclosed code fence cannot swallow the rest of the transcript", async () => {
    const t = await token("nick");
    const ws = await WsClient.connect(server.ws, { token: t });
    await ws.request({ type: "join", session: "fences" });
    await ws.request({ type: "message", session: "fences", content: "look:\n```js\nconst x = 1;" });
    await ws.request({ type: "message", session: "fences", content: "````\nfour" });
    await ws.request({ type: "message", session: "fences", content: "after the fences" });
    await ws.close();
    const html = Bun.markdown.html(await exportMarkdown("fences", t));
    expect(html.match(/<h3>/g)).toHaveLength(3);
    // The third message is its own block after its own heading, not swallowed by the first one's fence.
    const third = html.lastIndexOf("<h3>");
    expect(html.indexOf("after the fences")).toBeGreaterThan(third);
    expect(html.match(/<pre><code>/g)).toHaveLength(3);
  });
});
