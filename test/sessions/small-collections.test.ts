// The compact collections behind per-connection memory: SmallSet (one member inline) and Presence's inline form.
import { describe, expect, test } from "bun:test";
import { Presence } from "../../src/sessions/presence.ts";
import { SmallSet } from "../../src/sessions/small-set.ts";

describe("SmallSet", () => {
  test("behaves as a Set through growing past one member and shrinking back", () => {
    const s = new SmallSet<string>();
    expect([s.size, s.has("a"), [...s]]).toEqual([0, false, []]);
    s.add("a").add("a");
    expect([s.size, s.has("a"), s.has("b"), [...s]]).toEqual([1, true, false, ["a"]]);
    s.add("b").add("c");
    expect([s.size, [...s]]).toEqual([3, ["a", "b", "c"]]);
    expect(s.delete("b")).toBe(true);
    expect(s.delete("b")).toBe(false);
    expect(s.delete("a")).toBe(true);
    expect([s.size, s.has("c"), [...s]]).toEqual([1, true, ["c"]]);
    expect(s.delete("x")).toBe(false);
    expect(s.delete("c")).toBe(true);
    expect([s.size, [...s]]).toEqual([0, []]);
  });

  test("a copy taken before deleting while iterating sees every member once", () => {
    const s = new SmallSet<number>();
    for (let i = 0; i < 5; i++) s.add(i);
    const seen: number[] = [];
    for (const v of [...s]) {
      seen.push(v);
      s.delete(v);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(s.size).toBe(0);
  });
});

describe("Presence", () => {
  test("counts connections per user across the inline and map forms", () => {
    const p = new Presence();
    expect(p.attach("s", "ann")).toBe(true);
    expect(p.users("s")).toEqual(["ann"]);
    expect(p.attach("s", "ann")).toBe(false); // a second tab
    expect(p.attach("s", "bob")).toBe(true);
    expect(p.size).toBe(2);
    expect(p.detach("s", "ann")).toBe(false);
    expect(p.detach("s", "bob")).toBe(true);
    expect(p.users("s")).toEqual(["ann"]);
    expect(p.sessionsOf("ann")).toEqual(["s"]);
    expect(p.detach("s", "bob")).toBe(false);
    expect(p.detach("s", "ann")).toBe(true);
    expect([p.size, p.users("s"), p.sessionsOf("ann")]).toEqual([0, [], []]);
  });

  test("remove drops a user whatever their count; a user never attached changes nothing", () => {
    const p = new Presence();
    p.attach("s", "ann");
    expect(p.remove("s", "zed")).toBe(false);
    expect(p.detach("s", "zed")).toBe(false);
    p.attach("s", "ann");
    p.attach("s", "bob");
    expect(p.remove("s", "ann")).toBe(true);
    expect(p.users("s")).toEqual(["bob"]);
    expect(p.remove("s", "bob")).toBe(true);
    expect(p.size).toBe(0);
  });
});
