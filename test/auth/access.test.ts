import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
let alice: WsClient;
let aliceToken: string;
let bobToken: string;
beforeAll(async () => {
  server = await startServer();
  aliceToken = await token("alice");
  bobToken = await token("bob");
  alice = await WsClient.connect(server.ws, { token: aliceToken });
  await alice.request({ type: "join", session: "private-a" });
  await alice.request({ type: "message", session: "private-a", content: "a secret about alice" });
});
afterAll(async () => {
  await alice.close();
  await server.stop();
});

describe("another user's private session", () => {
  test("is refused over WebSocket for join, recovery, message, configure and end, with no history byte", async () => {
    const bob = await WsClient.connect(server.ws, { token: bobToken });
    const frames = [
      { type: "join", session: "private-a" },
      { type: "join", session: "private-a", since: 0 },
      { type: "message", session: "private-a", content: "intrusion" },
      { type: "configure", session: "private-a", access: "open" },
      { type: "end", session: "private-a" },
    ];
    for (const f of frames) {
      const reply = await bob.request(f);
      expect(reply).toMatchObject({ type: "error", code: "forbidden" });
    }
    expect(JSON.stringify(bob.frames)).not.toContain("secret about alice");
    expect(bob.frames.some((f) => f.type === "message" || f.type === "joined")).toBe(false);
    await bob.close();
  });

  test("is refused over HTTP on every route with 403 and no content", async () => {
    const routes: Array<[string, string, unknown?]> = [
      ["GET", "/api/sessions/private-a"],
      ["GET", "/api/sessions/private-a/messages"],
      ["POST", "/api/sessions/private-a/messages", { content: "intrusion" }],
      ["PATCH", "/api/sessions/private-a", { access: "open" }],
      ["POST", "/api/sessions/private-a/end", {}],
      ["GET", "/api/sessions/private-a/export"],
      ["GET", "/api/sessions/private-a/events"],
    ];
    for (const [method, path, body] of routes) {
      const r = await api(server.http, method, path, { token: bobToken, body });
      expect({ route: `${method} ${path}`, status: r.status, code: r.body?.error?.code }).toEqual({ route: `${method} ${path}`, status: 403, code: "forbidden" });
      expect(JSON.stringify(r.body)).not.toContain("secret about alice");
    }
    const list = await api(server.http, "GET", "/api/sessions", { token: bobToken });
    expect(list.body.sessions.map((s: any) => s.id)).not.toContain("private-a");
    const page = await api(server.http, "GET", "/api/sessions/private-a/messages", { token: aliceToken });
    expect(page.body.messages.map((m: any) => m.content)).toEqual(["a secret about alice"]);
  });

  test("a member added by the owner gets in; removed again, they stop receiving it", async () => {
    await alice.request({ type: "configure", session: "private-a", members: ["bob"] });
    const bob = await WsClient.connect(server.ws, { token: bobToken });
    const joined = await bob.request({ type: "join", session: "private-a" });
    expect(joined.type).toBe("joined");
    await alice.request({ type: "configure", session: "private-a", members: [] });
    await bob.waitFor((f) => f.type === "error" && f.code === "forbidden" && f.session === "private-a");
    await alice.request({ type: "message", session: "private-a", content: "after removal" });
    await bob.request({ type: "ping" });
    expect(bob.messages("private-a").some((m) => m.content === "after removal")).toBe(false);
    await bob.close();
  });
});

describe("the sessions claim", () => {
  test("grants read and write to exactly the listed session, not configure or end", async () => {
    const t = await token("guest", { sessions: ["private-a"] });
    const guest = await WsClient.connect(server.ws, { token: t });
    expect((await guest.request({ type: "join", session: "private-a" })).type).toBe("joined");
    expect((await guest.request({ type: "message", session: "private-a", content: "hello from guest" })).type).toBe("ack");
    expect((await guest.request({ type: "configure", session: "private-a", access: "open" })).code).toBe("forbidden");
    expect((await guest.request({ type: "end", session: "private-a" })).code).toBe("forbidden");
    await alice.request({ type: "join", session: "private-b" });
    expect((await guest.request({ type: "join", session: "private-b" })).code).toBe("forbidden");
    await guest.close();
  });

  test("room:<key> covers every session of that room", async () => {
    await alice.request({ type: "join", room: "clinic" });
    const t = await token("nurse", { sessions: ["room:clinic"] });
    const nurse = await WsClient.connect(server.ws, { token: t });
    expect((await nurse.request({ type: "join", room: "clinic" })).type).toBe("joined");
    expect((await nurse.request({ type: "join", session: "private-a" })).code).toBe("forbidden");
    await nurse.close();
  });
});

describe("an admin", () => {
  test("can read, write, configure and end any session", async () => {
    const t = await token("root", { admin: true });
    const admin = await WsClient.connect(server.ws, { token: t });
    await alice.request({ type: "join", session: "private-c" });
    const joined = await admin.request({ type: "join", session: "private-c", since: 0 });
    expect(joined.type).toBe("joined");
    expect((await admin.request({ type: "message", session: "private-c", content: "admin note" })).type).toBe("ack");
    expect((await admin.request({ type: "configure", session: "private-c", config: { topic: "x" } })).type).toBe("configured");
    const posted = await api(server.http, "POST", "/api/sessions/private-c/messages", { token: t, body: { content: "system notice", role: "system" } });
    expect(posted.status).toBe(201);
    expect(posted.body.role).toBe("system");
    expect((await admin.request({ type: "end", session: "private-c" })).type).toBe("ended");
    await admin.close();
  });

  test("a non-admin may not post as system or assistant", async () => {
    const r = await api(server.http, "POST", "/api/sessions/private-a/messages", { token: aliceToken, body: { content: "x", role: "assistant" } });
    expect(r.status).toBe(403);
  });
});
