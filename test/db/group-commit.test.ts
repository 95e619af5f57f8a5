import { describe, expect, test } from "bun:test";
import { GroupCommit } from "../../src/db/group-commit.ts";

test("items arriving together share one commit and hear back in arrival order", async () => {
  const batches: number[][] = [];
  const gc = new GroupCommit<number, number, string>(
    (items) => {
      batches.push(items);
      return items.map((v) => ({ ok: true as const, value: v * 10 }));
    },
    () => "failed",
    { maxBatch: 100, maxDelayMs: 1 },
  );
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 50 }, (_, i) => new Promise<void>((resolve) => gc.enqueue(i, (_, r) => (order.push(r!), resolve())))),
  );
  expect(batches).toHaveLength(1);
  expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i * 10));
});

test("a full batch flushes without waiting for the timer; a thrown commit fails every item of its batch", async () => {
  let calls = 0;
  const gc = new GroupCommit<number, number, string>(
    (items) => {
      calls++;
      if (items.includes(3)) throw new Error("disk full");
      return items.map((v) => ({ ok: true as const, value: v }));
    },
    () => "failed",
    { maxBatch: 2, maxDelayMs: 50 },
  );
  const results = await Promise.all(
    [1, 2, 3, 4].map((i) => new Promise<string>((resolve) => gc.enqueue(i, (e, r) => resolve(e ?? String(r))))),
  );
  expect(results).toEqual(["1", "2", "failed", "failed"]);
  expect(calls).toBe(2);
});

describe("a batch the database refuses for a moment (busy or locked)", () => {
  const BUSY = new Error("database is locked");
  const gcWith = (refusals: { count: number }, opts: { retryDeadlineMs?: number } = {}) => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number, string>(
      (items) => {
        if (refusals.count > 0) {
          refusals.count--;
          throw BUSY;
        }
        batches.push(items);
        return items.map((v) => ({ ok: true as const, value: v }));
      },
      (thrown) => (thrown === BUSY ? "unavailable" : "internal"),
      { maxBatch: 100, maxDelayMs: 0, isRetryable: (t) => t === BUSY, retryDelayMs: 1, ...opts },
    );
    return { gc, batches };
  };
  const enqueue = (gc: GroupCommit<number, number, string>, i: number, heard: string[]) =>
    new Promise<void>((resolve) => gc.enqueue(i, (e, r) => (heard.push(e ?? `ok ${r}`), resolve())));

  test("is retried on a timer, and items queued meanwhile commit behind it, in order", async () => {
    const refusals = { count: 5 };
    const { gc, batches } = gcWith(refusals);
    const heard: string[] = [];
    const first = [1, 2, 3].map((i) => enqueue(gc, i, heard));
    await Bun.sleep(0);
    expect(gc.retrying).toBe(true);
    const later = [4, 5].map((i) => enqueue(gc, i, heard));
    await Promise.all([...first, ...later]);
    expect(heard).toEqual(["ok 1", "ok 2", "ok 3", "ok 4", "ok 5"]);
    expect(batches.flat()).toEqual([1, 2, 3, 4, 5]);
    expect(gc.retrying).toBe(false);
  });

  test("the event loop keeps running between attempts", async () => {
    const refusals = { count: 8 };
    const { gc } = gcWith(refusals);
    const heard: string[] = [];
    const done = enqueue(gc, 1, heard);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    await done;
    clearInterval(ticker);
    expect(heard).toEqual(["ok 1"]);
    expect(ticks).toBeGreaterThan(3);
  });

  test("items that waited past the deadline fail with the commit's error; the ones behind them still commit", async () => {
    const refusals = { count: Infinity };
    const { gc, batches } = gcWith(refusals, { retryDeadlineMs: 60 });
    const heard: string[] = [];
    const early = enqueue(gc, 1, heard);
    await Bun.sleep(40);
    const late = enqueue(gc, 2, heard);
    await early;
    expect(heard).toEqual(["unavailable"]);
    refusals.count = 0;
    await late;
    expect(heard).toEqual(["unavailable", "ok 2"]);
    expect(batches).toEqual([[2]]);
    await gc.idle();
  });

  test("idle() resolves once nothing is queued or waiting for a retry", async () => {
    const refusals = { count: 3 };
    const { gc } = gcWith(refusals);
    const heard: string[] = [];
    void enqueue(gc, 1, heard);
    await Bun.sleep(0);
    expect(gc.pending).toBe(1);
    await gc.idle();
    expect(gc.pending).toBe(0);
    expect(heard).toEqual(["ok 1"]);
  });

  test("an error that is not retryable fails the batch at once", async () => {
    const gc = new GroupCommit<number, number, string>(
      () => {
        throw new Error("disk I/O error");
      },
      () => "failed",
      { maxDelayMs: 0, isRetryable: () => false },
    );
    const heard: string[] = [];
    await enqueue(gc, 1, heard);
    expect(heard).toEqual(["failed"]);
    expect(gc.retrying).toBe(false);
  });
});
