// The server URLs a client may use and the order it tries them in after a loss (pure). Imported by client.ts;
// tested in test/client/urls.test.ts.
import { backoffDelay, type BackoffOptions } from "./backoff.ts";

/**
 * `connect({ url })` as WebSocket endpoints: one URL or a non-empty list, each normalised (`https://host` →
 * `wss://host/ws`; a ws(s) URL is used as given). Throws a TypeError naming the first bad entry.
 */
export function websocketUrls(input: string | readonly string[]): string[] {
  const list = typeof input === "string" ? [input] : input;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError("sessiond: url must be a URL or a non-empty list of URLs.");
  return list.map((entry, i) => websocketUrl(entry, list.length > 1 ? `url[${i}]` : "url"));
}

/** `https://host` → `wss://host/ws`; a ws(s) URL is used as given. */
function websocketUrl(input: unknown, name: string): string {
  if (typeof input !== "string" || input === "") throw new TypeError(`sessiond: ${name} must be a non-empty string.`);
  let url: URL;
  try {
    url = new URL(input, globalThis.location?.href);
  } catch {
    throw new TypeError(`sessiond: ${name} ("${input.slice(0, 80)}") is not a valid URL.`);
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`sessiond: ${name} must be ws://, wss://, http:// or https://, not ${url.protocol}`);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/ws";
  return url.toString();
}

export interface ReconnectStep {
  /** The index of the URL to try. */
  index: number;
  /** How long to wait before trying it. */
  delayMs: number;
}

/**
 * Reconnect attempt `attempt` (1, 2, … since the last stable connection) after the link to (or an attempt on)
 * URL `previous` failed: it moves to the next URL, round robin. The attempts come in rounds of one per URL; the
 * first of each round waits the jittered backoff of the round's number, the others of the round go at once, so a
 * dead node never holds the client back from a live one for more than a quick refusal. With one URL every
 * attempt starts a round: the same delays as a plain backoff.
 */
export function reconnectStep(attempt: number, previous: number, urlCount: number, backoff: BackoffOptions, random: () => number = Math.random): ReconnectStep {
  const count = Math.max(urlCount, 1);
  const startsRound = (attempt - 1) % count === 0;
  return { index: (previous + 1) % count, delayMs: startsRound ? backoffDelay(Math.ceil(attempt / count), backoff, random) : 0 };
}
