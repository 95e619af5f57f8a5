// The pure parts of webhooks and archives: signing (checked against the standardwebhooks package), retry
// timing, endpoint display, event bodies, safe path segments and archive file names.
import { describe, expect, test } from "bun:test";
import { Webhook } from "standardwebhooks";
import { combineHooks } from "../../src/db/commit-hooks.ts";
import { archiveRelativePath, archiveTimestamp, MAX_SEGMENT_BYTES, safeSegment } from "../../src/integrations/archive-path.ts";
import { webhookEndpoints } from "../../src/integrations/webhook-endpoints.ts";
import * as E from "../../src/integrations/webhook-events.ts";
import { backoffMs, classifyStatus, nextAttempt, parseRetryAfter, RETRY_CAP_MS } from "../../src/integrations/webhook-retry.ts";
import { signWebhook, webhookHeaders, webhookKey } from "../../src/integrations/webhook-signing.ts";
import { DEFAULT_RECOMMENDED_ACTIONS, type Alert } from "../../src/protocol/analysis.ts";
import { loadConfig } from "../../src/config/index.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("signing follows Standard Webhooks", () => {
  test("headers made by signWebhook verify with the standardwebhooks package", () => {
    const body = JSON.stringify({ type: "session.started", timestamp: new Date().toISOString(), data: { session: { id: "s1" } } });
    const headers = webhookHeaders(webhookKey(SECRET), "msg_1", Date.now(), body);
    expect(new Webhook(SECRET).verify(body, { ...headers })).toEqual(JSON.parse(body));
  });

  test("the signature equals the package's own for the same id, time and body", () => {
    const at = new Date("2026-01-02T03:04:05Z");
    expect(signWebhook(webhookKey(SECRET), "msg_x", at.getTime() / 1000, "{}")).toBe(new Webhook(SECRET).sign("msg_x", at, "{}"));
  });

  test("a secret without the whsec_ prefix is the same key, as the package reads it", () => {
    expect(webhookKey(SECRET.slice(6))).toEqual(webhookKey(SECRET));
    const body = "{}";
    const headers = webhookHeaders(webhookKey(SECRET.slice(6)), "msg_2", Date.now(), body);
    expect(() => new Webhook(SECRET).verify(body, { ...headers })).not.toThrow();
  });

  test("another secret, a changed body or a changed id do not verify", () => {
    const body = '{"a":1}';
    const headers = webhookHeaders(webhookKey(SECRET), "msg_3", Date.now(), body);
    const other = `whsec_${Buffer.from("another key of twenty-four bytes").toString("base64")}`;
    expect(() => new Webhook(other).verify(body, { ...headers })).toThrow();
    expect(() => new Webhook(SECRET).verify('{"a":2}', { ...headers })).toThrow();
    expect(() => new Webhook(SECRET).verify(body, { ...headers, "webhook-id": "msg_4" })).toThrow();
  });

  test("any secret the package accepts (padding or not) gives the key the package uses", () => {
    for (const secret of ["supersecret", "whsec_YWJjZA", "whsec_YWJjZA==", `whsec_${Buffer.from("k".repeat(32)).toString("base64")}`]) {
      const body = '{"x":1}';
      const headers = webhookHeaders(webhookKey(secret), "msg_k", Date.now(), body);
      expect(() => new Webhook(secret).verify(body, { ...headers })).not.toThrow();
    }
  });

  test("the timestamp is the attempt's, in seconds", () => {
    const h = webhookHeaders(webhookKey(SECRET), "msg_5", 1_700_000_000_999, "{}");
    expect(h["webhook-timestamp"]).toBe("1700000000");
    expect(h["webhook-signature"]).toStartWith("v1,");
  });
});

