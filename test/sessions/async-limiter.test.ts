// A message rate limiter that answers later (the Redis token bucket shared by the nodes): appends of a session
// still commit in the order they were made, each takes one token once (also when its step runs again after a
// read), a refusal after the token was taken gives it back, and rate_limited still refuses.
import { describe, expect, test } from "bun:test";
import { TokenBucketLimiter } from "../../src/auth/token-bucket.ts";
import { principal, type MessageRateLimiter, type SessionService } from "../../src/sessions/index.ts";
import { MemorySessionStore } from "../../src/sessions/memory-store.ts";
import type { AppendResult, SessionStorage, SessionStore } from "../../src/sessions/store.ts";
import { join, later } from "./cluster-setup.ts";
import { serviceOn } from "./service-setup.ts";

/**
 * The in-process bucket behind a delay that shrinks from one take to the next: a later take is answered before an
 * earlier one (as a shared limiter's answers may come), and every answer comes on a later turn.
 */
class LaterLimiter implements MessageRateLimiter {
  private readonly bucket: TokenBucketLimiter;
  takes = 0;
  refunds = 0;
  constructor(capacity: number, private readonly firstDelayMs = 25) {
    this.bucket = new TokenBucketLimiter({ capacity, refillMs: 60_000 });
  }
  take(key: string, now: number): Promise<number> {
    const answer = this.bucket.take(key, now);
    const delay = Math.max(1, this.firstDelayMs - 5 * this.takes++);
    return new Promise((resolve) => setTimeout(() => resolve(answer), delay));
  }
  refund(key: string): Promise<void> {
    this.refunds++;
    return new Promise((resolve) => setTimeout(() => resolve(this.bucket.refund(key)), 1));
  }
}

function serviceWith(store: SessionStore | SessionStorage, limiter: MessageRateLimiter, cacheMaxSessions = 1000) {
  const { service, events } = serviceOn(store, { cacheMaxSessions }, { limiter });
  const committed: string[] = [];
  events.on("message.committed", ({ message }) => committed.push(message.content));
  return { service, committed };
}

type Outcome = { content: string; seq?: number; code?: string };

/** Appends one after the other without waiting; each outcome as it was told (a refusal thrown at once included). */
function burst(service: SessionService, userId: string, session: string, contents: string[], clientMsgId?: (i: number) => string) {
  const told: Outcome[] = [];
  const all = contents.map(
    (content, i) =>
      new Promise<void>((resolve) => {
        const done = (e: { code?: string } | null, r: AppendResult | null) => {
          told.push(e ? { content, code: e.code } : { content, seq: r!.message.seq });
          resolve();
        };
        try {
          service.append(principal(userId), session, { content, clientMsgId: clientMsgId?.(i) }, done);
        } catch (e) {
          done(e as { code?: string }, null);
        }
      }),
  );
  return Promise.all(all).then(() => told);
}

describe("a rate limiter that answers later", () => {
  for (const kind of ["synchronous", "asynchronous"] as const) {
    test(`on the ${kind} store: appends commit in the order made though the answers come in reverse; the budget still holds`, async () => {
      const memory = new MemorySessionStore();
      const limiter = new LaterLimiter(4);
      const { service, committed } = serviceWith(kind === "synchronous" ? memory : later(memory), limiter);
      await join(service, "ann", "s");
      const contents = ["m0", "m1", "m2", "m3", "m4", "m5"];
      const told = await burst(service, "ann", "s", contents);
      // Told in the order made, too.
      expect(told.map((o) => o.content)).toEqual(contents);
      expect(told.slice(0, 4).map((o) => o.seq)).toEqual([1, 2, 3, 4]);
      expect(told.slice(4).map((o) => o.code)).toEqual(["rate_limited", "rate_limited"]);
      expect(committed).toEqual(["m0", "m1", "m2", "m3"]);
      expect(memory.lastMessages("s", 10).map((m) => m.content)).toEqual(["m0", "m1", "m2", "m3"]);
      expect(limiter.takes).toBe(6);
      expect(limiter.refunds).toBe(0);
    });
  }

  test("an append whose step runs again after a read (its session was evicted meanwhile) takes its token once", async () => {
    const memory = new MemorySessionStore();
    const limiter = new LaterLimiter(100);
    const { service, committed } = serviceWith(later(memory), limiter, 1);
    await join(service, "ann", "a");
    const sent = burst(service, "ann", "a", ["x", "y", "z"]);
    // While the tokens are on their way, another session pushes "a" out of the one-session cache.
    await join(service, "bob", "b");
    expect(service.isCached("a")).toBe(false);
    const told = await sent;
    expect(told.map((o) => o.seq)).toEqual([1, 2, 3]);
    expect(committed).toEqual(["x", "y", "z"]);
    expect(limiter.takes).toBe(3);
  });

  test("appends of other sessions do not wait in another session's line", async () => {
    const memory = new MemorySessionStore();
    const limiter = new LaterLimiter(100, 40);
    const { service } = serviceWith(memory, limiter);
    await join(service, "ann", "slow");
    await join(service, "bob", "fast");
    const order: string[] = [];
    const slow = burst(service, "ann", "slow", ["s0"]).then(() => order.push("slow"));
    const fast = burst(service, "bob", "fast", ["f0"]).then(() => order.push("fast"));
    await Promise.all([slow, fast]);
    expect(order).toEqual(["fast", "slow"]);
  });

  test("a refusal after the token was taken gives it back: the session ended meanwhile, or the message was a replay", async () => {
    const memory = new MemorySessionStore();
    const limiter = new LaterLimiter(100);
    const { service } = serviceWith(memory, limiter);
    await join(service, "ann", "r");
    const first = await burst(service, "ann", "r", ["once", "once"], () => "c-1");
    expect(first.map((o) => o.seq)).toEqual([1, 1]);
    expect(limiter.refunds).toBe(1); // the replay's token

    const late = burst(service, "ann", "r", ["late"]);
    await service.run(() => service.end(principal("ann"), "r"));
    expect((await late)[0]!.code).toBe("session_ended");
    expect(limiter.refunds).toBe(2);
    expect(limiter.takes).toBe(3);
  });

  test("an in-process limiter keeps today's path: a refusal is thrown at once", async () => {
    const memory = new MemorySessionStore();
    const { service } = serviceWith(memory, new TokenBucketLimiter({ capacity: 1, refillMs: 60_000 }));
    await join(service, "ann", "now");
    let seq = 0;
    service.append(principal("ann"), "now", { content: "a" }, (_, r) => (seq = r!.message.seq));
    memory.flush();
    expect(seq).toBe(1);
    expect(() => service.append(principal("ann"), "now", { content: "b" }, () => {})).toThrow("Too many messages");
  });
});
