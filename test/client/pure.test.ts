// The SDK's pure parts: backoff, token expiry, ordered delivery, the outbox, the emitter, close-code policy.
import { describe, expect, test } from "bun:test";
import { backoffDelay } from "../../src/client/backoff.ts";
import { Emitter } from "../../src/client/emitter.ts";
import { OrderedDelivery } from "../../src/client/ordered-delivery.ts";
import { Outbox } from "../../src/client/outbox.ts";
import { refreshDelayMs, tokenExpiryMs } from "../../src/client/token.ts";
import { isReconnectable } from "../../src/protocol/errors.ts";
import type { Message } from "../../src/protocol/types.ts";
import { token } from "../helpers.ts";

const message = (seq: number): Message => ({ id: `m${seq}`, seq, session: "s", userId: "u", role: "user", kind: "text", content: `c${seq}`, createdAt: "" });
const seqs = (ms: Message[]) => ms.map((m) => m.seq);

describe("backoffDelay", () => {
  test("full jitter: uniformly below a ceiling that doubles from base up to the cap", () => {
    const options = { baseMs: 500, capMs: 30_000 };
    const highest = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, options, highest))).toEqual([499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999]);
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(1_000, options, highest)).toBe(29_999);
    const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(10, options)));
    expect(spread.size).toBeGreaterThan(40);
  });
});

describe("token expiry", () => {
  test("reads exp from a JWT, and nothing from what is not one", async () => {
    const jwt = await token("alice", { ttlSeconds: 600, nowMs: 1_700_000_000_000 });
    expect(tokenExpiryMs(jwt)).toBe(1_700_000_600_000);
    expect(tokenExpiryMs("not-a-jwt")).toBeNull();
    expect(tokenExpiryMs("a.@@@.c")).toBeNull();
    expect(tokenExpiryMs(`a.${btoa(JSON.stringify({ sub: "x" }))}.c`)).toBeNull();
  });

  test("refreshes a minute before expiry, or halfway through a shorter remaining lifetime", () => {
    expect(refreshDelayMs(3_600_000, 0)).toBe(3_540_000);
    expect(refreshDelayMs(60_000, 0)).toBe(30_000);
    expect(refreshDelayMs(2000, 0)).toBe(1000);
    expect(refreshDelayMs(0, 5000)).toBe(0);
  });
});

describe("OrderedDelivery", () => {
  test("delivers each seq once, in order, holding back what arrives ahead of a gap", () => {
    const d = new OrderedDelivery(2);
    expect(seqs(d.accept(message(2)))).toEqual([]);
    expect(seqs(d.accept(message(3)))).toEqual([3]);
    expect(seqs(d.accept(message(5)))).toEqual([]);
    expect(d.hasGap).toBe(true);
    expect(seqs(d.accept(message(6)))).toEqual([]);
    expect(seqs(d.accept(message(4)))).toEqual([4, 5, 6]);
    expect(d.hasGap).toBe(false);
    expect(seqs(d.accept(message(5)))).toEqual([]);
    expect(d.lastSeq).toBe(6);
  });

  test("a recovery answer is complete: seqs it skips no longer exist and are not waited for", () => {
    const d = new OrderedDelivery(10);
    d.accept(message(20));
    expect(seqs(d.acceptRecovered([message(9), message(11), message(14), message(15)]))).toEqual([11, 14, 15]);
    expect(d.hasGap).toBe(true);
    expect(seqs(d.acceptRecovered([message(16), message(17), message(18), message(19)]))).toEqual([16, 17, 18, 19, 20]);
    expect(d.hasGap).toBe(false);
  });

  test("holds a bounded number of messages; the rest come again with the catch-up", () => {
    const d = new OrderedDelivery(0, 3);
    for (const seq of [2, 3, 4, 5, 6]) d.accept(message(seq));
    expect(seqs(d.accept(message(1)))).toEqual([1, 2, 3, 4]);
    expect(seqs(d.acceptRecovered([message(5), message(6)]))).toEqual([5, 6]);
  });
});

describe("Outbox", () => {
  test("keeps one FIFO queue per session and refuses entries beyond its capacity", () => {
    const box = new Outbox<{ session: string; n: number }>(3);
    const a1 = { session: "a", n: 1 };
    const a2 = { session: "a", n: 2 };
    const b1 = { session: "b", n: 1 };
    expect([box.add(a1), box.add(b1), box.add(a2), box.add({ session: "c", n: 1 })]).toEqual([true, true, true, false]);
    expect(box.head("a")).toBe(a1);
    expect(box.entries()).toEqual([a1, a2, b1]);
    expect(box.remove(a1)).toBe(true);
    expect(box.remove(a1)).toBe(false);
    expect(box.head("a")).toBe(a2);
    box.remove(a2);
    expect(box.sessions()).toEqual(["b"]);
    expect(box.size).toBe(1);
  });
});

describe("Emitter", () => {
  class Probe extends Emitter<{ ping: number }> {
    fire(n: number) {
      this.emit("ping", n);
    }
  }

  test("a listener that throws does not stop the others, and its error is handed on", () => {
    const surfaced: unknown[] = [];
    const probe = new Probe((e) => surfaced.push(e));
    const got: number[] = [];
    probe.on("ping", () => {
      throw new Error("app bug");
    });
    const off = probe.on("ping", (n) => got.push(n));
    probe.fire(1);
    off();
    probe.fire(2);
    expect(got).toEqual([1]);
    expect(surfaced.map((e) => (e as Error).message)).toEqual(["app bug", "app bug"]);
  });
});

test("close codes: 4500–4999, 1000 and 1008 are final; going away, heartbeat, token expiry, slow consumer and reset reconnect", () => {
  expect([1000, 1008, 4500, 4501, 4999].map(isReconnectable)).toEqual([false, false, false, false, false]);
  expect([1001, 1006, 1009, 1011, 4000, 4001, 4002, 4003, 4499].map(isReconnectable)).toEqual(Array(9).fill(true));
});
