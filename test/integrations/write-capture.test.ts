// Hook writes on an async store: a hook queues its write into the transaction whose hook call is running, and
// only that one; a write asked for outside any transaction is refused rather than lost.
import { describe, expect, test } from "bun:test";
import { combineHooks, WriteCapture, type CommitHooks } from "../../src/db/commit-hooks.ts";

describe("WriteCapture", () => {
  test("the writes queued by hook calls are returned to the transaction that made the calls", () => {
    const writes = new WriteCapture<string>();
    const hooks: CommitHooks = combineHooks([
      { sessionEnded: (r) => writes.add(`archive:${r.id}`) },
      { sessionEnded: (r) => writes.add(`event:${r.id}`) },
    ]);
    const a = writes.capture(() => hooks.sessionEnded!({ id: "s1" } as never));
    const b = writes.capture(() => hooks.sessionEnded!({ id: "s2" } as never));
    expect(a).toEqual(["archive:s1", "event:s1"]);
    expect(b).toEqual(["archive:s2", "event:s2"]);
  });

  test("several captures can fill one transaction's list", () => {
    const writes = new WriteCapture<number>();
    const tx: number[] = [];
    writes.capture(() => writes.add(1), tx);
    writes.capture(() => writes.add(2), tx);
    expect(tx).toEqual([1, 2]);
  });

  test("a write outside a capture throws, and a throwing hook leaves no capture open", () => {
    const writes = new WriteCapture<number>();
    expect(() => writes.add(1)).toThrow();
    expect(() =>
      writes.capture(() => {
        writes.add(1);
        throw new Error("hook failed");
      }),
    ).toThrow("hook failed");
    expect(() => writes.add(2)).toThrow();
  });
});
