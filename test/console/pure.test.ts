// The console's pure parts, run directly: routes, labels, the chart's geometry, the stats ring and sampler (with
// an injected clock), the live feed's coalescing (with fakes), the CSP, the bundle's budget and its imports.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { buildConsole, gzippedSize } from "../../src/console/build.ts";
import { chartPoints, chartSpan, formatRate, formatSentiment, maxRisk, niceMax, parseRoute, routeHash, sentimentBand, timeAgo, tokenSecondsLeft, type Route } from "../../src/console/app/format.ts";
import { ConsoleFeed } from "../../src/http/console-feed.ts";
import { consoleCsp } from "../../src/http/console.ts";
import { StatsRing, StatsSampler } from "../../src/observability/stats-ring.ts";
import type { SessionInfo } from "../../src/protocol/types.ts";
import { Presence, SessionEvents } from "../../src/sessions/index.ts";
import { ROOT } from "../helpers.ts";

describe("routes", () => {
  test("each view's hash reads back as the same route", () => {
    const routes: Route[] = [
      { view: "overview" },
      { view: "sessions" },
      { view: "sessions", status: "active", room: "team-1" },
      { view: "session", id: "abc:1.x" },
      { view: "session", id: "s 1/2", seq: 42 },
      { view: "alerts", status: "open" },
      { view: "alerts", status: "resolved" },
      { view: "webhooks", status: "dead" },
    ];
    for (const r of routes) expect(parseRoute(routeHash(r))).toEqual(r);
  });

  test("anything unknown or malformed is the overview or a safe default", () => {
    expect(parseRoute("")).toEqual({ view: "overview" });
    expect(parseRoute("#/nope")).toEqual({ view: "overview" });
    expect(parseRoute("#/sessions?status=weird")).toEqual({ view: "sessions" });
    expect(parseRoute("#/alerts?status=weird")).toEqual({ view: "alerts", status: "open" });
    expect(parseRoute("#/sessions/x?seq=-3")).toEqual({ view: "session", id: "x" });
    expect(parseRoute("#/sessions/%E0%A4%A")).toEqual({ view: "session", id: "%E0%A4%A" });
  });
});

describe("labels", () => {
  test("sentiment falls in three bands and always reads as a signed number", () => {
    expect([-0.62, -0.25, 0, 0.24, 0.25, null].map(sentimentBand)).toEqual(["negative", "negative", "neutral", "neutral", "positive", "none"]);
    expect([-0.62, 0.4, 0, null].map(formatSentiment)).toEqual(["−0.62", "+0.40", "0.00", "–"]);
  });

  test("the highest risk only rises, and an unknown level counts as nothing", () => {
    expect(maxRisk("low", "high")).toBe("high");
    expect(maxRisk("medium", "none")).toBe("medium");
    expect(maxRisk(null, "low")).toBe("low");
    expect(maxRisk(null, undefined)).toBeNull();
    expect(maxRisk("bogus" as never, "none")).toBe("none");
  });

  test("times read as how long ago; rates keep a sensible precision", () => {
    const now = Date.parse("2026-11-21T12:00:00Z");
    expect(["2026-11-21T12:00:03Z", "2026-11-21T11:59:30Z", "2026-11-21T11:55:00Z", "2026-11-21T09:00:00Z", "2026-11-18T12:00:00Z", "bad"].map((t) => timeAgo(t, now))).toEqual([
      "just now",
      "30 s ago",
      "5 min ago",
      "3 h ago",
      "3 d ago",
      "–",
    ]);
    expect([12, 3.5, 0.25, 12.345, Number.NaN].map(formatRate)).toEqual(["12", "3.5", "0.25", "12.3", "0"]);
  });

  test("a token's lifetime is read from its exp claim, and an unreadable token has none", () => {
    const payload = btoa(JSON.stringify({ sub: "ops", exp: 1_700_003_600 })).replace(/=+$/, "");
    expect(tokenSecondsLeft(`h.${payload}.s`, 1_700_000_000_000)).toBe(3600);
    expect(tokenSecondsLeft("not-a-jwt", 0)).toBeNull();
  });
});

