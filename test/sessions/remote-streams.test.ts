import { describe, expect, test } from "bun:test";
import { RemoteStreams } from "../../src/sessions/remote-streams.ts";

const info = (id: string) => ({ id, replyTo: 1, userId: "assistant", model: "m", startedAt: "2026-12-02T00:00:00.000Z" });

describe("replies streaming on other nodes", () => {
  test("pieces that continue the text build the snapshot; the end removes it", () => {
    const r = new RemoteStreams(60_000);
    r.started("s", info("a"), "pat", 0);
    r.delta("s", "a", 0, "Hel", "text", 1);
    r.delta("s", "a", 3, "lo", "text", 2);
    r.delta("s", "a", 0, "hmm", "reasoning", 3);
    expect(r.snapshots("s", 4)).toEqual([{ ...info("a"), text: "Hello", reasoning: "hmm" }]);
    expect(r.snapshots("other", 4)).toEqual([]);
    expect(r.authorOf("s", "a")).toBe("pat");
    expect(r.authorOf("s", "nope")).toBeUndefined();
    r.started("s", info("q"), null, 4);
    expect(r.authorOf("s", "q")).toBeNull();
    r.learnedAuthor("s", "q", "ann");
    expect(r.authorOf("s", "q")).toBe("ann");
    r.ended("s", "q");
    r.ended("s", "a");
    expect(r.snapshots("s", 5)).toEqual([]);
  });

  test("a piece that leaves a hole, or one of a stream heard from its middle, shows nothing rather than a wrong text", () => {
    const r = new RemoteStreams(60_000);
    r.started("s", info("a"), "pat", 0);
    r.delta("s", "a", 0, "Hel", "text", 1);
    r.delta("s", "a", 5, "!", "text", 2);
    r.delta("s", "b", 7, "late", "text", 2);
    expect(r.snapshots("s", 3)).toEqual([]);
  });

  test("a stream not heard of for longer than the quiet limit is dropped (its node went away); forget drops a session's", () => {
    const r = new RemoteStreams(1000);
    r.started("s", info("a"), "pat", 0);
    r.started("s", info("b"), null, 900);
    expect(r.snapshots("s", 1500).map((x) => x.id)).toEqual(["b"]);
    r.started("t", info("c"), null, 0);
    r.forget("t");
    expect(r.snapshots("t", 1)).toEqual([]);
  });
});
