// Client-to-server frames of protocol v1 as zod schemas, and parsing of one text frame (pure).
import { z } from "zod";
import { SessiondError } from "./errors.ts";
import { jsonShapeProblem } from "./json-shape.ts";
import { ID_PATTERN } from "./types.ts";
import { countOf, expectedType } from "./words.ts";

export { ID_PATTERN };
export const MAX_METADATA_BYTES = 16 * 1024;

export const sessionId = z.string().regex(ID_PATTERN, "a session id of 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
export const roomKey = z.string().regex(ID_PATTERN, "a room key of 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
export const userId = z.string().min(1).max(256);
export const clientMsgId = z.string().min(1).max(128);
export const seqNumber = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const frameId = z.union([z.string().max(128), z.number().finite()]).optional();
/** A JSON object a client stores as given: checked for depth and `__proto__` keys first (see json-shape.ts). */
const jsonObject = () =>
  z
    .unknown()
    .superRefine((value, ctx) => {
      const problem = jsonShapeProblem(value);
      if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
    })
    .pipe(z.record(z.string(), z.unknown()))
    // The OpenAPI document describes the piped schema by its input, which is `unknown`: say what it is.
    .meta({ type: "object", additionalProperties: {} });
export const metadata = jsonObject();
export const sessionConfig = jsonObject();
export const access = z.enum(["private", "open"]);
export const members = z.array(userId).max(1000);

/** Session settings are given as partial objects and merged into the current (or default) value. */
export const analysisSettingInput = z.strictObject({
  enabled: z.boolean().optional(),
  share: z.enum(["staff", "all"]).optional(),
});
export const assistantSettingInput = z.strictObject({
  enabled: z.boolean().optional(),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a name of 1-64 letters, digits, '_' or '-'").optional(),
  model: z.string().min(1).max(200).optional(),
  systemPrompt: z.string().max(32 * 1024).optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().min(1).max(1_000_000).optional(),
  trigger: z.enum(["every", "mention"]).optional(),
  contextMessages: z.number().int().min(0).max(1000).optional(),
});
export const endOnDisconnectInput = z.strictObject({
  enabled: z.boolean().optional(),
  graceSeconds: z.number().int().min(0).max(86_400).optional(),
});
/** What a message may ask of the assistant: a reply to it, as JSON and/or with reasoning streamed apart. */
export const assistantRequest = z.strictObject({
  json: z.boolean().optional(),
  reasoning: z.boolean().optional(),
});
export const streamId = z.string().min(1).max(128);
/** Erase the session this many days after it ends (1 to 36500); null returns it to the server-wide rule. */
export const retentionDays = z.number().int().min(1).max(36_500).nullable();
export const epoch = z.string().min(1).max(64);

const ping = z.strictObject({ type: z.literal("ping"), id: frameId, session: sessionId.optional() });
const join = z
  .strictObject({
    type: z.literal("join"),
    id: frameId,
    session: sessionId.optional(),
    room: roomKey.optional(),
    since: seqNumber.optional(),
    /** The epoch the client's `since` was counted in (from `joined`); a different one gets `reset: true`. */
    epoch: epoch.optional(),
    limit: z.number().int().min(1).max(1_000_000).optional(),
  })
  .refine((f) => (f.session === undefined) !== (f.room === undefined), {
    message: "exactly one of \"session\" or \"room\"",
    path: ["session"],
  });
const leave = z.strictObject({ type: z.literal("leave"), id: frameId, session: sessionId });
const message = z.strictObject({
  type: z.literal("message"),
  id: frameId,
  session: sessionId,
  content: z.string(),
  kind: z.enum(["text", "action"]).optional(),
  clientMsgId: clientMsgId.optional(),
  metadata: metadata.optional(),
  assistant: assistantRequest.optional(),
});
const configure = z.strictObject({
  type: z.literal("configure"),
  id: frameId,
  session: sessionId,
  config: sessionConfig.optional(),
  access: access.optional(),
  members: members.optional(),
  analysis: analysisSettingInput.optional(),
  assistant: assistantSettingInput.optional(),
  endOnDisconnect: endOnDisconnectInput.optional(),
  retentionDays: retentionDays.optional(),
});
const end = z.strictObject({
  type: z.literal("end"),
  id: frameId,
  session: sessionId,
  status: z.enum(["completed", "cancelled"]).optional(),
});
const auth = z.strictObject({ type: z.literal("auth"), id: frameId, token: z.string().min(1).max(16 * 1024) });
const cancel = z.strictObject({ type: z.literal("cancel"), id: frameId, session: sessionId, stream: streamId });

const FRAMES = { ping, join, leave, message, configure, end, auth, cancel } as const;
export type ClientFrameType = keyof typeof FRAMES;
export type ClientFrame = { [K in ClientFrameType]: z.infer<(typeof FRAMES)[K]> }[ClientFrameType];
export type FrameOf<K extends ClientFrameType> = z.infer<(typeof FRAMES)[K]>;

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; ref?: string | number; error: SessiondError };

/**
 * Parses one text frame. Never throws: every malformed input becomes a `bad_request` with a sentence
 * naming what was wrong, and the frame's `id` (when readable) so the reply can carry `ref`.
 */
export function parseClientFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: new SessiondError("bad_request", "The frame is not valid JSON.") };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: new SessiondError("bad_request", "A frame must be a JSON object with a \"type\".") };
  }
  const record = value as Record<string, unknown>;
  const ref = typeof record.id === "string" || typeof record.id === "number" ? record.id : undefined;
  const type = record.type;
  if (typeof type !== "string" || !Object.hasOwn(FRAMES, type)) {
    const known = Object.keys(FRAMES).join(", ");
    const what = typeof type === "string" ? `Unknown frame type ${JSON.stringify(type.slice(0, 40))}` : "The frame has no \"type\"";
    return { ok: false, ref, error: new SessiondError("bad_request", `${what}; expected one of: ${known}.`) };
  }
  // The one frame every message is: checked by hand when it has only plain fields (what zod would accept as is).
  if (type === "message" && isPlainMessage(record)) return { ok: true, frame: record as FrameOf<"message"> };
  if (type === "join" && isPlainJoin(record)) return { ok: true, frame: record as FrameOf<"join"> };
  const parsed = FRAMES[type as ClientFrameType].safeParse(value);
  if (!parsed.success) return { ok: false, ref, error: new SessiondError("bad_request", describeZodError(parsed.error)) };
  return { ok: true, frame: parsed.data as ClientFrame };
}

