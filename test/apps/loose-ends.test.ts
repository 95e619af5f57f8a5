// Loose ends acceptance found: refused connections are counted, the admin view counts who is present, an SSE
// watcher keeps a session alive, and the pre-test step and the docs say what a new user needs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { api, attemptUpgrade, ROOT, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ env: { SESSION_EXPIRY_SECONDS: "2", SESSION_SWEEP_INTERVAL_SECONDS: "1", SSE_HEARTBEAT_SECONDS: "1", ALLOWED_ORIGINS: "https://app.example" } });
});
afterAll(() => server.stop());

const metric = async (line: string): Promise<number> => {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.split(" ").at(-1)) : 0;
};

test("sessiond_connection_errors_total{reason} counts refused WebSocket and SSE connections by reason", async () => {
  const before = {
    unauthorized: await metric('sessiond_connection_errors_total{reason="unauthorized"}'),
    forbidden: await metric('sessiond_connection_errors_total{reason="forbidden"}'),
  };
  expect((await attemptUpgrade(server, { token: "not-a-token" })).status).toBe(401);
  expect((await attemptUpgrade(server, { token: await token("ann"), headers: { Origin: "https://evil.example" } })).status).toBe(403);
  expect((await fetch(`${server.http}/api/sessions/s1/events?token=bad`)).status).toBe(401);
  expect(await metric('sessiond_connection_errors_total{reason="unauthorized"}')).toBe(before.unauthorized + 2);
  expect(await metric('sessiond_connection_errors_total{reason="forbidden"}')).toBe(before.forbidden + 1);
  expect(await (await fetch(`${server.http}/metrics`)).text()).toContain("# TYPE sessiond_connection_errors_total counter");
});

test("GET /api/admin/sessions gives the count of users present beside the list", async () => {
  const admin = await token("root", { admin: true });
  const a = await WsClient.connect(server.ws, { token: await token("ann") });
  const a2 = await WsClient.connect(server.ws, { token: await token("ann") });
  const b = await WsClient.connect(server.ws, { token: await token("bob", { sessions: ["present-count"] }) });
  for (const c of [a, a2]) await c.request({ type: "join", session: "present-count" });
  await b.request({ type: "join", session: "present-count" });
  const row = (await api(server.http, "GET", "/api/admin/sessions", { token: admin })).body.sessions.find((s: any) => s.id === "present-count");
  expect(row.present.sort()).toEqual(["ann", "bob"]);
  expect(row.presentCount).toBe(2);
  for (const c of [a, a2, b]) await c.close();
});

test("someone watching only over SSE keeps the session from expiring; once the stream closes it expires", async () => {
  const t = await token("cat");
  const created = await api(server.http, "POST", "/api/sessions", { token: t, body: {} });
  const id = created.body.id;
  const abort = new AbortController();
  const res = await fetch(`${server.http}/api/sessions/${id}/events?token=${t}`, { signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const until = Date.now() + 3500;
  // Read heartbeats for longer than SESSION_EXPIRY_SECONDS plus a sweep interval.
  while (Date.now() < until) {
    const { value } = await reader.read();
    seen += decoder.decode(value);
  }
  expect(seen).toContain(": heartbeat");
  expect((await api(server.http, "GET", `/api/sessions/${id}`, { token: t })).body.status).toBe("active");
  abort.abort();
  const deadline = Date.now() + 6000;
  let status = "active";
  while (status === "active" && Date.now() < deadline) {
    await Bun.sleep(200);
    status = (await api(server.http, "GET", `/api/sessions/${id}`, { token: t })).body.status;
  }
  expect(status).toBe("expired");
});

test("an SSE stream ends with a close event: when its session ends, and when it resumes an ended session", async () => {
  const t = await token("dot");
  const id = (await api(server.http, "POST", "/api/sessions", { token: t, body: {} })).body.id;
  const read = async (res: Response): Promise<string> => {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) text += decoder.decode(chunk, { stream: true });
    return text;
  };
  const live = fetch(`${server.http}/api/sessions/${id}/events?token=${t}`).then(read);
  await Bun.sleep(200);
  await api(server.http, "POST", `/api/sessions/${id}/messages`, { token: t, body: { content: "one" } });
  await api(server.http, "POST", `/api/sessions/${id}/end`, { token: t, body: {} });
  const text = await live;
  expect(text).toMatch(/event: session\.status\ndata: [^\n]*"completed"[^\n]*\n\nevent: close\ndata: \{"code":1000\}\n\n$/);
  const resumed = await read(await fetch(`${server.http}/api/sessions/${id}/events?token=${t}&lastEventId=0`));
  expect(resumed).toContain('"content":"one"');
  expect(resumed.endsWith('event: close\ndata: {"code":1000}\n\n')).toBe(true);
});

describe("what a new user needs", () => {
  test("npm test runs the pre-test step first; with chromium present it passes silently", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.scripts.pretest).toBe("bun scripts/pretest.ts");
    const run = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "pretest.ts")], { cwd: ROOT });
    expect(run.exitCode).toBe(0);
    expect(run.stderr.toString()).toBe("");
  });

  test("the transcript example says to pass the stored secret: JWT_SECRET=$(cat data/secret)", () => {
    for (const file of ["examples/bun/transcript.ts", "examples/README.md", "docs/client.md"]) {
      expect([file, readFileSync(join(ROOT, file), "utf8").includes("JWT_SECRET=$(cat data/secret)")]).toEqual([file, true]);
    }
  });
});
