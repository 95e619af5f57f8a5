import { expect, test } from "bun:test";
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
