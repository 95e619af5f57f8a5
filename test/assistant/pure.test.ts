// The assistant's pure parts: which messages are answered, the reply line (per session and global), the stream
// registry's offsets and snapshots, and the failure sentence.
import { describe, expect, test } from "bun:test";
import { failureNotice } from "../../src/assistant/reply.ts";
import { ReplyScheduler } from "../../src/assistant/scheduler.ts";
import { StreamRegistry, type ActiveStream } from "../../src/assistant/streams.ts";
import { mentions, replyRequest } from "../../src/assistant/trigger.ts";
import type { AssistantSetting } from "../../src/protocol/types.ts";

const every: AssistantSetting = { enabled: true, name: "helper", trigger: "every" };
const mention: AssistantSetting = { ...every, trigger: "mention" };
const user = (content: string, userId = "alice") => ({ role: "user" as const, userId, content });

describe("which messages get a reply", () => {
  test("trigger every answers every user message; mention only @name, not inside longer names or addresses", () => {
    expect(replyRequest(every, user("hello"))).toEqual({});
    expect(replyRequest(mention, user("hello"))).toBeNull();
    for (const yes of ["@helper hi", "hi @helper", "hi @Helper!", "(@helper) what now?", "ping @helper, @bob"]) expect(mentions(yes, "helper")).toBe(true);
    for (const no of ["@helpers hi", "@helper_2 hi", "mail bob@helper.example", "helper", "@ helper"]) expect(mentions(no, "helper")).toBe(false);
    expect(replyRequest(mention, user("thanks @helper"))).toEqual({});
  });

  test("an explicit request is answered whatever the trigger, with only the options that are set", () => {
    expect(replyRequest(mention, user("no mention"), { json: true })).toEqual({ json: true });
    expect(replyRequest(mention, user("no mention"), { json: false, reasoning: true })).toEqual({ reasoning: true });
    expect(replyRequest(mention, user("no mention"), {})).toEqual({});
  });

  test("never a reply while disabled, to a non-user message, or to a message under the assistant's own name", () => {
    expect(replyRequest({ ...every, enabled: false }, user("hello"), { json: true })).toBeNull();
    expect(replyRequest(every, { role: "assistant", userId: "helper", content: "hi" })).toBeNull();
    expect(replyRequest(every, { role: "system", userId: "app", content: "hi" })).toBeNull();
    expect(replyRequest(every, user("hello", "helper"), {})).toBeNull();
  });
});

