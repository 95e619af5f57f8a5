// Client-chosen strings named like the properties every object inherits (toString, constructor, __proto__, ...):
// as frame types, field names, enum values, ids, metadata and config keys, query values, headers, close reasons and
// CLI flags. Each is either refused with bad_request naming what is wrong, or treated as the ordinary string it is;
// the connection stays open and nothing is logged as an internal error.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseFlags } from "../../src/config/index.ts";
import { parseClientFrame } from "../../src/protocol/frames.ts";
import { api, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";
import { PROTOTYPE_NAMES } from "./malformed.ts";
import { TRIAL_ENV } from "./trials.ts";

/** The names that are also valid session ids and user ids (the id pattern starts with a letter or digit). */
const ID_LIKE = PROTOTYPE_NAMES.filter((n) => /^[A-Za-z0-9]/.test(n));

let server: ServerProcess;
/** Sends only valid frames. */
let client: WsClient;
/** Sends the refused ones; replaced before it reaches the limit of 20 invalid frames per 10 s (a 1008 close). */
let prober: WsClient;
let probes = 0;
let t: string;
beforeAll(async () => {
  server = await startServer({ env: TRIAL_ENV });
  t = await token("proto");
  client = await WsClient.connect(server.ws, { token: t });
  prober = await WsClient.connect(server.ws, { token: t });
  for (const session of ["s1", "q", "keys", "deep"]) await client.request({ type: "join", session });
});
afterAll(async () => {
  await client.close();
  await prober.close();
  await server.stop();
});

const internalErrors = () => server.logs.filter((l) => l.includes('"internal.error"'));

async function refused(frame: string, message: RegExp): Promise<void> {
  if (++probes % 15 === 0) {
    await prober.close();
    prober = await WsClient.connect(server.ws, { token: t });
  }
  const before = prober.frames.length;
  prober.send(frame);
  const reply = await prober.waitFor((f) => f.type === "error", 5000, before);
  expect({ frame: frame.slice(0, 200), code: reply.code }).toEqual({ frame: frame.slice(0, 200), code: "bad_request" });
  expect(reply.message).toMatch(message);
  // Still open and answering.
  expect((await prober.request({ type: "ping" })).type).toBe("pong");
}

describe("over WebSocket", () => {
  test("a frame type named like a prototype property is an unknown type: bad_request naming the field", async () => {
    for (const name of PROTOTYPE_NAMES) await refused(JSON.stringify({ type: name }), /^Unknown frame type .*; expected one of: ping, join/);
    expect(internalErrors()).toEqual([]);
  });

  test("a field named like a prototype property is an unknown field", async () => {
    for (const name of PROTOTYPE_NAMES) await refused(`{"type":"ping","${name}":1}`, new RegExp(`^Unknown field "${name.replace(/\$/g, "\\$")}"\\.$`));
    expect(internalErrors()).toEqual([]);
  });

  test("an enum value named like a prototype property is refused naming the field", async () => {
    for (const name of ["toString", "constructor", "__proto__", "valueOf"]) {
      await refused(JSON.stringify({ type: "message", session: "s1", content: "x", kind: name }), /^Field "kind" is invalid/);
      await refused(JSON.stringify({ type: "end", session: "s1", status: name }), /^Field "status" is invalid/);
      await refused(JSON.stringify({ type: "configure", session: "s1", access: name }), /^Field "access" is invalid/);
      await refused(JSON.stringify({ type: "configure", session: "s1", analysis: { share: name } }), /^Field "analysis.share" is invalid/);
    }
  });

  test("session ids and room keys named like prototype properties are ordinary sessions", async () => {
    for (const name of ID_LIKE) {
      const joined = await client.request({ type: "join", session: name });
      expect(joined).toMatchObject({ type: "joined", session: { id: name, status: "active" } });
      const ack = await client.request({ type: "message", session: name, content: `in ${name}`, clientMsgId: name });
      expect(ack).toMatchObject({ type: "ack", session: name, seq: 1, clientMsgId: name });
      const room = await client.request({ type: "join", room: `${name}` });
      expect(room.type).toBe("joined");
      expect(room.session.room).toBe(name);
    }
    const page = await api(server.http, "GET", "/api/sessions/constructor/messages", { token: t });
    expect(page.body.messages.map((m: any) => m.content)).toEqual(["in constructor"]);
    expect(internalErrors()).toEqual([]);
  });

  test("metadata and config keys named like prototype properties round-trip; a __proto__ key is refused and nothing is written", async () => {
    const metadata = { toString: "a", constructor: { prototype: 1 }, hasOwnProperty: true, valueOf: [1] };
    const ack = await client.request({ type: "message", session: "keys", content: "m", metadata });
    expect(ack.type).toBe("ack");
    const configured = await client.request({ type: "configure", session: "keys", config: { constructor: "c", toString: "s" } });
    expect(configured.session.config).toEqual({ constructor: "c", toString: "s" });
    await refused('{"type":"message","session":"keys","content":"m","metadata":{"__proto__":{"admin":true}}}', /^Field "metadata" is invalid: expected no key named "__proto__"\.$/);
    await refused('{"type":"configure","session":"keys","config":{"nested":{"__proto__":{"x":1}}}}', /^Field "config" is invalid: expected no key named "__proto__"\.$/);
    const page = await api(server.http, "GET", "/api/sessions/keys/messages", { token: t });
    expect(page.body.messages).toHaveLength(1);
    expect(page.body.messages[0].metadata).toEqual(metadata);
    expect((await api(server.http, "GET", "/api/sessions/keys", { token: t })).body.config).toEqual({ constructor: "c", toString: "s" });
  });

  test("metadata nested 40,000 deep is refused with a sentence, not an internal error", async () => {
    await refused(`{"type":"message","session":"deep","content":"x","metadata":{"a":${"[".repeat(40_000)}${"]".repeat(40_000)}}}`, /^Field "metadata" is invalid: expected at most 64 levels/);
    expect(internalErrors()).toEqual([]);
  });

  test("user ids named like prototype properties are ordinary users with their own rate limit and presence", async () => {
    for (const name of ["constructor", "toString", "hasOwnProperty"]) {
      const c = await WsClient.connect(server.ws, { token: await token(name) });
      const joined = await c.request({ type: "join", session: `of-${name}` });
      expect(joined.participants).toEqual([name]);
      expect((await c.request({ type: "message", session: `of-${name}`, content: "hi" })).type).toBe("ack");
      await c.close();
    }
    expect(internalErrors()).toEqual([]);
  });

  test("a close reason named like a prototype property is just a reason", async () => {
    for (const name of PROTOTYPE_NAMES) {
      const c = await WsClient.connect(server.ws, { token: t });
      await c.request({ type: "ping" });
      c.socket.close(4000, name);
      await c.closed;
    }
    expect((await api(server.http, "GET", "/health")).status).toBe(200);
    expect(internalErrors()).toEqual([]);
  });
});

describe("over HTTP", () => {
  test("query values named like prototype properties are refused naming the field, or are ordinary values", async () => {
    for (const name of PROTOTYPE_NAMES) {
      const q = encodeURIComponent(name);
      const exp = await api(server.http, "GET", `/api/sessions/q/export?format=${q}`, { token: t });
      expect({ name, status: exp.status, code: exp.body.error?.code }).toEqual({ name, status: 400, code: "bad_request" });
      expect(exp.body.error.message).toMatch(/"format"/);
      const list = await api(server.http, "GET", `/api/sessions?status=${q}`, { token: t });
      expect({ name, status: list.status }).toEqual({ name, status: 400 });
      expect(list.body.error.message).toMatch(/"status"/);
      const page = await api(server.http, "GET", `/api/sessions/q/messages?after=${q}&limit=${q}`, { token: t });
      expect({ name, status: page.status }).toEqual({ name, status: 400 });
      const cursor = await api(server.http, "GET", `/api/sessions?cursor=${q}`, { token: t });
      expect({ name, status: cursor.status }).toEqual({ name, status: 400 });
      const sse = await fetch(`${server.http}/api/sessions/q/events?since=${q}`, { headers: { Authorization: `Bearer ${t}` } });
      expect({ name, status: sse.status }).toEqual({ name, status: 400 });
      await sse.body?.cancel();
    }
    expect(internalErrors()).toEqual([]);
  });

  test("paths named like prototype properties are an unknown route or an unknown session, never a crash", async () => {
    for (const name of PROTOTYPE_NAMES) {
      const route = await api(server.http, "GET", `/${name}`, { token: t });
      expect({ name, status: route.status, code: route.body.error?.code }).toEqual({ name, status: 404, code: "not_found" });
      const nested = await api(server.http, "GET", `/api/${name}`, { token: t });
      expect({ name, status: nested.status }).toEqual({ name, status: 404 });
      const session = await api(server.http, "GET", `/api/sessions/${name}x`, { token: t });
      expect({ name, status: session.status }).toEqual({ name, status: /^[A-Za-z0-9]/.test(name) ? 404 : 400 });
    }
    expect(internalErrors()).toEqual([]);
  });

  test("bodies, idempotency keys and header names named like prototype properties", async () => {
    const created = await api(server.http, "POST", "/api/sessions", { token: t, body: '{"__proto__":{"access":"open"}}' });
    expect(created.status).toBe(400);
    expect(created.body.error.message).toBe('Unknown field "__proto__".');
    const ctor = await api(server.http, "POST", "/api/sessions", { token: t, body: { constructor: "x" } });
    expect(ctor.status).toBe(400);
    for (const key of ["constructor", "toString", "__proto__"]) {
      const posted = await api(server.http, "POST", "/api/sessions/q/messages", { token: t, body: { content: `k ${key}` }, headers: { "Idempotency-Key": key, constructor: "1", toString: "2" } });
      expect({ key, status: posted.status }).toEqual({ key, status: 201 });
      const again = await api(server.http, "POST", "/api/sessions/q/messages", { token: t, body: { content: `k ${key}` }, headers: { "Idempotency-Key": key } });
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(posted.body.id);
    }
    expect(internalErrors()).toEqual([]);
  });
});

describe("elsewhere", () => {
  test("CLI flags named like prototype properties are unknown options", () => {
    const { overrides, unknown } = parseFlags(["--constructor=1", "--__proto__", "x", "--to-string", "y", "--has-own-property=z", "--port=4000"]);
    expect(unknown).toEqual(["--constructor", "--__proto__", "--to-string", "--has-own-property"]);
    expect(overrides).toEqual({ PORT: "4000" });
    expect(Object.getPrototypeOf(overrides)).toBe(Object.prototype);
  });

  test("the frame parser names the unknown type for every prototype name, without throwing", () => {
    for (const name of PROTOTYPE_NAMES) {
      const parsed = parseClientFrame(JSON.stringify({ type: name, id: 3 }));
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) {
        expect(parsed.ref).toBe(3);
        expect(parsed.error.code).toBe("bad_request");
        expect(parsed.error.message).toContain(`Unknown frame type ${JSON.stringify(name)}`);
      }
    }
  });
});