describe("chart geometry", () => {
  test("points run left to right over the window and bottom to top up to the axis maximum", () => {
    const now = 1_000_000;
    const pts = chartPoints(
      [
        { t: now - 2000, value: 5 },
        { t: now - 1000, value: 0 },
        { t: now, value: 10 },
        { t: now - 5000, value: 99 },
      ],
      { now, windowMs: 2000, width: 100, height: 50, max: 10 },
    );
    expect(pts).toBe("0,25 50,50 100,0");
  });

  test("the chart shows the time sampled so far (at least a minute), and the whole window once it is full", () => {
    const o = { now: 10 * 60_000, windowMs: 15 * 60_000, intervalMs: 5000 };
    expect(chartSpan(undefined, o)).toBe(15 * 60_000);
    expect(chartSpan(o.now - 10_000, o)).toBe(60_000);
    expect(chartSpan(o.now - 150_000, o)).toBe(3 * 60_000);
    expect(chartSpan(0, { ...o, now: 40 * 60_000 })).toBe(15 * 60_000);
  });

  test("the axis ceiling is 1, 2 or 5 times a power of ten", () => {
    expect([0, 0.3, 1, 1.5, 3, 7, 12, 480, 1001].map((v) => niceMax(v))).toEqual([1, 1, 1, 2, 5, 10, 20, 500, 2000]);
  });
});

describe("StatsRing and StatsSampler", () => {
  test("the ring keeps the newest samples, oldest first", () => {
    const ring = new StatsRing(3);
    for (let t = 1; t <= 5; t++) ring.push({ t, messagesPerSecond: t, acksPerSecond: 0, connections: 0, activeSessions: 0 });
    expect(ring.toArray().map((s) => s.t)).toEqual([3, 4, 5]);
    expect(ring.last()?.t).toBe(5);
    expect(() => new StatsRing(0)).toThrow();
  });

  test("the sampler turns counter differences into per-second rates over exactly the window", () => {
    let now = 0;
    const counts = { received: 0, acked: 0 };
    const sampler = new StatsSampler({
      source: { messagesReceived: () => counts.received, messagesAcked: () => counts.acked, connections: () => 7, activeSessions: () => 3 },
      intervalMs: 5000,
      now: () => now,
    });
    expect(sampler.ring.capacity).toBe(180);
    const heard: number[] = [];
    sampler.onSample((s) => heard.push(s.t));
    now = 5000;
    counts.received = 50;
    counts.acked = 40;
    expect(sampler.sample()).toEqual({ t: 5000, messagesPerSecond: 10, acksPerSecond: 8, connections: 7, activeSessions: 3 });
    now = 15_000;
    counts.received = 53;
    expect(sampler.sample()).toEqual({ t: 15_000, messagesPerSecond: 0.3, acksPerSecond: 0, connections: 7, activeSessions: 3 });
    for (let i = 0; i < 200; i++) {
      now += 5000;
      sampler.sample();
    }
    expect(sampler.samples().length).toBe(180);
    expect(sampler.samples()[0]!.t).toBe(now - 179 * 5000);
    expect(heard.length).toBe(202);
  });

  test("a throwing listener is reported and the others still hear the sample", () => {
    const errors: unknown[] = [];
    const sampler = new StatsSampler({ source: { messagesReceived: () => 0, messagesAcked: () => 0, connections: () => 0, activeSessions: () => 0 }, intervalMs: 1000, onListenerError: (e) => errors.push(e) });
    let heard = 0;
    sampler.onSample(() => {
      throw new Error("boom");
    });
    sampler.onSample(() => heard++);
    sampler.sample();
    expect(heard).toBe(1);
    expect(errors.length).toBe(1);
  });
});

