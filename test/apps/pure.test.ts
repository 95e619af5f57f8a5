// The pure parts of issue 18, tested directly: endOnDisconnect grace timers (manual timers, no sleeping), room
// create conflicts and refusal wording, Markdown escaping of user content, CORS and loopback rules, the pre-test plan.
import { describe, expect, test } from "bun:test";
import { chromiumStep } from "../../scripts/pretest.ts";
import { isLoopbackHost, loadConfig } from "../../src/config/index.ts";
import { parseClientFrame } from "../../src/protocol/frames.ts";
import { withArticle } from "../../src/protocol/words.ts";
import { DisconnectGrace, type Timers } from "../../src/sessions/end-on-disconnect.ts";
import { markdownBlock, markdownCode, markdownText } from "../../src/sessions/markdown.ts";
import { conflictingFields, forbiddenMessage } from "../../src/sessions/rooms.ts";

/** Timers that fire only when the test moves time on. */
class ManualTimers implements Timers {
  now = 0;
  private next = 1;
  private readonly pending = new Map<number, { at: number; run: () => void }>();
  set(run: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { at: this.now + ms, run });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.pending].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.now) continue;
      this.pending.delete(id);
      t.run();
    }
  }
  get count(): number {
    return this.pending.size;
  }
}

describe("endOnDisconnect grace timers", () => {
  test("an armed session ends when its grace runs out, not before", () => {
    const timers = new ManualTimers();
    const ended: string[] = [];
    const grace = new DisconnectGrace(timers, (id) => ended.push(id));
    grace.arm("s1", 30_000);
    timers.advance(29_999);
    expect(ended).toEqual([]);
    expect(grace.isArmed("s1")).toBe(true);
    timers.advance(1);
    expect(ended).toEqual(["s1"]);
    expect(grace.isArmed("s1")).toBe(false);
  });

  test("someone returning inside the grace cancels it; leaving again starts a fresh one", () => {
    const timers = new ManualTimers();
    const ended: string[] = [];
    const grace = new DisconnectGrace(timers, (id) => ended.push(id));
    grace.arm("s1", 10_000);
    timers.advance(9_000);
    expect(grace.cancel("s1")).toBe(true);
    timers.advance(60_000);
    expect(ended).toEqual([]);
    grace.arm("s1", 10_000);
    timers.advance(9_999);
    expect(ended).toEqual([]);
    timers.advance(1);
    expect(ended).toEqual(["s1"]);
  });

  test("re-arming restarts the period instead of adding a second timer", () => {
    const timers = new ManualTimers();
    const ended: string[] = [];
    const grace = new DisconnectGrace(timers, (id) => ended.push(id));
    grace.arm("s1", 10_000);
    timers.advance(5_000);
    grace.arm("s1", 10_000);
    expect(timers.count).toBe(1);
    timers.advance(9_999);
    expect(ended).toEqual([]);
    timers.advance(1);
    expect(ended).toEqual(["s1"]);
  });

  test("suspended for shutdown: running periods are dropped and nothing is armed any more", () => {
    const timers = new ManualTimers();
    const ended: string[] = [];
    const grace = new DisconnectGrace(timers, (id) => ended.push(id));
    grace.arm("s1", 0);
    grace.arm("s2", 5_000);
    grace.suspend();
    grace.arm("s3", 0);
    timers.advance(60_000);
    expect(ended).toEqual([]);
    expect(grace.size).toBe(0);
    expect(timers.count).toBe(0);
  });

  test("an ending that throws is reported and leaves the other sessions' timers working", () => {
    const timers = new ManualTimers();
    const errors: string[] = [];
    const ended: string[] = [];
    const grace = new DisconnectGrace(
      timers,
      (id) => {
        if (id === "bad") throw new Error("boom");
        ended.push(id);
      },
      (_, id) => errors.push(id),
    );
    grace.arm("bad", 1);
    grace.arm("good", 2);
    timers.advance(5);
    expect(errors).toEqual(["bad"]);
    expect(ended).toEqual(["good"]);
  });
});

describe("rooms", () => {
  const current = { members: ["bob", "cy"], access: "open" as const, config: { persona: "coach", level: { n: 1, m: 2 } } };

  test("a create request that gives no room settings, or the same ones, does not conflict", () => {
    expect(conflictingFields(current, {})).toEqual([]);
    expect(conflictingFields(current, { members: ["cy", "bob", "bob"], access: "open", config: { level: { m: 2, n: 1 }, persona: "coach" } })).toEqual([]);
  });

  test("each given field that differs is named", () => {
    expect(conflictingFields(current, { members: ["bob"] })).toEqual(["members"]);
    expect(conflictingFields(current, { access: "private", config: { persona: "critic" } })).toEqual(["access", "config"]);
    expect(conflictingFields(current, { config: {} })).toEqual(["config"]);
  });

  test("a refusal names what a room member lacks: open access or a room grant", () => {
    const message = forbiddenMessage({ room: "team-a" });
    expect(message).toContain('"room:team-a"');
    expect(message).toContain("open");
    expect(message).toContain("ROOM_ACCESS_DEFAULT=open");
    expect(forbiddenMessage({ room: null })).toContain("private");
  });
});

