// Hostile input: malformed frames of every kind, one at a time, against a real server. Each gets an error frame or
// a documented close; the server stays up, nothing is written and nothing is logged as an internal error.
import { expect, test } from "bun:test";
import { malformedFrames, malformedTrial } from "./malformed.ts";

test("the generator covers every kind of malformed frame, deterministically", () => {
  const frames = malformedFrames(2000);
  const kinds = new Set(frames.map((f) => f.kind.replace(/^wrong .*/, "wrong field")));
  for (const kind of ["not json", "json, not an object", "no type", "type not a string", "prototype name as type", "unknown type", "wrong field", "prototype name as field", "prototype name as enum value", "__proto__ key in metadata", "deeply nested metadata", "deeply nested frame", "1 MB string", "binary"]) {
    expect(kinds).toContain(kind);
  }
  expect(malformedFrames(50).map((f) => f.kind)).toEqual(malformedFrames(50).map((f) => f.kind));
});

test("2,000 malformed frames: an error frame or a documented close for each, server up, nothing written, no internal error", async () => {
  const r = await malformedTrial({ frames: 2000 });
  expect(r.unexpected).toEqual([]);
  expect(r.errorReplies + Object.values(r.documentedCloses).reduce((a, b) => a + b, 0)).toBe(2000);
  expect(r.documentedCloses[1009]).toBeGreaterThan(0);
  expect(r.serverUp).toBe(true);
  expect(r.internalErrorsLogged).toBe(0);
  expect(r.sessionsWritten).toBe(0);
  expect(r.messagesWritten).toBe(0);
}, 60_000);