describe("ConsoleFeed", () => {
  const session = (id: string, messageCount = 0): SessionInfo =>
    ({ id, ownerId: "alice", status: "active", metrics: { messageCount } }) as unknown as SessionInfo;

  function setup() {
    const events = new SessionEvents();
    const presence = new Presence();
    const sessions = new Map<string, SessionInfo>();
    const reads = { count: 0 };
    const sampler = new StatsSampler({ source: { messagesReceived: () => 0, messagesAcked: () => 0, connections: () => 0, activeSessions: () => 0 }, intervalMs: 1000 });
    const feed = new ConsoleFeed({
      events,
      service: { presence, peek: (id) => (reads.count++, sessions.get(id) ?? null) } as ConstructorParameters<typeof ConsoleFeed>[0]["service"],
      sampler,
      stats: () => ({ connections: 1, subscriptions: 2, presence: presence.size, activeSessions: sessions.size }),
      health: () => ({ status: "healthy", checks: { database: true } }),
      adminExtras: () => ({ webhooks: { dead: 1 } }),
      activityFlushMs: 20,
    });
    feed.start();
    return { events, presence, sessions, sampler, feed, reads };
  }

  async function read(res: Response, until: (text: string) => boolean): Promise<string> {
    const reader = res.body!.getReader();
    let text = "";
    const deadline = Date.now() + 2000;
    while (!until(text) && Date.now() < deadline) {
      const { value, done } = await Promise.race([reader.read(), Bun.sleep(100).then(() => ({ value: undefined, done: false }))]);
      if (done) break;
      if (value) text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    return text;
  }

  test("many messages and presence changes of a session become one activity event with its current state", async () => {
    const { events, presence, sessions, feed } = setup();
    const abort = new AbortController();
    const res = feed.open(abort.signal, { admin: false });
    sessions.set("s1", session("s1", 3));
    presence.attach("s1", "alice");
    for (let seq = 1; seq <= 3; seq++) events.emit("message.committed", { message: { session: "s1", seq } as never });
    events.emit("presence.changed", { sessionId: "s1", userId: "alice", event: "join" });
    await Bun.sleep(60);
    const text = await read(res, (t) => t.includes("event: activity"));
    const activity = text.split("\n\n").filter((b) => b.startsWith("event: activity"));
    expect(activity.length).toBe(1);
    expect(JSON.parse(activity[0]!.split("data: ")[1]!)).toEqual({ sessions: [{ ...session("s1", 3), present: ["alice"] }] });
    // The snapshot came first, without the admin-only fields.
    const snapshot = JSON.parse(text.split("event: snapshot\ndata: ")[1]!.split("\n")[0]!);
    expect(snapshot).toEqual(expect.objectContaining({ intervalMs: 1000, samples: [], stats: { connections: 1, subscriptions: 2, presence: 0, activeSessions: 0 }, health: { status: "healthy", checks: { database: true } } }));
    expect(snapshot.webhooks).toBeUndefined();
    abort.abort();
    expect(feed.size).toBe(0);
    feed.stop();
  });

  test("lifecycle events go out at once; samples carry admin-only fields to admin streams only", async () => {
    const { events, sampler, feed } = setup();
    const staff = feed.open(new AbortController().signal, { admin: false });
    const admin = feed.open(new AbortController().signal, { admin: true });
    events.emit("session.started", { session: session("s2") });
    sampler.sample();
    const staffText = await read(staff, (t) => t.includes("event: sample"));
    const adminText = await read(admin, (t) => t.includes("event: sample"));
    expect(staffText).toContain('event: session\ndata: {"event":"started"');
    const sampleOf = (t: string) => JSON.parse(t.split("event: sample\ndata: ")[1]!.split("\n")[0]!);
    expect(sampleOf(staffText).webhooks).toBeUndefined();
    expect(sampleOf(adminText).webhooks).toEqual({ dead: 1 });
    feed.stop();
    expect(feed.size).toBe(0);
  });

  test("while no console is connected it does no work", async () => {
    const { events, sessions, feed, reads } = setup();
    sessions.set("s3", session("s3", 1));
    events.emit("message.committed", { message: { session: "s3", seq: 1 } as never });
    await Bun.sleep(50);
    expect(reads.count).toBe(0);
    feed.open(new AbortController().signal, { admin: false });
    events.emit("message.committed", { message: { session: "s3", seq: 2 } as never });
    await Bun.sleep(50);
    expect(reads.count).toBe(1);
    feed.stop();
  });
});

test("the console's CSP allows only this origin, names its WebSocket, and ignores a forged Host", () => {
  expect(consoleCsp("example.com:3000")).toContain("connect-src 'self' ws://example.com:3000 wss://example.com:3000;");
  expect(consoleCsp("[::1]:3000")).toContain("ws://[::1]:3000");
  expect(consoleCsp("evil.com; script-src *")).toContain("connect-src 'self';");
  expect(consoleCsp(undefined)).not.toContain("ws:");
});

test("the console's assets are under 100 KB gzipped, and docs/console.md states their size", async () => {
  const bundle = await buildConsole();
  const gzipped = gzippedSize(bundle);
  expect(gzipped).toBeLessThan(100 * 1024);
  expect(bundle.files.map((f) => f.name.replace(/-[a-z0-9]+\./, "-HASH."))).toEqual(["index.html", "assets/main-HASH.js", "assets/style-HASH.css"]);
  const stated = /gzipped\s+size\s+of\s+the\s+console\s+is\s+([\d.]+)\s+KB/.exec(readFileSync(join(ROOT, "docs", "console.md"), "utf8"));
  expect(stated).not.toBeNull();
  expect(Math.abs(Number(stated![1]) - gzipped / 1024) / (gzipped / 1024)).toBeLessThan(0.15);
});

test("the console's browser code imports only itself and protocol/'s pure types", () => {
  const dir = join(ROOT, "src", "console", "app");
  const bad: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    if (!entry.endsWith(".ts")) continue;
    for (const m of readFileSync(join(dir, entry), "utf8").matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+["']([^"']+)["']/gm)) {
      const spec = m[3]!;
      const target = resolve(dirname(join(dir, entry)), spec);
      if (target.startsWith(dir + sep)) continue;
      // Type-only imports of the wire contract are erased from the bundle.
      if (m[2] !== undefined && target.startsWith(join(ROOT, "src", "protocol") + sep)) continue;
      bad.push(`${entry}: ${spec}`);
    }
  }
  expect(bad).toEqual([]);
});
