// The fan-out's message order across a broker: in seq order, each once, gaps filled from storage.
import { describe, expect, test } from "bun:test";
import type { Message } from "../../src/protocol/types.ts";
import { SeqGate } from "../../src/realtime/seq-gate.ts";

const msg = (seq: number, session = "s"): Message =>
  ({ id: `m${seq}`, seq, session, userId: "u", role: "user", kind: "text", content: `#${seq}`, createdAt: "2026-01-01T00:00:00.000Z" }) as Message;

/** A gate over a "storage" holding seqs 1..head of session "s"; `delivered` is what subscribers got. */
function gateOver(head: () => number, opts: { async?: boolean; failures?: number } = {}) {
  const delivered: number[] = [];
  const fills: Array<[number, number]> = [];
  let failures = opts.failures ?? 0;
  const gate = new SeqGate({
    pageSize: 3,
    deliver: (m) => delivered.push(m.seq),
    fill: (_id, after, limit) => {
      fills.push([after, limit]);
      if (failures > 0) {
        failures--;
        const e = new Error("storage down");
        if (opts.async) return Promise.reject(e);
        throw e;
      }
      const page: Message[] = [];
      for (let s = after + 1; s <= head() && page.length < limit; s++) page.push(msg(s));
      return opts.async ? Promise.resolve(page) : page;
    },
  });
  return { gate, delivered, fills };
}

describe("SeqGate", () => {
  test("messages in order go straight through, without reading storage", () => {
    const { gate, delivered, fills } = gateOver(() => 5);
    for (let s = 1; s <= 5; s++) gate.offer(msg(s));
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
    expect(fills).toEqual([]);
  });

  test("a message at or below what was delivered is dropped (a broker that delivers twice)", () => {
    const { gate, delivered } = gateOver(() => 3);
    gate.offer(msg(1));
    gate.offer(msg(2));
    gate.offer(msg(2));
    gate.offer(msg(1));
    gate.offer(msg(3));
    expect(delivered).toEqual([1, 2, 3]);
    expect(gate.dropped).toBe(2);
  });

  test("a gap is filled from storage before the message after it goes out", () => {
    const { gate, delivered } = gateOver(() => 8);
    gate.offer(msg(1));
    gate.offer(msg(8)); // 2..7 were lost by the broker
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(gate.filled).toBe(7); // 2..8 from storage; the held copy of 8 is dropped
    expect(gate.dropped).toBe(1);
  });

  test("with an asynchronous store, what arrives during the fill waits behind it, in order", async () => {
    const { gate, delivered } = gateOver(() => 6, { async: true });
    gate.offer(msg(1));
    gate.offer(msg(4));
    gate.offer(msg(6));
    gate.offer(msg(5));
    expect(delivered).toEqual([1]);
    await Bun.sleep(0);
    await Bun.sleep(0);
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test("a failed fill delivers nothing out of order and is tried again with the next message", async () => {
    const errors: string[] = [];
    const delivered: number[] = [];
    let down = true;
    const gate = new SeqGate({
      deliver: (m) => delivered.push(m.seq),
      onFillError: (e) => errors.push((e as Error).message),
      fill: (_id, after, limit) => {
        if (down) throw new Error("storage down");
        return [2, 3, 4].filter((s) => s > after).slice(0, limit).map((s) => msg(s));
      },
    });
    gate.offer(msg(1));
    gate.offer(msg(3));
    expect(delivered).toEqual([1]);
    expect(errors).toEqual(["storage down"]);
    down = false;
    gate.offer(msg(4));
    expect(delivered).toEqual([1, 2, 3, 4]);
  });

  test("after the broker's link was down, every followed session is read from storage even if nothing new arrives", () => {
    let head = 2;
    const { gate, delivered } = gateOver(() => head);
    gate.offer(msg(1));
    gate.offer(msg(2));
    head = 7; // committed while the link was down
    gate.recheckAll();
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  test("a join's read sets where a new session's order starts; a lone new subscriber is not sent what it read", () => {
    const { gate, delivered, fills } = gateOver(() => 10);
    gate.watch("s", 4);
    gate.offer(msg(4));
    gate.offer(msg(5));
    expect(delivered).toEqual([5]);
    gate.watch("s", 9, true);
    gate.offer(msg(10));
    expect(delivered).toEqual([5, 10]);
    expect(fills).toEqual([]);
  });

  test("a join that read further than the others were sent fills the difference for them", () => {
    const { gate, delivered } = gateOver(() => 6);
    gate.watch("s", 2);
    gate.watch("s", 6);
    expect(delivered).toEqual([3, 4, 5, 6]);
  });

  test("sessions are independent, and a forgotten session starts again from its next message", () => {
    const delivered: string[] = [];
    const gate = new SeqGate({ deliver: (m) => delivered.push(`${m.session}${m.seq}`), fill: () => [] });
    gate.offer(msg(1, "a"));
    gate.offer(msg(1, "b"));
    gate.offer(msg(2, "a"));
    gate.forget("a");
    expect(gate.size).toBe(1);
    gate.offer(msg(7, "a"));
    expect(delivered).toEqual(["a1", "b1", "a2", "a7"]);
  });
});
