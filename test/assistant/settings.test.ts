// The assistant setting on a server without a model server: enabling it is refused with a sentence naming
// AI_BASE_URL, on every path that sets it; the stream routes exist and answer as for a session with no replies.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { api, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

test("enabling the assistant without AI_BASE_URL is bad_request naming AI_BASE_URL, on create, PATCH and configure; nothing changes", async () => {
  const t = await token("alice");
  const created = await api(server.http, "POST", "/api/sessions", { token: t, body: { assistant: { enabled: true } } });
  expect(created.status).toBe(400);
  expect(created.body.error).toMatchObject({ code: "bad_request" });
  expect(created.body.error.message).toContain("AI_BASE_URL");
  const plain = await api(server.http, "POST", "/api/sessions", { token: t, body: { assistant: { enabled: false, name: "bot", trigger: "mention" } } });
  expect(plain.status).toBe(201);
  expect(plain.body.assistant).toEqual({ enabled: false, name: "bot", trigger: "mention", contextMessages: 50 });
  const id = plain.body.id;
  const patched = await api(server.http, "PATCH", `/api/sessions/${id}`, { token: t, body: { assistant: { enabled: true } } });
  expect(patched.status).toBe(400);
  expect(patched.body.error.message).toContain("AI_BASE_URL");
  const c = await WsClient.connect(server.ws, { token: t });
  const configured = await c.request({ type: "configure", session: id, assistant: { enabled: true } });
  expect(configured).toMatchObject({ type: "error", code: "bad_request", session: id });
  expect(configured.message).toContain("AI_BASE_URL");
  expect((await api(server.http, "GET", `/api/sessions/${id}`, { token: t })).body.assistant.enabled).toBe(false);
  await c.close();
});

test("a bad assistant setting is bad_request naming the field", async () => {
  const t = await token("alice");
  for (const [assistant, field] of [
    [{ trigger: "sometimes" }, "assistant.trigger"],
    [{ name: "has space" }, "assistant.name"],
    [{ temperature: 3 }, "assistant.temperature"],
    [{ wat: 1 }, "wat"],
  ] as const) {
    const res = await api(server.http, "POST", "/api/sessions", { token: t, body: { assistant } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  }
});

test("without replies in progress: a message asking for one is bad_request, GET .../streams is empty, cancel is not_found, joined.streams is []", async () => {
  const t = await token("bob");
  const c = await WsClient.connect(server.ws, { token: t });
  const joined = await c.request({ type: "join", session: "no-ai" });
  expect(joined.streams).toEqual([]);
  const asked = await c.request({ type: "message", session: "no-ai", content: "hi", assistant: { json: true } });
  expect(asked).toMatchObject({ type: "error", code: "bad_request" });
  expect((await api(server.http, "GET", "/api/sessions/no-ai/streams", { token: t })).body).toEqual({ streams: [] });
  expect((await api(server.http, "POST", "/api/sessions/no-ai/streams/abc/cancel", { token: t })).status).toBe(404);
  expect(await c.request({ type: "cancel", session: "no-ai", stream: "abc" })).toMatchObject({ type: "error", code: "not_found" });
  expect((await api(server.http, "GET", "/api/sessions/no-ai/streams", { token: await token("stranger") })).status).toBe(403);
  const health = (await api(server.http, "GET", "/health")).body;
  expect(health.checks.ai).toBeUndefined();
  const doc = (await api(server.http, "GET", "/openapi.json")).body;
  expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/api/sessions/{id}/streams", "/api/sessions/{id}/streams/{stream}/cancel"]));
  await c.close();
});