const PLAIN_MESSAGE_KEYS = new Set(["type", "id", "session", "content", "kind", "clientMsgId"]);

/**
 * Whether a `message` frame is valid with none but its plain fields (no metadata, no assistant request): exactly the
 * checks of the `message` schema for those fields. Anything else (an unknown field, a wrong type, metadata) is left
 * to the schema, which also writes the error.
 */
function isPlainMessage(f: Record<string, unknown>): boolean {
  for (const key in f) if (!PLAIN_MESSAGE_KEYS.has(key)) return false;
  const { id, session, content, kind, clientMsgId } = f;
  return (
    typeof session === "string" &&
    ID_PATTERN.test(session) &&
    typeof content === "string" &&
    (id === undefined || (typeof id === "string" ? id.length <= 128 : typeof id === "number" && Number.isFinite(id))) &&
    (kind === undefined || kind === "text" || kind === "action") &&
    (clientMsgId === undefined || (typeof clientMsgId === "string" && clientMsgId.length >= 1 && clientMsgId.length <= 128))
  );
}

const JOIN_KEYS = new Set(["type", "id", "session", "room", "since", "epoch", "limit"]);
const isInt = (v: unknown, min: number, max: number): boolean => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;

/** Whether a `join` frame passes the `join` schema (the connect storm's other frame), by the same checks. */
function isPlainJoin(f: Record<string, unknown>): boolean {
  for (const key in f) if (!JOIN_KEYS.has(key)) return false;
  const { id, session, room, since, epoch, limit } = f;
  return (
    (session === undefined) !== (room === undefined) &&
    (session === undefined || (typeof session === "string" && ID_PATTERN.test(session))) &&
    (room === undefined || (typeof room === "string" && ID_PATTERN.test(room))) &&
    (id === undefined || (typeof id === "string" ? id.length <= 128 : typeof id === "number" && Number.isFinite(id))) &&
    (since === undefined || isInt(since, 0, Number.MAX_SAFE_INTEGER)) &&
    (limit === undefined || isInt(limit, 1, 1_000_000)) &&
    (epoch === undefined || (typeof epoch === "string" && epoch.length >= 1 && epoch.length <= 64))
  );
}

/** One sentence naming the first field that failed and what was expected. */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "The input is invalid.";
  const field = issue.path.length > 0 ? issue.path.join(".") : undefined;
  let expected: string;
  switch (issue.code) {
    case "unrecognized_keys":
      return `Unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}.`;
    case "invalid_type":
      // zod 4 leaves `input` out of issues by default; its message still names what was received.
      if (issue.message.endsWith("received undefined")) return `Field "${field}" is required.`;
      expected = expectedType(issue.expected);
      break;
    case "invalid_value":
      expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
      break;
    case "too_small":
      expected = isNumeric(issue.origin) ? `a number >= ${issue.minimum}` : `at least ${countOf(Number(issue.minimum), issue.origin === "array" ? "item" : "character")}`;
      break;
    case "too_big":
      expected = isNumeric(issue.origin) ? `a number <= ${issue.maximum}` : `at most ${countOf(Number(issue.maximum), issue.origin === "array" ? "item" : "character")}`;
      break;
    case "invalid_format":
    case "custom":
    default:
      expected = issue.message;
  }
  return field ? `Field "${field}" is invalid: expected ${expected}.` : `Invalid input: expected ${expected}.`;
}

/** UTF-8 byte length without allocating an encoded copy. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** Zod's origin of a size issue on a number (plain, a safe-integer check, or a bigint): told as a number. */
function isNumeric(origin: unknown): boolean {
  return origin === "number" || origin === "int" || origin === "bigint" || origin === "safeint";
}
