// The broker contract, run against every implementation (in-process, Redis): every node, the publishing one
// included, hears every event through its handler, each publisher's events in publish order.
import { afterEach, describe, expect, test } from "bun:test";
import type { Message } from "../../src/protocol/types.ts";
import type { Broker, BrokerEvent } from "../../src/sessions/broker.ts";

export interface BrokersUnderTest {
  /** `n` brokers that reach each other (one node each); in-process implementations give n = 1 only. */
  brokers: Broker[];
  close(): Promise<void>;
}

const message = (seq: number, session = "s"): BrokerEvent => ({
  type: "message",
  message: { id: `m${seq}`, seq, session, userId: "u", role: "user", kind: "text", content: `#${seq}`, createdAt: "2026-01-01T00:00:00.000Z" } as Message,
});

/** Collects what a broker's handler is given. */
function listener() {
  const got: Array<{ event: BrokerEvent; origin: string }> = [];
  return {
    got,
    handler: { deliver: (event: BrokerEvent, origin: string) => void got.push({ event, origin }) },
    seqs: () => got.flatMap(({ event }) => (event.type === "message" ? [event.message.seq] : [])),
    until: async (n: number, ms = 5000) => {
      const end = Date.now() + ms;
      while (got.length < n && Date.now() < end) await Bun.sleep(5);
      return got.length;
    },
  };
}

export function describeBroker(name: string, make: (nodes: number) => Promise<BrokersUnderTest>, opts: { nodes: number }): void {
  describe(`Broker contract: ${name}`, () => {
    let current: BrokersUnderTest | null = null;
    afterEach(async () => {
      await current?.close();
      current = null;
    });

    test("the publishing node hears its own events, with itself as origin, in publish order", async () => {
      current = await make(1);
      const [broker] = current.brokers;
      const l = listener();
      await broker!.start(l.handler);
      for (let s = 1; s <= 500; s++) broker!.publish(message(s));
      expect(await l.until(500)).toBe(500);
      expect(l.seqs()).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
      expect(new Set(l.got.map((g) => g.origin))).toEqual(new Set([broker!.nodeId]));
      expect(broker!.healthy()).toBe(true);
    });

    test("every kind of event arrives as it was published (what the fan-out needs to build frames)", async () => {
      current = await make(1);
      const [broker] = current.brokers;
      const l = listener();
      await broker!.start(l.handler);
      const events: BrokerEvent[] = [
        message(1),
        { type: "frame", sessionId: "s", frame: { type: "stream.delta", session: "s", stream: "r1", offset: 0, text: "Hel" } },
        { type: "frame", sessionId: "s", frame: { type: "analysis", session: "s", seq: 1 }, audience: "staff" },
        { type: "session", change: "erased", sessionId: "s" },
      ];
      for (const e of events) broker!.publish(e);
      await l.until(events.length);
      expect(l.got.map((g) => g.event)).toEqual(events);
    });

    test("after stop nothing is delivered and publishing does nothing (it never throws)", async () => {
      current = await make(1);
      const [broker] = current.brokers;
      const l = listener();
      await broker!.start(l.handler);
      broker!.publish(message(1));
      await l.until(1);
      await broker!.stop();
      expect(() => broker!.publish(message(2))).not.toThrow();
      await Bun.sleep(50);
      expect(l.seqs()).toEqual([1]);
    });

    if (opts.nodes > 1) {
      test("every node hears every node's events, each publisher's in its publish order", async () => {
        current = await make(opts.nodes);
        const listeners = current.brokers.map(() => listener());
        await Promise.all(current.brokers.map((b, i) => b.start(listeners[i]!.handler)));
        const per = 1000;
        current.brokers.forEach((b, i) => {
          for (let s = 1; s <= per; s++) b.publish(message(s, `node${i}`));
        });
        const total = per * current.brokers.length;
        for (const l of listeners) {
          expect(await l.until(total, 15_000)).toBe(total);
          for (const [i, b] of current.brokers.entries()) {
            const fromB = l.got.filter((g) => g.origin === b.nodeId).map((g) => (g.event as { message: Message }).message);
            expect(fromB.every((m) => m.session === `node${i}`)).toBe(true);
            expect(fromB.map((m) => m.seq)).toEqual(Array.from({ length: per }, (_, k) => k + 1));
          }
        }
      });
    }
  });
}