describe("retry timing", () => {
  const policy = { baseMs: 1000, maxAgeMs: 24 * 3600 * 1000 };

  test("full jitter: uniform in [0, base·2^(n-1)], capped", () => {
    expect(backoffMs(1, policy, () => 0)).toBe(0);
    expect(backoffMs(1, policy, () => 0.999999)).toBe(999);
    expect(backoffMs(4, policy, () => 0.5)).toBe(4000);
    expect(backoffMs(60, policy, () => 1 - Number.EPSILON)).toBe(RETRY_CAP_MS - 1);
  });

  test("Retry-After in seconds or as an HTTP date; anything else is ignored", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  test("a receiver's Retry-After wins over the backoff", () => {
    expect(nextAttempt({ attempts: 1, queuedAt: 0, now: 10, retryAfterMs: 5000 }, policy, () => 0)).toEqual({ kind: "retry", at: 5010 });
  });

  test("the last try is at the end of the window; after it the delivery is dead", () => {
    const short = { baseMs: 1000, maxAgeMs: 10_000 };
    expect(nextAttempt({ attempts: 9, queuedAt: 0, now: 9000, retryAfterMs: null }, short, () => 0.99)).toEqual({ kind: "retry", at: 10_000 });
    expect(nextAttempt({ attempts: 10, queuedAt: 0, now: 10_000, retryAfterMs: null }, short)).toEqual({ kind: "dead" });
    expect(nextAttempt({ attempts: 1, queuedAt: 0, now: 1, retryAfterMs: 3_600_000 }, short)).toEqual({ kind: "retry", at: 10_000 });
  });

  test("2xx delivered, 410 gone, every other status (3xx included) failed", () => {
    expect([200, 204, 299].map(classifyStatus)).toEqual(["delivered", "delivered", "delivered"]);
    expect(classifyStatus(410)).toBe("gone");
    expect([301, 302, 307, 400, 404, 429, 500, 503].map(classifyStatus).every((k) => k === "failed")).toBe(true);
  });
});

describe("endpoints", () => {
  test("credentials never appear in the shown URL; query values are masked; the id is stable", () => {
    const [a, b] = webhookEndpoints(["https://bob:s3cret@hooks.example.com:8443/in?key=abc&x=1", "http://127.0.0.1:9/h"]);
    expect(a!.displayUrl).toBe("https://hooks.example.com:8443/in?key=…&x=…");
    expect(a!.requestUrl).toBe("https://hooks.example.com:8443/in?key=abc&x=1");
    expect(a!.authorization).toBe(`Basic ${Buffer.from("bob:s3cret").toString("base64")}`);
    expect(a!.host).toBe("hooks.example.com:8443");
    expect(JSON.stringify(a!.id)).not.toContain("s3cret");
    expect(a!.id).toMatch(/^ep_[0-9a-f]{16}$/);
    expect(webhookEndpoints(["https://bob:s3cret@hooks.example.com:8443/in?key=abc&x=1"])[0]!.id).toBe(a!.id);
    expect(b!).toMatchObject({ index: 1, authorization: null, displayUrl: "http://127.0.0.1:9/h" });
  });
});

describe("event bodies", () => {
  const record = newSessionRecord({ id: "s1", ownerId: "alice", at: Date.parse("2026-01-01T10:00:00Z"), config: { prompt: "secret" }, members: ["bob"] });
  const message = {
    id: "m1",
    seq: 3,
    session: "s1",
    userId: "bob",
    role: "user" as const,
    kind: "text" as const,
    content: "héllo",
    metadata: { mood: "x" },
    clientMsgId: "c1",
    createdAt: "2026-01-01T10:01:00.000Z",
  };

  test("{type, timestamp, data}; a session without config or members", () => {
    const e = E.sessionStarted(record);
    const body = JSON.parse(e.body);
    expect(body).toMatchObject({ type: "session.started", timestamp: "2026-01-01T10:00:00.000Z", data: { session: { id: "s1", ownerId: "alice", status: "active" } } });
    expect(e.body).not.toContain("secret");
    expect(e.body).not.toContain("bob");
    expect(body.data.session.metrics).toMatchObject({ messageCount: 0, participantCount: 0 });
  });

  test("session.ended carries the status and the final metrics", () => {
    const ended = { ...record, status: "expired" as const, endedAt: record.startedAt + 5000, durationMs: 5000, messageCount: 7 };
    const body = JSON.parse(E.sessionEnded(ended).body);
    expect(body.data.status).toBe("expired");
    expect(body.data.session.metrics).toMatchObject({ messageCount: 7, durationMs: 5000 });
    expect(body.timestamp).toBe(new Date(ended.endedAt).toISOString());
  });

  test("message.created has ids and counts only unless content is asked for", () => {
    const plain = JSON.parse(E.messageCreated(message, false).body);
    expect(plain.data).toEqual({
      session: "s1",
      message: { id: "m1", seq: 3, userId: "bob", role: "user", kind: "text", createdAt: message.createdAt, contentBytes: 6, clientMsgId: "c1" },
    });
    const full = JSON.parse(E.messageCreated(message, true).body);
    expect(full.data.message).toMatchObject({ content: "héllo", metadata: { mood: "x" } });
  });

  test("alerts name categories, not the phrases that matched, unless content is asked for", () => {
    const alert: Alert = {
      id: "a1",
      session: "s1",
      seq: 3,
      messageId: "m1",
      userId: "bob",
      risk_level: "high",
      triggers: ["suicidal_ideation: kill myself", "suicidal_ideation: tonight"],
      recommended_action: "Act now.",
      status: "acknowledged",
      createdAt: "2026-01-01T10:01:00.000Z",
      acknowledgedBy: "mod",
      acknowledgedAt: "2026-01-01T10:02:00.000Z",
      note: "called them",
    };
    const plain = E.alertRaised(alert, false);
    expect(plain.body).not.toContain("kill myself");
    expect(plain.body).not.toContain("called them");
    expect(JSON.parse(plain.body).data.alert).toMatchObject({ categories: ["suicidal_ideation"], risk_level: "high", acknowledgedBy: "mod" });
    // A model's own sentence is content too; without content the level's standard sentence goes instead.
    expect(JSON.parse(plain.body).data.alert.recommended_action).toBe(DEFAULT_RECOMMENDED_ACTIONS.high);
    // A model's trigger without a code-like category never leaks its words as one.
    expect(E.triggerCategories(["I keep thinking about the bridge", "self_harm: cut", "Suicidal: x"])).toEqual(["other", "self_harm"]);
    const full = JSON.parse(E.alertUpdated(alert, true, Date.parse("2026-01-01T10:02:00Z")).body);
    expect(full.data.alert.recommended_action).toBe("Act now.");
    expect(full).toMatchObject({ type: "alert.updated", timestamp: "2026-01-01T10:02:00.000Z", data: { alert: { triggers: alert.triggers, note: "called them" } } });
  });
});

describe("commit hooks", () => {
  test("combined hooks call each member in order; a method exists only if a member has it", () => {
    const calls: string[] = [];
    const h = combineHooks([{ sessionEnded: (r) => calls.push(`a:${r.id}`) }, { sessionEnded: (r) => calls.push(`b:${r.id}`), participantAdded: () => calls.push("p") }]);
    h.sessionEnded!(newSessionRecord({ id: "x", ownerId: "o", at: 0 }));
    h.participantAdded!("x", "u", 0);
    expect(calls).toEqual(["a:x", "b:x", "p"]);
    expect(h.messageCommitted).toBeUndefined();
    expect(Object.keys(combineHooks([]))).toEqual([]);
  });
});

describe("safe path segments", () => {
  const tricky = ["../x", "a/b", "a%2Fb", ".", "..", "...", ".hidden", "a\\b", "a:b", "é", "日本", "🙂", "", " ", "%", "%25", "~", "a".repeat(400), "é".repeat(200), "x".repeat(119) + "%"];

  test("no segment can climb, hide, contain a separator or be too long", () => {
    for (const id of tricky) {
      const s = safeSegment(id);
      expect(s).not.toContain("/");
      expect(s).not.toContain("\\");
      expect(s).not.toStartWith(".");
      expect(s === "." || s === "..").toBe(false);
      expect(Buffer.byteLength(s)).toBeLessThanOrEqual(MAX_SEGMENT_BYTES);
      expect(s.length).toBeGreaterThan(0);
      expect(s).toMatch(/^[A-Za-z0-9._%~-]+$/);
    }
  });

  test("the examples", () => {
    expect(safeSegment("alice")).toBe("alice");
    expect(safeSegment("../x")).toBe("%2E.%2Fx");
    expect(safeSegment("a/b")).toBe("a%2Fb");
    expect(safeSegment("a%2Fb")).toBe("a%252Fb");
    expect(safeSegment(".")).toBe("%2E");
    expect(safeSegment("..")).toBe("%2E.");
    expect(safeSegment("é")).toBe("%C3%A9");
    expect(safeSegment("user@example.com")).toBe("user%40example.com");
  });

  test("distinct ids never share a segment (a/b vs a%2Fb, long ids with a common prefix, unicode forms)", () => {
    const ids = [...tricky, "a".repeat(401), `${"a".repeat(400)}b`, "e\u0301", "\u00e9", "A", "a", "%2E", "%2E."];
    const segments = ids.map(safeSegment);
    expect(new Set(segments).size).toBe(new Set(ids).size);
  });

  test("a long id keeps a readable prefix and a hash", () => {
    const s = safeSegment("a".repeat(400));
    expect(s).toMatch(/^a{120}~[0-9a-f]{32}$/);
  });
});

describe("archive file names", () => {
  test("the start time in UTC as YYYY-MM-DD-HH-mm-ss, then the session id, then the extension", () => {
    const at = Date.parse("2024-01-15T10:30:00.123Z");
    expect(archiveTimestamp(at)).toBe("2024-01-15-10-30-00");
    expect(archiveRelativePath("alice", at, "s1", "yaml")).toEqual({ dir: ["users", "alice", "dialogs", "archived"], file: "2024-01-15-10-30-00-s1.yaml" });
    expect(archiveRelativePath("../evil", at, "room:a", "markdown")).toEqual({ dir: ["users", "%2E.%2Fevil", "dialogs", "archived"], file: "2024-01-15-10-30-00-room%3Aa.md" });
    expect(archiveRelativePath("bob", at, "s2", "json").file).toEndWith(".json");
  });
});

describe("settings", () => {
  const base = { WEBHOOK_URLS: "https://a.example/hook", WEBHOOK_SECRET: SECRET };

  test("defaults: off, every event but message.created, no content, 10 s, 1 s base, 24 h", () => {
    const r = loadConfig({});
    if (!r.ok) throw new Error(r.errors.join("\n"));
    expect(r.config.WEBHOOK_URLS).toBeUndefined();
    expect(r.config.ARCHIVE_DIR).toBeUndefined();
    expect(r.config).toMatchObject({
      WEBHOOK_EVENTS: ["session.started", "session.ended", "participant.joined", "participant.left", "alert.raised", "alert.updated"],
      WEBHOOK_INCLUDE_CONTENT: false,
      WEBHOOK_TIMEOUT_SECONDS: 10,
      WEBHOOK_RETRY_BASE_MS: 1000,
      WEBHOOK_MAX_AGE_SECONDS: 86400,
      ARCHIVE_FORMAT: "yaml",
    });
  });

  test("URLs without a secret, a bad URL, an unknown event or a secret that is not base64 are refused without echoing secrets", () => {
    const errors = (env: Record<string, string>) => {
      const r = loadConfig(env);
      return r.ok ? [] : r.errors;
    };
    expect(errors({ WEBHOOK_URLS: "https://u:pw@a.example/hook" })[0]).toContain("WEBHOOK_SECRET=(unset) is invalid");
    const bad = errors({ ...base, WEBHOOK_URLS: "https://u:pw@a.example/hook,ftp://x" });
    expect(bad).toEqual(["config: WEBHOOK_URLS=(hidden) is invalid: expected entry 2 to be an http:// or https:// URL"]);
    expect(errors({ ...base, WEBHOOK_EVENTS: "session.started,session.paused" })[0]).toContain("(unknown: session.paused)");
    const secret = errors({ ...base, WEBHOOK_SECRET: "my secret!" });
    expect(secret[0]).toStartWith("config: WEBHOOK_SECRET=(hidden) is invalid: expected whsec_ followed by base64");
    expect(secret[0]).not.toContain("my secret");
    expect(errors({ ...base, ARCHIVE_FORMAT: "xml" })[0]).toContain('ARCHIVE_FORMAT="xml" is invalid');
  });

  test("WEBHOOK_EVENTS names message.created to turn it on", () => {
    const r = loadConfig({ ...base, WEBHOOK_EVENTS: "message.created, session.ended" });
    expect(r.ok && r.config.WEBHOOK_EVENTS).toEqual(["message.created", "session.ended"]);
  });
});
