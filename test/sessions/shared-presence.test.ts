// SharedPresence, the mirror each node keeps of who is present anywhere: two of them over one manager that answers
// a turn later (the in-process Presence behind a delay, standing for Redis) are two nodes.
import { describe, expect, test } from "bun:test";
import { Presence, SharedPresence, type PresenceManager } from "../../src/sessions/presence.ts";

/** Counts users across nodes as RedisPresence does (per user: one count per node that has them), answering later. */
class LaterManager implements PresenceManager {
  private readonly counts = new Presence();
  private later<T>(value: T): Promise<T> {
    return new Promise((resolve) => setTimeout(() => resolve(value), 3));
  }
  attach(s: string, u: string) {
    return this.later(this.counts.attach(s, u));
  }
  detach(s: string, u: string) {
    return this.later(this.counts.detach(s, u));
  }
  remove(s: string, u: string) {
    return this.later(this.counts.remove(s, u));
  }
  users(s: string) {
    return this.later(this.counts.users(s));
  }
  sessionsOf(u: string) {
    return this.later(this.counts.sessionsOf(u));
  }
  clear(s: string) {
    this.counts.clear(s);
    return this.later(undefined);
  }
}

function node(manager: PresenceManager) {
  const told: string[] = [];
  const presence = new SharedPresence(manager, {
    joined: (s, u) => told.push(`join ${s} ${u}`),
    left: (s, u) => told.push(`leave ${s} ${u}`),
    error: (e) => {
      throw e;
    },
  });
  return { presence, told };
}

const turn = () => Bun.sleep(10);

describe("SharedPresence", () => {
  test("a join is told by the node of the first connection anywhere, a leave by the node of the last", async () => {
    const manager = new LaterManager();
    const a = node(manager);
    const b = node(manager);
    a.presence.attach("s", "ann");
    a.presence.attach("s", "ann"); // a second connection on the same node: the manager hears of the first only
    await turn();
    b.presence.attach("s", "ann");
    await turn();
    a.presence.detach("s", "ann");
    a.presence.detach("s", "ann");
    await turn();
    b.presence.detach("s", "ann");
    await turn();
    expect(a.told).toEqual(["join s ann"]);
    expect(b.told).toEqual(["leave s ann"]);
  });

  test("a leave heard while the first read runs is not undone by the read's older answer; a join heard then is kept", async () => {
    const manager = new LaterManager();
    const other = node(manager);
    other.presence.attach("s", "ann");
    await turn();
    const here = node(manager);
    const read = here.presence.follow("s");
    expect(here.presence.known("s")).toBe(false);
    here.presence.heard("s", "ann", "leave");
    here.presence.heard("s", "bob", "join");
    await read;
    expect(here.presence.known("s")).toBe(true);
    expect(here.presence.users("s")).toEqual(["bob"]);
  });

  test("news that a user left is stale while one of this node's connections holds them", async () => {
    const here = node(new LaterManager());
    here.presence.attach("s", "ann");
    await turn();
    here.presence.heard("s", "ann", "leave");
    expect(here.presence.users("s")).toEqual(["ann"]);
  });

  test("a session nobody here follows any more is not mirrored: its frames are not kept", async () => {
    const manager = new LaterManager();
    const here = node(manager);
    here.presence.attach("s", "ann");
    await turn();
    here.presence.heard("s", "bob", "join");
    expect(here.presence.users("s").sort()).toEqual(["ann", "bob"]);
    here.presence.detach("s", "ann");
    await turn();
    here.presence.heard("s", "cat", "join");
    expect(here.presence.users("s")).toEqual([]);
    expect(here.presence.known("s")).toBe(false);
    expect(here.presence.size).toBe(0);
  });

  test("a user removed (erased) leaves everywhere, told once; a node that died has its users leave through the node told", async () => {
    const manager = new LaterManager();
    const a = node(manager);
    const b = node(manager);
    a.presence.attach("s", "eve");
    b.presence.attach("s", "eve");
    await turn();
    a.presence.remove("s", "eve");
    await turn();
    expect(await manager.users("s")).toEqual([]);
    expect([...a.told, ...b.told]).toEqual(["join s eve", "leave s eve"]);

    a.presence.attach("s", "ann");
    await turn();
    a.presence.heard("s", "zed", "join");
    a.presence.leftWithNode("s", "zed");
    expect(a.presence.users("s")).toEqual(["ann"]);
    expect(a.told.at(-1)).toBe("leave s zed");
  });
});
