// The expiry heap behind token expiry: one timer for every connection, removal in O(log n).
import { describe, expect, test } from "bun:test";
import { DeadlineHeap } from "../../src/realtime/deadline-heap.ts";

interface Item {
  id: number;
  at: number;
  slot: number;
}
const heapOf = () => new DeadlineHeap<Item>({ at: (i) => i.at, slot: (i) => i.slot, setSlot: (i, s) => void (i.slot = s) });

describe("DeadlineHeap", () => {
  test("pops what is due in deadline order, after any mix of adds, moves and removals", () => {
    const heap = heapOf();
    const live = new Map<number, Item>();
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 5000; n++) {
      const r = rand();
      if (r < 0.5 || live.size === 0) {
        const item = { id: n, at: Math.floor(rand() * 1000), slot: -1 };
        live.set(n, item);
        heap.set(item);
      } else {
        const keys = [...live.keys()];
        const item = live.get(keys[Math.floor(rand() * keys.length)]!)!;
        if (r < 0.75) {
          item.at = Math.floor(rand() * 1000); // a refreshed token: the same item, a new deadline
          heap.set(item);
        } else {
          heap.delete(item);
          expect(item.slot).toBe(-1);
          live.delete(item.id);
        }
      }
    }
    expect(heap.size).toBe(live.size);
    expect(heap.popDue(-1)).toBeUndefined();
    const popped: number[] = [];
    for (let item = heap.popDue(500); item; item = heap.popDue(500)) popped.push(item.at);
    expect(popped).toEqual([...live.values()].map((i) => i.at).filter((at) => at <= 500).sort((a, b) => a - b));
    expect(heap.peek()!.at).toBeGreaterThan(500);
  });

  test("removing an item that is not in it changes nothing", () => {
    const heap = heapOf();
    const a = { id: 1, at: 5, slot: -1 };
    heap.delete(a);
    heap.set(a);
    heap.delete(a);
    heap.delete(a);
    expect(heap.size).toBe(0);
    expect(heap.peek()).toBeUndefined();
  });
});
