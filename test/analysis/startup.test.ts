// Bad analysis settings stop start-up with exit 1 and one readable line: an unusable ANALYSIS_TOPICS_FILE, and
// ANALYZER=llm without a model server. A good topics file replaces the default taxonomy.
import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN, moderatorToken, startServer, tempDir, token, WsClient } from "../helpers.ts";

async function startWith(env: Record<string, string>): Promise<{ code: number; stderr: string; stdout: string; dataDir: string }> {
  const dataDir = tempDir();
  const proc = Bun.spawn([process.execPath, MAIN, "serve"], {
    cwd: tempDir(),
    env: { PATH: process.env.PATH ?? "", DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", JWT_SECRET: "s".repeat(40), ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stderr, stdout] = await Promise.all([proc.exited, new Response(proc.stderr).text(), new Response(proc.stdout).text()]);
  return { code, stderr, stdout, dataDir };
}

describe("bad analysis settings", () => {
  test("a missing topics file", async () => {
    const path = join(tempDir(), "missing.json");
    const { code, stderr, stdout, dataDir } = await startWith({ ANALYSIS_TOPICS_FILE: path });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`config: ANALYSIS_TOPICS_FILE is invalid: The topics file ${path} does not exist.`);
    expect(stdout).not.toContain("server.started");
    // Refused before anything was written: no database was created or migrated.
    expect(stdout).not.toContain("db.migrated");
    expect(existsSync(join(dataDir, "sessiond.db"))).toBe(false);
  });

  test("a missing ENCRYPTION_KEY_FILE is refused the same way, before the database is created", async () => {
    const { code, stderr, dataDir } = await startWith({ ENCRYPTION_KEY_FILE: join(tempDir(), "no-such-key") });
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toStartWith("config: ENCRYPTION_KEY_FILE=");
    expect(existsSync(join(dataDir, "sessiond.db"))).toBe(false);
  });

  test("a topics file that is not a taxonomy", async () => {
    const path = join(tempDir(), "topics.json");
    writeFileSync(path, JSON.stringify({ topics: { sleep: "insomnia" } }));
    const { code, stderr } = await startWith({ ANALYSIS_TOPICS_FILE: path });
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toStartWith("config: ANALYSIS_TOPICS_FILE is invalid: The topics file ");
    expect(stderr).toContain('topic "sleep" must map to a list of words');
    expect(stderr).not.toContain("    at ");
  });

  test("ANALYZER=llm without AI_BASE_URL", async () => {
    const { code, stderr, stdout } = await startWith({ ANALYZER: "llm" });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      'config: ANALYZER="llm" is invalid: expected AI_BASE_URL to be set as well (the model server\'s OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1)',
    );
    expect(stdout).not.toContain("server.started");
  });
});

test("a valid topics file replaces the default taxonomy, in the worker", async () => {
  const path = join(tempDir(), "topics.json");
  writeFileSync(path, JSON.stringify({ topics: { gardening: ["tomato", "compost", "seedling"] } }));
  const server = await startServer({ env: { ANALYSIS_TOPICS_FILE: path } });
  try {
    const moderator = await WsClient.connect(server.ws, { token: await moderatorToken("dr-mo") });
    const user = await WsClient.connect(server.ws, { token: await token("sam") });
    await user.request({ type: "join", session: "garden" });
    await moderator.request({ type: "join", session: "garden" });
    const ack = await user.request({ type: "message", session: "garden", content: "my tomato seedlings love the new compost, but work is stressful" });
    const frame = await moderator.waitFor((f) => f.type === "analysis" && f.seq === ack.seq);
    expect(frame.analysis.topics.topics).toEqual(["gardening"]);
    await user.close();
    await moderator.close();
  } finally {
    await server.stop();
  }
});
