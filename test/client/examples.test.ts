// The examples keep working: the Bun transcript follower resumes exactly where it stopped; the chat page is served
// in development mode only, and nothing outside examples/ is.
import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { api, eventually, ROOT, sdk, startServer, tempDir, TEST_SECRET, token } from "../helpers.ts";

const server = await startServer({ env: { DEV_EXAMPLES: "true" } });
afterAll(() => server.stop());

test("the Bun transcript example writes every message once, resuming after its own restart from the last seq written", async () => {
  const file = join(tempDir(), "transcript.jsonl");
  const run = () =>
    Bun.spawn([process.execPath, join(ROOT, "examples", "bun", "transcript.ts"), "retro", file], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", JWT_SECRET: TEST_SECRET, SESSIOND_URL: server.http },
      stdout: "ignore",
      stderr: "pipe",
    });
  const lines = () => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l).content as string) : []);
  const alice = sdk(server, "alice", { getToken: () => token("alice", { sessions: ["room:retro"] }) });
  const room = await alice.join({ room: "retro" });
  await room.send("before the follower");

  let follower = run();
  await eventually(() => lines().length === 1, 10_000, "the history line");
  await room.send("while following");
  await eventually(() => lines().length === 2, 10_000, "the live line");
  follower.kill("SIGKILL");
  await follower.exited;
  for (const content of ["missed 1", "missed 2"]) await room.send(content);

  follower = run();
  await room.send("after the restart");
  await eventually(() => lines().length === 5, 10_000, "the missed and live lines");
  await Bun.sleep(200);
  expect(lines()).toEqual(["before the follower", "while following", "missed 1", "missed 2", "after the restart"]);
  follower.kill("SIGINT");
  expect(await follower.exited).toBe(0);
  await alice.close();
});

test("DEV_EXAMPLES serves the chat page and the SDK bundle, and nothing outside examples/", async () => {
  const page = await fetch(`${server.http}/examples/chat/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<script type="module" src="./chat.js">');
  const bundle = await fetch(`${server.http}/examples/sessiond-client.js`);
  expect(bundle.headers.get("content-type")).toContain("javascript");
  expect(await bundle.text()).toContain("connect");
  const folder = await fetch(`${server.http}/examples/chat`, { redirect: "manual" });
  expect(folder.status).toBe(302);
  expect(folder.headers.get("location")).toBe("/examples/chat/");
  for (const path of ["/examples/..%2Fpackage.json", "/examples/%2E%2E/src/main.ts", "/examples/nope.html"]) {
    const res = await api(server.http, "GET", path);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
  }
});

test("without DEV_EXAMPLES there is no /examples route", async () => {
  const plain = await startServer();
  try {
    expect((await fetch(`${plain.http}/examples/chat/`)).status).toBe(404);
    expect((await fetch(`${plain.http}/examples/sessiond-client.js`)).status).toBe(404);
  } finally {
    await plain.stop();
  }
});
