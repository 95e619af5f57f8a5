// Malformed frames for the fault trials: a seeded generator of frames that are invalid by construction (random
// JSON, wrong types, prototype names, deep nesting, 1 MB strings, binary), and the trial that sends them one by one.
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { startServer, token } from "../helpers.ts";
import { TRIAL_ENV } from "./trials.ts";

/** Property names every plain object inherits: a lookup by a client-chosen string must never find them. */
export const PROTOTYPE_NAMES = [
  "toString",
  "constructor",
  "__proto__",
  "hasOwnProperty",
  "valueOf",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
] as const;

/** A small deterministic PRNG (mulberry32), so a failing frame can be found again by its seed and index. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Malformed = { kind: string; data: string | Uint8Array<ArrayBuffer> };

const TYPES = ["ping", "join", "leave", "message", "configure", "end", "auth", "cancel"] as const;
const deep = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** `count` frames, each invalid for a reason named by its `kind`. */
export function malformedFrames(count: number, seed = 17): Malformed[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const junk = (): unknown => pick<() => unknown>([() => rand() * 1e6, () => -1, () => 1e308, () => true, () => null, () => [], () => [1, "a"], () => ({}), () => "", () => "x".repeat(Math.floor(rand() * 300)), () => pick(PROTOTYPE_NAMES)])();
  const makers: Array<() => Malformed> = [
    // Not JSON at all, or JSON that is not an object.
    () => ({ kind: "not json", data: pick(["{", "{\"type\":", "nope", "{'type':'ping'}", "{\"type\":\"ping\",}", "\u0000\u0001", "[1,2", "{\"type\":\"ping\"}}"]) }),
    () => ({ kind: "json, not an object", data: JSON.stringify(pick<unknown>([42, "ping", null, true, [], [{ type: "ping" }], 1.5e300])) }),
    () => ({ kind: "random bytes as text", data: Array.from({ length: 1 + Math.floor(rand() * 200) }, () => String.fromCharCode(32 + Math.floor(rand() * 90000) % 55000)).join("") }),
    // No type, a type that is not a string, an unknown type (prototype names among them).
    () => ({ kind: "no type", data: JSON.stringify({ id: Math.floor(rand() * 1000), session: "s" }) }),
    () => ({ kind: "type not a string", data: JSON.stringify({ type: junk() === null ? 7 : pick<unknown>([7, null, true, [], {}, ["ping"]]) }) }),
    () => ({ kind: "prototype name as type", data: JSON.stringify({ type: pick(PROTOTYPE_NAMES), id: 1, session: "s" }) }),
    () => ({ kind: "unknown type", data: JSON.stringify({ type: `t${Math.floor(rand() * 1e9).toString(36)}` }) }),
    // A known type with a field of the wrong type, a prototype name as a field, or an id outside the pattern.
    () => {
      const type = pick(TYPES);
      const field = pick(["session", "since", "limit", "content", "kind", "clientMsgId", "metadata", "status", "token", "access", "members", "stream", "id", "room"]);
      const value = pick<unknown>([42, true, null, [], { a: 1 }, -5, "", "../x", "a b", "x".repeat(200)]);
      // `leave` of any well-formed id is valid; these values never are for these fields.
      return { kind: `wrong ${field} in ${type}`, data: JSON.stringify({ type, session: "s1", [field]: value, ...(field === "session" ? {} : { session: pick([42, "", "a b", "../etc", null]) }) }) };
    },
    () => ({ kind: "prototype name as field", data: `{"type":"${pick(TYPES)}","session":"s1","${pick(PROTOTYPE_NAMES)}":1}` }),
    () => ({ kind: "prototype name as enum value", data: JSON.stringify(pick<Record<string, unknown>>([{ type: "message", session: "s1", content: "x", kind: pick(PROTOTYPE_NAMES) }, { type: "end", session: "s1", status: pick(PROTOTYPE_NAMES) }, { type: "configure", session: "s1", access: pick(PROTOTYPE_NAMES) }, { type: "configure", session: "s1", analysis: { share: pick(PROTOTYPE_NAMES) } }])) }),
    () => ({ kind: "__proto__ key in metadata", data: `{"type":"message","session":"s1","content":"x","metadata":{"__proto__":{"admin":true}}}` }),
    () => ({ kind: "__proto__ key in config", data: `{"type":"configure","session":"s1","config":{"a":{"__proto__":{"x":1}}}}` }),
    // Deep nesting: in metadata and config (under the frame limit), and as the whole frame.
    () => ({ kind: "deeply nested metadata", data: `{"type":"message","session":"s1","content":"x","metadata":{"a":${deep(45_000 + Math.floor(rand() * 3000))}}}` }),
    () => ({ kind: "deeply nested config", data: `{"type":"configure","session":"s1","config":{"a":${deep(47_000)}}}` }),
    () => ({ kind: "deeply nested frame", data: deep(40_000) }),
    // Far over the frame limit: closed with 1009 before it is read.
    () => ({ kind: "1 MB string", data: JSON.stringify({ type: "message", session: "s1", content: "x".repeat(1 << 20) }) }),
    () => ({ kind: "binary", data: new Uint8Array(Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))) }),
  ];
  // The expensive ones (deep, 1 MB) are rarer, so a run stays quick.
  const weights = makers.map((_, i) => (i >= 12 && i <= 15 ? 1 : 4));
  const total = weights.reduce((a, b) => a + b, 0);
  return Array.from({ length: count }, () => {
    let r = rand() * total;
    let i = 0;
    while ((r -= weights[i]!) > 0) i++;
    return makers[i]!();
  });
}

