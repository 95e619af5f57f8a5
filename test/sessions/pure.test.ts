import { describe, expect, test } from "bun:test";
import { canAccess, canManage, principal } from "../../src/sessions/access.ts";
import { MessageWindow } from "../../src/sessions/message-window.ts";
import { Presence } from "../../src/sessions/presence.ts";
import { SessionCache } from "../../src/sessions/session-cache.ts";

const msg = (seq: number) => ({ seq });

describe("MessageWindow", () => {
  test("keeps the last `capacity` messages and drops the oldest when full", () => {
    const w = new MessageWindow<{ seq: number }>(3);
    for (let i = 1; i <= 5; i++) w.push(msg(i));
    expect(w.size).toBe(3);
    expect(w.firstSeq).toBe(3);
    expect(w.lastSeq).toBe(5);
    expect(w.last(10).map((m) => m.seq)).toEqual([3, 4, 5]);
    expect(w.last(2).map((m) => m.seq)).toEqual([4, 5]);
  });

  test("after(since) returns the newer messages, or null when the window no longer holds all of them", () => {
    const w = MessageWindow.from(1000, Array.from({ length: 1005 }, (_, i) => msg(i + 1)));
    expect(w.firstSeq).toBe(6);
    expect(w.after(5)!.map((m) => m.seq)[0]).toBe(6);
    expect(w.after(4)).toBeNull();
    expect(w.after(1003)!.map((m) => m.seq)).toEqual([1004, 1005]);
    expect(w.after(1005)).toEqual([]);
    expect(w.after(10, 3)!.map((m) => m.seq)).toEqual([11, 12, 13]);
    expect(new MessageWindow(5).after(0)).toBeNull();
  });

  test("wrapping around the ring many times keeps the newest messages contiguous and in order", () => {
    const w = new MessageWindow<{ seq: number }>(7);
    for (let i = 1; i <= 1003; i++) {
      w.push(msg(i));
      const held = w.last(7).map((m) => m.seq);
      expect(held).toEqual(Array.from({ length: Math.min(i, 7) }, (_, k) => i - Math.min(i, 7) + 1 + k));
    }
    expect(w.after(999)!.map((m) => m.seq)).toEqual([1000, 1001, 1002, 1003]);
    expect(w.after(996)!.map((m) => m.seq)[0]).toBe(997);
    expect(w.after(995)).toBeNull();
  });
});

describe("SessionCache", () => {
  test("evicts the least recently used entry and reports it", () => {
    const evicted: string[] = [];
    const c = new SessionCache<string, number>(2, (k) => evicted.push(k));
    c.set("a", 1);
    c.set("b", 2);
    c.get("a");
    c.set("c", 3);
    expect(evicted).toEqual(["b"]);
    expect(c.peek("a")).toBe(1);
    expect(c.size).toBe(2);
    expect(c.get("zzz")).toBeUndefined();
    expect({ hits: c.hits, misses: c.misses, evictions: c.evictions }).toEqual({ hits: 1, misses: 1, evictions: 1 });
  });
});

describe("Presence", () => {
  test("a user with several connections joins once and leaves when the last one goes", () => {
    const p = new Presence();
    expect(p.attach("s", "u")).toBe(true);
    expect(p.attach("s", "u")).toBe(false);
    expect(p.users("s")).toEqual(["u"]);
    expect(p.detach("s", "u")).toBe(false);
    expect(p.detach("s", "u")).toBe(true);
    expect(p.detach("s", "u")).toBe(false);
    expect(p.size).toBe(0);
  });
});

describe("access", () => {
  const session = { id: "s1", room: "team", ownerId: "owner", access: "private" as const, members: ["member"] };
  test("a private session is open to its owner, members, grants and admins only", () => {
    expect(canAccess(principal("owner"), session)).toBe(true);
    expect(canAccess(principal("member"), session)).toBe(true);
    expect(canAccess(principal("stranger"), session)).toBe(false);
    expect(canAccess(principal("x", { sessions: ["s1"] }), session)).toBe(true);
    expect(canAccess(principal("x", { sessions: ["room:team"] }), session)).toBe(true);
    expect(canAccess(principal("x", { sessions: ["s2", "room:other"] }), session)).toBe(false);
    expect(canAccess(principal("x", { admin: true }), session)).toBe(true);
    expect(canAccess(principal("stranger"), { ...session, access: "open" })).toBe(true);
  });
  test("only the owner or an admin may manage; a grant does not", () => {
    expect(canManage(principal("owner"), session)).toBe(true);
    expect(canManage(principal("member"), session)).toBe(false);
    expect(canManage(principal("x", { sessions: ["s1"] }), session)).toBe(false);
    expect(canManage(principal("x", { admin: true }), session)).toBe(true);
  });
});
