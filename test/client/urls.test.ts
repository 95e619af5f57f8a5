// The SDK's URL list (pure): validation and normalisation, and the order and delays of reconnect attempts.
import { describe, expect, test } from "bun:test";
import { connect } from "../../src/client/index.ts";
import { reconnectStep, websocketUrls } from "../../src/client/urls.ts";

const backoff = { baseMs: 500, capMs: 30_000 };
const highest = () => 0.999999;

/** The URL index and delay of attempts 1..n after losing URL `from`, each attempt failing in turn. */
function plan(n: number, from: number, urlCount: number): Array<[number, number]> {
  const steps: Array<[number, number]> = [];
  let previous = from;
  for (let attempt = 1; attempt <= n; attempt++) {
    const { index, delayMs } = reconnectStep(attempt, previous, urlCount, backoff, highest);
    steps.push([index, delayMs]);
    previous = index;
  }
  return steps;
}

describe("websocketUrls", () => {
  test("one URL or a list, each normalised to a WebSocket endpoint", () => {
    expect(websocketUrls("https://a.example")).toEqual(["wss://a.example/ws"]);
    expect(websocketUrls(["http://a:3000", "wss://b.example/ws", "ws://c/custom?user=x"])).toEqual(["ws://a:3000/ws", "wss://b.example/ws", "ws://c/custom?user=x"]);
  });

  test("an empty list, a bad entry or another scheme is refused with a sentence naming it", () => {
    expect(() => websocketUrls([])).toThrow("url must be a URL or a non-empty list of URLs");
    expect(() => websocketUrls(["http://a", "not a url"])).toThrow('url[1] ("not a url") is not a valid URL');
    expect(() => websocketUrls(["http://a", ""])).toThrow("url[1] must be a non-empty string");
    expect(() => websocketUrls(["http://a", 42 as unknown as string])).toThrow("url[1] must be a non-empty string");
    expect(() => websocketUrls("ftp://a")).toThrow("url must be ws://, wss://, http:// or https://, not ftp:");
    expect(() => websocketUrls(undefined as unknown as string)).toThrow(TypeError);
  });

  test("connect() throws the same TypeError at once, before opening anything", () => {
    let opened = 0;
    const WebSocket = class {
      constructor() {
        opened++;
      }
    } as unknown as typeof globalThis.WebSocket;
    expect(() => connect({ url: [], WebSocket })).toThrow(TypeError);
    expect(() => connect({ url: ["http://a", "::"], WebSocket })).toThrow('url[1] ("::") is not a valid URL');
    expect(opened).toBe(0);
  });
});

describe("reconnectStep", () => {
  test("one URL: the same URL every time, with the plain doubling backoff", () => {
    expect(plan(7, 0, 1)).toEqual([[0, 499], [0, 999], [0, 1999], [0, 3999], [0, 7999], [0, 15_999], [0, 29_999]]);
  });

  test("three URLs: starts with the one after the lost one, round robin; only each round's first attempt waits", () => {
    // Lost B (index 1): C, A, B (round 1), C, A, B (round 2), C (round 3).
    expect(plan(7, 1, 3)).toEqual([[2, 499], [0, 0], [1, 0], [2, 999], [0, 0], [1, 0], [2, 1999]]);
  });

  test("the first attempt of a client whose first URL failed goes to the second; the rounds reach the cap", () => {
    expect(plan(4, 0, 2)).toEqual([[1, 499], [0, 0], [1, 999], [0, 0]]);
    expect(reconnectStep(101, 0, 2, backoff, highest)).toEqual({ index: 1, delayMs: 29_999 });
    expect(reconnectStep(102, 1, 2, backoff, highest)).toEqual({ index: 0, delayMs: 0 });
  });

  test("the delay of a round's first attempt is full jitter below its ceiling", () => {
    expect(reconnectStep(4, 0, 3, backoff, () => 0)).toEqual({ index: 1, delayMs: 0 });
    const spread = new Set(Array.from({ length: 50 }, () => reconnectStep(1, 0, 3, backoff).delayMs));
    expect(Math.max(...spread)).toBeLessThan(500);
    expect(spread.size).toBeGreaterThan(40);
  });
});
