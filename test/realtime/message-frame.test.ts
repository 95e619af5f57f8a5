// The hand-checked path for plain `message` frames must accept exactly what the schema accepts: everything it
// refuses falls through to the schema, which writes the error.
import { describe, expect, test } from "bun:test";
import { parseClientFrame } from "../../src/protocol/frames.ts";

const base = { type: "message", session: "s-1", content: "hello" };
const parse = (frame: unknown) => parseClientFrame(JSON.stringify(frame));

describe("plain message frames", () => {
  test("valid ones come back as sent", () => {
    for (const frame of [
      base,
      { ...base, id: 7 },
      { ...base, id: "abc", kind: "action", clientMsgId: "c".repeat(128) },
      { ...base, content: "" },
      { ...base, session: "A".repeat(128), id: "x".repeat(128) },
      { ...base, metadata: { a: 1 } },
    ]) {
      expect(parse(frame) as unknown).toEqual({ ok: true, frame });
    }
  });

  test("invalid ones are refused with the schema's sentence", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...base, session: "-bad" }, /session/],
      [{ ...base, session: "a".repeat(129) }, /session/],
      [{ ...base, session: 5 }, /session/],
      [{ ...base, content: 5 }, /content/],
      [{ type: "message", session: "s" }, /content/],
      [{ ...base, id: "x".repeat(129) }, /id/],
      [{ ...base, id: null }, /id/],
      [{ ...base, kind: "shout" }, /kind/],
      [{ ...base, clientMsgId: "" }, /clientMsgId/],
      [{ ...base, clientMsgId: "c".repeat(129) }, /clientMsgId/],
      [{ ...base, clientMsgId: 3 }, /clientMsgId/],
      [{ ...base, extra: true }, /Unknown field "extra"/],
      [{ ...base, metadata: [] }, /metadata/],
      [JSON.parse(`{"type":"message","session":"s","content":"x","__proto__":{"admin":true}}`), /./],
    ];
    for (const [frame, sentence] of cases) {
      const r = parse(frame);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(sentence);
    }
  });
});

describe("plain join frames", () => {
  test("valid ones come back as sent", () => {
    for (const frame of [
      { type: "join", session: "s" },
      { type: "join", room: "lobby", id: 3, since: 0, limit: 1, epoch: "e".repeat(64) },
      { type: "join", session: "s", since: Number.MAX_SAFE_INTEGER, limit: 1_000_000, id: "r" },
    ]) {
      expect(parseClientFrame(JSON.stringify(frame)) as unknown).toEqual({ ok: true, frame });
    }
  });

  test("invalid ones are refused with the schema's sentence", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ type: "join" }, /session/],
      [{ type: "join", session: "s", room: "r" }, /session/],
      [{ type: "join", session: "s", since: -1 }, /since/],
      [{ type: "join", session: "s", since: 1.5 }, /since/],
      [{ type: "join", session: "s", limit: 0 }, /limit/],
      [{ type: "join", session: "s", limit: 1_000_001 }, /limit/],
      [{ type: "join", session: "s", epoch: "" }, /epoch/],
      [{ type: "join", session: "s", epoch: "e".repeat(65) }, /epoch/],
      [{ type: "join", room: "?" }, /room/],
      [{ type: "join", session: "s", extra: 1 }, /Unknown field "extra"/],
    ];
    for (const [frame, sentence] of cases) {
      const r = parseClientFrame(JSON.stringify(frame));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(sentence);
    }
  });
});

describe("numbers out of range", () => {
  test("a number past the safe-integer range is told as a number, naming the field, never as characters", () => {
    for (const frame of [
      { type: "configure", session: "s-1", retentionDays: 1e20 },
      { type: "configure", session: "s-1", assistant: { contextMessages: 1e20 } },
    ]) {
      const r = parse(frame) as { ok: false; error: Error };
      expect(r.ok).toBe(false);
      expect(r.error.message).toMatch(/^Field "(retentionDays|assistant\.contextMessages)" is invalid: expected a number <= \d+\.?$/);
      expect(r.error.message).not.toContain("character");
    }
  });
});