describe("the reply line", () => {
  function harness(options: { maxConcurrency?: number; maxWaitingPerSession?: number } = {}) {
    const started: string[] = [];
    const finishers = new Map<string, () => void>();
    const scheduler = new ReplyScheduler<string>(
      (job) =>
        new Promise<void>((resolve) => {
          started.push(job);
          finishers.set(job, resolve);
        }),
      options,
    );
    const finish = async (job: string) => {
      finishers.get(job)!();
      await Bun.sleep(0);
    };
    return { scheduler, started, finish };
  }

  test("one reply at a time per session, in order", async () => {
    const { scheduler, started, finish } = harness();
    scheduler.enqueue("s1", "a");
    scheduler.enqueue("s1", "b");
    expect(started).toEqual(["a"]);
    expect(scheduler.busy("s1")).toBe(true);
    await finish("a");
    expect(started).toEqual(["a", "b"]);
    await finish("b");
    expect(scheduler.busy("s1")).toBe(false);
    await scheduler.idle();
  });

  test("at most maxConcurrency over all sessions; the oldest waiting job of a free session goes next", async () => {
    const { scheduler, started, finish } = harness({ maxConcurrency: 2 });
    scheduler.enqueue("s1", "s1-a");
    scheduler.enqueue("s1", "s1-b");
    scheduler.enqueue("s2", "s2-a");
    scheduler.enqueue("s3", "s3-a");
    expect(started).toEqual(["s1-a", "s2-a"]);
    expect(scheduler.running).toBe(2);
    expect(scheduler.waiting).toBe(2);
    // s1-b is older, but its session is still answering: s3-a goes first, and s1-b as soon as s1 is free.
    await finish("s2-a");
    expect(started).toEqual(["s1-a", "s2-a", "s3-a"]);
    await finish("s1-a");
    expect(started.at(-1)).toBe("s1-b");
  });

  test("a session holds one running and maxWaitingPerSession more, reserved places included; release gives one back", () => {
    const { scheduler } = harness({ maxWaitingPerSession: 2 });
    expect(scheduler.reserve("s1")).toBe(true);
    scheduler.enqueue("s1", "a"); // uses the place reserved for it
    expect(scheduler.reserve("s1")).toBe(true);
    expect(scheduler.reserve("s1")).toBe(true);
    expect(scheduler.reserve("s1")).toBe(false);
    expect(scheduler.reserve("s2")).toBe(true);
    scheduler.release("s1");
    expect(scheduler.reserve("s1")).toBe(true);
  });

  test("dropSession forgets a session's waiting jobs and places; stop forgets everything and starts nothing", async () => {
    const { scheduler, started, finish } = harness();
    scheduler.enqueue("s1", "a");
    scheduler.enqueue("s1", "b");
    scheduler.enqueue("s1", "c");
    scheduler.reserve("s1");
    expect(scheduler.dropSession("s1")).toEqual(["b", "c"]);
    expect(scheduler.busy("s1")).toBe(true); // "a" still runs
    await finish("a");
    expect(scheduler.busy("s1")).toBe(false);
    scheduler.enqueue("s2", "d");
    scheduler.enqueue("s2", "e");
    expect(scheduler.stop()).toBe(1);
    await finish("d");
    expect(started).toEqual(["a", "d"]);
    expect(scheduler.reserve("s3")).toBe(false);
  });

  test("a job that throws is reported and the line goes on", async () => {
    const errors: unknown[] = [];
    const ran: string[] = [];
    const scheduler = new ReplyScheduler<string>(
      async (job) => {
        ran.push(job);
        if (job === "bad") throw new Error("boom");
      },
      { onError: (e) => errors.push(e) },
    );
    scheduler.enqueue("s1", "bad");
    scheduler.enqueue("s1", "good");
    await scheduler.idle();
    expect(ran).toEqual(["bad", "good"]);
    expect(errors).toHaveLength(1);
  });
});

describe("the stream registry", () => {
  const stream = (id: string, sessionId: string): ActiveStream => ({
    info: { id, replyTo: 3, userId: "helper", model: "m", startedAt: "2026-01-01T00:00:00.000Z" },
    sessionId,
    author: "alice",
    text: "",
    reasoning: "",
    controller: new AbortController(),
    finished: false,
    dirty: false,
    triggeredAt: 0,
    startedAtMs: 0,
    firstPieceAt: null,
  });

  test("offsets are the JavaScript string length before each piece, counted apart for reasoning", () => {
    const registry = new StreamRegistry();
    const s = stream("x", "s1");
    registry.add(s);
    expect(registry.append(s, "text", "héllo ")).toBe(0);
    expect(registry.append(s, "reasoning", "hmm")).toBe(0);
    expect(registry.append(s, "text", "😀 ")).toBe(6);
    expect(registry.append(s, "text", "end")).toBe(9);
    expect(registry.append(s, "reasoning", "!")).toBe(3);
    expect(s.dirty).toBe(true);
    expect(registry.snapshots("s1")).toEqual([{ ...s.info, text: "héllo 😀 end", reasoning: "hmm!" }]);
  });

  test("snapshots and lookups stay inside their session; a removed stream is gone", () => {
    const registry = new StreamRegistry();
    const a = stream("a", "s1");
    const b = stream("b", "s2");
    registry.add(a);
    registry.add(b);
    expect(registry.find("s1", "a")).toBe(a);
    expect(registry.find("s1", "b")).toBeUndefined();
    expect(registry.snapshots("s2")).toEqual([{ ...b.info, text: "" }]);
    registry.remove(a);
    expect(registry.find("s1", "a")).toBeUndefined();
    expect(registry.snapshots("s1")).toEqual([]);
    expect(registry.size).toBe(1);
  });
});

test("the failure notice is one sentence of our own words for each cause, and a generic one for anything else", () => {
  for (const kind of ["unreachable", "timeout", "http", "broken_stream", "invalid_reply", "max_duration", "internal", "something-new"]) {
    expect(failureNotice(kind)).toMatch(/^The assistant could not answer: [a-z][^.]*\. Please try again\.$/);
  }
  expect(failureNotice("something-new")).toBe(failureNotice("internal"));
});
