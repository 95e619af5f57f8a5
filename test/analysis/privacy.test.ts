// A full run at debug level — crisis messages over WebSocket and HTTP, the model analyzer, alerts handled with a
// note, SSE, exports, a restart — and not one log line carries message content, a trigger, a model reply or a note.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { analysisJson, startFakeOpenAI, type FakeOpenAI } from "../fixtures/fake-openai.ts";
import { api, eventually, moderatorToken, SseClient, startServer, token, WsClient } from "../helpers.ts";

let fake: FakeOpenAI;
beforeAll(() => {
  fake = startFakeOpenAI({
    script: (req) =>
      req.path === "/v1/chat/completions"
        ? { content: analysisJson({ topics: { topics: ["quokkaland"], relevance: [0.9], context: "quokkaland context" }, crisis: { risk_level: "high", triggers: ["self_harm: marmalade-trigger"], recommended_action: "Act on the marmalade." } }) }
        : undefined,
  });
});
afterAll(async () => {
  await fake.stop();
});

test("no message content, trigger, model reply or alert note reaches the logs", async () => {
  const env = { LOG_LEVEL: "debug", ANALYZER: "both", AI_BASE_URL: fake.url, AI_MODEL: "fake-model" };
  let server = await startServer({ env });
  const logs: string[] = [];
  const secrets = [
    "zebracorn",
    "I have been saving my pills",
    "saving my pills",
    "marmalade-trigger",
    "Act on the marmalade",
    "quokkaland",
    "note-pineapple",
    "http-periwinkle",
  ];
  try {
    const modToken = await moderatorToken("dr-mo");
    const userToken = await token("sam");
    const moderator = await WsClient.connect(server.ws, { token: modToken });
    const user = await WsClient.connect(server.ws, { token: userToken });
    const sse = await SseClient.open(`${server.http}/api/alerts/events`, modToken);
    await user.request({ type: "join", session: "priv-1" });
    await moderator.request({ type: "join", session: "priv-1" });
    const ack = await user.request({ type: "message", session: "priv-1", content: "zebracorn: I have been saving my pills" });
    const posted = await api(server.http, "POST", "/api/sessions/priv-1/messages", { token: userToken, body: { content: "http-periwinkle I want to die" } });
    expect(posted.status).toBe(201);
    const alert = (await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === ack.seq)).alert;
    expect(alert.triggers).toContain("self_harm: marmalade-trigger");
    await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === posted.body.seq);
    await sse.waitFor("alert");
    await api(server.http, "POST", `/api/alerts/${alert.id}/acknowledge`, { token: modToken, body: { note: "note-pineapple called them" } });
    await api(server.http, "POST", `/api/alerts/${alert.id}/resolve`, { token: modToken, body: { note: "note-pineapple resolved" } });
    for (const format of ["json", "markdown", "yaml"]) await api(server.http, "GET", `/api/sessions/priv-1/export?format=${format}`, { token: modToken });
    await api(server.http, "GET", "/api/alerts", { token: modToken });
    sse.close();
    await user.close();
    await moderator.close();
    expect(await server.stop()).toBe(0);
    logs.push(...server.logs, await server.stderr());
    // A restart catches up (nothing to do) and logs again.
    server = await startServer({ dataDir: server.dataDir, env });
    await eventually(() => server.logs.some((l) => l.includes('"analysis.catch_up"')));
  } finally {
    await server.stop();
    logs.push(...server.logs, await server.stderr());
  }
  const text = logs.join("\n");
  expect(text).toContain('"alert.raised"');
  expect(text).toContain('"alert.resolved"');
  for (const secret of secrets) expect({ secret, found: text.toLowerCase().includes(secret.toLowerCase()) }).toEqual({ secret, found: false });
  // The alert lines name ids and the level only.
  for (const line of logs.filter((l) => l.includes('"alert.raised"'))) {
    expect(Object.keys(JSON.parse(line)).sort()).toEqual(["alert", "event", "level", "riskLevel", "seq", "session", "ts"]);
  }
});