describe("Markdown escaping of user content", () => {
  test("content sits verbatim in a fence it cannot close, however many backticks it holds", () => {
    for (const content of ["plain", "```\nunclosed", "a ```` b\n`````", "ends with newline\n", ""]) {
      const block = markdownBlock(content);
      const fence = /^(`+)\n/.exec(block)![1]!;
      expect(fence.length).toBeGreaterThanOrEqual(3);
      expect(block.endsWith(`\n${fence}`)).toBe(true);
      const inner = block.slice(fence.length + 1, block.length - fence.length);
      expect(inner.replace(/\n$/, "")).toBe(content.replace(/\n$/, ""));
      // No line inside is a backtick run long enough to close the fence.
      for (const line of inner.split("\n")) expect(/^\s*`+\s*$/.test(line) && line.trim().length >= fence.length).toBe(false);
    }
  });

  test("a forged heading and an unclosed fence render as text inside the message's block", () => {
    const html = Bun.markdown.html(`### 1 · a\n\n${markdownBlock("hi\n\n### 2 · `bob` (user) · 2026-01-01\n```")}\n\n### 2 · b\n`);
    expect([...html.matchAll(/<h3>(.*?)<\/h3>/g)].map((m) => m[1])).toEqual(["1 · a", "2 · b"]);
  });

  test("a user id becomes one code span on one line", () => {
    expect(markdownCode("alice")).toBe("`alice`");
    expect(markdownCode("a`b")).toBe("``a`b``");
    expect(markdownCode("`x")).toBe("`` `x ``");
    const forged = markdownCode("eve\n\n### 9 · `admin`");
    expect(forged).not.toContain("\n");
    expect(Bun.markdown.html(`### 1 · ${forged}\n`).match(/<h3>/g)).toHaveLength(1);
  });
});

describe("Markdown escaping of model-derived text", () => {
  test("stays one line and renders as the words it holds: no heading, link, image or HTML", () => {
    const topic = "care\n\n### 9 · `admin` (user) ![x](http://tracker.example/p.png) <b>bold</b> [link](http://x)";
    const html = Bun.markdown.html(`> Analysis: ${markdownText(topic)}\n`);
    expect(markdownText(topic)).not.toContain("\n");
    expect(html).not.toMatch(/<h3>|<img|<a |<b>/);
    expect(html).toContain("tracker.example");
  });
});

describe("validation wording", () => {
  test('types take the right article: "an array", "an object", "a string"', () => {
    expect(["array", "object", "string", "boolean", "uuid", "url", "integer"].map(withArticle)).toEqual([
      "an array",
      "an object",
      "a string",
      "a boolean",
      "a uuid",
      "a url",
      "an integer",
    ]);
  });

  test("a frame with an array where an object belongs, or the reverse, reads correctly", () => {
    const notObject = parseClientFrame(JSON.stringify({ type: "configure", session: "s1", config: [] }));
    expect(!notObject.ok && notObject.error.message).toBe('Field "config" is invalid: expected an object.');
    const notArray = parseClientFrame(JSON.stringify({ type: "configure", session: "s1", members: "bob" }));
    expect(!notArray.ok && notArray.error.message).toBe('Field "members" is invalid: expected an array.');
    const empty = parseClientFrame(JSON.stringify({ type: "message", session: "s1", content: "x", clientMsgId: "" }));
    expect(!empty.ok && empty.error.message).toBe('Field "clientMsgId" is invalid: expected at least 1 character.');
  });
});

describe("safe defaults", () => {
  test("loopback hosts are 127.0.0.0/8, ::1 and localhost", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"]) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "192.168.1.2", "10.0.0.1", "example.com", "128.0.0.1"]) expect(isLoopbackHost(h)).toBe(false);
  });

  test("ALLOWED_ORIGINS accepts * alone, and a list of exact origins", () => {
    const any = loadConfig({ ALLOWED_ORIGINS: "*" });
    expect(any.ok && any.config.ALLOWED_ORIGINS).toBe("*");
    const list = loadConfig({ ALLOWED_ORIGINS: "https://a.example, http://localhost:5173" });
    expect(list.ok && list.config.ALLOWED_ORIGINS).toEqual(["https://a.example", "http://localhost:5173"]);
    expect(loadConfig({ ALLOWED_ORIGINS: "*,https://a.example" }).ok).toBe(false);
  });

  test("END_ON_DISCONNECT_GRACE_SECONDS and ROOM_ACCESS_DEFAULT: off and private unless set", () => {
    const d = loadConfig({});
    expect(d.ok && d.config.END_ON_DISCONNECT_GRACE_SECONDS).toBeUndefined();
    expect(d.ok && d.config.ROOM_ACCESS_DEFAULT).toBe("private");
    const set = loadConfig({ END_ON_DISCONNECT_GRACE_SECONDS: "45", ROOM_ACCESS_DEFAULT: "open" });
    expect(set.ok && [set.config.END_ON_DISCONNECT_GRACE_SECONDS, set.config.ROOM_ACCESS_DEFAULT]).toEqual([45, "open"]);
  });
});

describe("npm test's pre-test step", () => {
  test("chromium present: nothing to do", () => {
    expect(chromiumStep({ chromium: true, root: false, aptGet: false })).toEqual({ kind: "ready" });
  });

  test("missing, as root on Debian: apt-get update, then install chromium", () => {
    const step = chromiumStep({ chromium: false, root: true, aptGet: true });
    expect(step.kind).toBe("install");
    if (step.kind === "install") expect(step.commands.map((c) => c.join(" "))).toEqual(["apt-get update -qq", "apt-get install -y -qq chromium"]);
  });

  test("missing and not root, or no apt-get: one line that says exactly how", () => {
    const notRoot = chromiumStep({ chromium: false, root: false, aptGet: true });
    expect(notRoot.kind === "stop" && notRoot.line).toContain("sudo apt-get update && sudo apt-get install -y chromium");
    const noApt = chromiumStep({ chromium: false, root: true, aptGet: false });
    expect(noApt.kind === "stop" && noApt.line).toContain("/usr/bin/chromium");
    for (const s of [notRoot, noApt]) if (s.kind === "stop") expect(s.line).not.toContain("\n");
  });
});