/** Close codes the protocol documents for bad input: 1007 (invalid UTF-8), 1008 (too many invalid frames), 1009 (too big). */
export const DOCUMENTED_CLOSES = [1007, 1008, 1009];

export interface MalformedResult {
  frames: number;
  errorReplies: number;
  documentedCloses: Record<number, number>;
  /** Frames answered with anything else, or not at all: each with its kind. */
  unexpected: Array<{ kind: string; got: string }>;
  internalErrorsLogged: number;
  serverUp: boolean;
  sessionsWritten: number;
  messagesWritten: number;
}

/** Sends every frame, one at a time, each waiting for its error reply or a documented close (then reconnecting). */
export async function malformedTrial({ frames = 2000, seed = 17 } = {}): Promise<MalformedResult> {
  const server = await startServer({ env: TRIAL_ENV });
  const t = await token("fuzzer");
  let ws: WebSocket | null = null;
  let next: ((outcome: string) => void) | null = null;
  const open = async () => {
    const socket = new WebSocket(server.ws, { headers: { Authorization: `Bearer ${t}` } } as unknown as string[]);
    socket.addEventListener("message", (e) => {
      const f = JSON.parse(String(e.data));
      next?.(f.type === "error" ? `error:${f.code}` : `frame:${f.type}`);
    });
    socket.addEventListener("close", (e) => next?.(`close:${e.code}`));
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error("could not connect")), { once: true });
    });
    ws = socket;
  };
  const result: MalformedResult = { frames, errorReplies: 0, documentedCloses: {}, unexpected: [], internalErrorsLogged: 0, serverUp: false, sessionsWritten: 0, messagesWritten: 0 };
  try {
    for (const frame of malformedFrames(frames, seed)) {
      if (!ws || (ws as WebSocket).readyState !== WebSocket.OPEN) await open();
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve("no reply"), 5000);
        next = (o) => {
          clearTimeout(timer);
          next = null;
          resolve(o);
        };
        ws!.send(frame.data);
      });
      if (outcome === "error:bad_request" || outcome === "error:payload_too_large" || outcome === "error:not_found") result.errorReplies++;
      else if (outcome.startsWith("close:") && DOCUMENTED_CLOSES.includes(Number(outcome.slice(6)))) {
        const code = Number(outcome.slice(6));
        result.documentedCloses[code] = (result.documentedCloses[code] ?? 0) + 1;
        ws = null;
      } else result.unexpected.push({ kind: frame.kind, got: outcome });
    }
    (ws as WebSocket | null)?.close();
    result.serverUp = (await fetch(`${server.http}/health/live`)).status === 200;
    await Bun.sleep(100);
    result.internalErrorsLogged = server.logs.filter((l) => l.includes('"internal.error"')).length;
  } finally {
    await server.stop();
  }
  const db = new Database(join(server.dataDir, "sessiond.db"));
  result.sessionsWritten = db.query<{ n: number }, []>("SELECT count(*) AS n FROM sessions").get()!.n;
  result.messagesWritten = db.query<{ n: number }, []>("SELECT count(*) AS n FROM messages").get()!.n;
  db.close();
  return result;
}
