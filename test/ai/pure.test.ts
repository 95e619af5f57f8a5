// The model client's pure parts: error mapping, Retry-After, backoff, and cutting text to size.
import { describe, expect, test } from "bun:test";
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, InternalServerError } from "openai";
import { ModelError, retryAfterMs, toModelError } from "../../src/ai/errors.ts";
import { retryDelayMs } from "../../src/ai/model-client.ts";
import { TRUNCATION_MARKER, truncateMiddle } from "../../src/ai/text.ts";

describe("toModelError", () => {
  const marker = "PROMPT-ECHO-99";
  test.each([
    ["APIUserAbortError", new APIUserAbortError(), "aborted", false],
    ["APIConnectionTimeoutError", new APIConnectionTimeoutError(), "timeout", true],
    ["APIConnectionError", new APIConnectionError({ message: marker }), "unreachable", true],
    ["a status error", new InternalServerError(502, { message: marker }, undefined, new Headers()), "http", true],
    ["an error event mid-stream", new APIError(undefined, { message: marker }, undefined, undefined), "broken_stream", true],
    ["a malformed chunk", new SyntaxError(marker), "invalid_reply", false],
  ] as const)("%s maps to %s (retryable %p), without the upstream text", (_name, error, kind, retryable) => {
    const mapped = toModelError(error, "stream");
    expect(mapped.kind).toBe(kind);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.message).not.toContain(marker);
  });

  test("a transport error is unreachable before the response, broken_stream after it", () => {
    const reset = Object.assign(new TypeError("socket closed"), { code: "ECONNRESET" });
    expect(toModelError(reset, "request").kind).toBe("unreachable");
    expect(toModelError(reset, "stream").kind).toBe("broken_stream");
  });

  test("a ModelError passes through, and the message names the status", () => {
    const e = new ModelError("http", { status: 429 });
    expect(toModelError(e, "request")).toBe(e);
    expect(e.message).toContain("429");
    expect(e.retryable).toBe(true);
    expect(new ModelError("http", { status: 404 }).retryable).toBe(false);
  });
});

describe("retryAfterMs", () => {
  test("reads retry-after-ms, retry-after seconds and an HTTP date", () => {
    expect(retryAfterMs(new Headers({ "retry-after-ms": "150" }))).toBe(150);
    expect(retryAfterMs(new Headers({ "retry-after": "3" }))).toBe(3000);
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(retryAfterMs(new Headers({ "retry-after": "Tue, 01 Jan 2030 00:00:05 GMT" }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });
});

describe("retryDelayMs", () => {
  const opts = { baseMs: 100, maxMs: 1000, random: () => 0.5 };
  test("full jitter over an exponential ceiling, capped", () => {
    const e = new ModelError("unreachable");
    expect(retryDelayMs(0, e, opts)).toBe(50);
    expect(retryDelayMs(2, e, opts)).toBe(200);
    expect(retryDelayMs(10, e, opts)).toBe(500);
    expect(retryDelayMs(3, e, { ...opts, random: () => 0 })).toBe(0);
  });
  test("the server's Retry-After wins, capped at the maximum", () => {
    expect(retryDelayMs(0, new ModelError("http", { status: 429, retryAfterMs: 700 }), opts)).toBe(700);
    expect(retryDelayMs(0, new ModelError("http", { status: 429, retryAfterMs: 60_000 }), opts)).toBe(1000);
  });
});

describe("truncateMiddle", () => {
  test("text that fits is unchanged", () => {
    expect(truncateMiddle("short", 10)).toBe("short");
  });
  test("longer text keeps its start and end around a marker, within the limit", () => {
    const text = `HEAD${"-".repeat(1000)}TAIL`;
    const out = truncateMiddle(text, 100);
    expect(out.length).toBeLessThanOrEqual(100);
    expect(out.startsWith("HEAD")).toBe(true);
    expect(out.endsWith("TAIL")).toBe(true);
    expect(out).toContain(TRUNCATION_MARKER);
  });
  test("never splits a surrogate pair", () => {
    const out = truncateMiddle("😀".repeat(100), 51);
    expect(out.length).toBeLessThanOrEqual(51);
    expect(out.replace(TRUNCATION_MARKER, "")).toMatch(/^(😀)+$/u);
  });
});
