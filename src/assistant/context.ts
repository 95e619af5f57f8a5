// What the assistant's model is shown: one system message (prompt, session mode and config) and the session's
// recent messages, newest kept first when the token budget is short (pure).
import type { ChatMessage } from "../ai/types.ts";
import { truncateMiddle } from "../ai/text.ts";
import { DEFAULT_CONTEXT_MESSAGES, type Message, type SessionMode } from "../protocol/types.ts";
/**
 * Estimated tokens for the whole context (system message included). 6000 leaves room for a reply within the
 * 8k context that small local models commonly run with.
 */
export const DEFAULT_CONTEXT_TOKEN_BUDGET = 6000;
/** Estimated tokens each message costs beyond its text (role and separators in the chat template). */
export const MESSAGE_TOKEN_OVERHEAD = 4;
/** The rendered session config is cut to this many characters so it cannot crowd out the conversation. */
export const CONFIG_TEXT_MAX_CHARS = 4000;
/** The newest message, cut to fit, keeps at least this many estimated tokens of text. */
const MIN_NEWEST_TOKENS = 64;

/** A cheap token estimate: ceil(characters / 4), about right for English with common tokenizers. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** A chat message's estimated cost: its text and name, plus MESSAGE_TOKEN_OVERHEAD. */
export function estimateMessageTokens(message: ChatMessage): number {
  const name = "name" in message && message.name ? message.name : "";
  return estimateTokens(message.content) + estimateTokens(name) + MESSAGE_TOKEN_OVERHEAD;
}

const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** FNV-1a, 32 bits, as 8 hex digits: a short stable tag for a changed name. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/**
 * A user id as an OpenAI message `name` (`^[a-zA-Z0-9_-]{1,64}$`). A valid id is kept; otherwise other characters
 * become "_" and a hash of the original is appended, so two ids that differ only in such characters
 * ("a.b", "a@b") stay distinct. Pure and stable.
 */
export function sanitizeName(userId: string): string {
  if (NAME_PATTERN.test(userId)) return userId;
  const base = userId.replace(/[^a-zA-Z0-9_-]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 55) || "user";
  return `${base}-${fnv1a(userId)}`;
}

function renderValue(value: unknown): string {
  if (typeof value === "string") return value.replace(/\s*\n\s*/g, " ");
  if (value === undefined) return "";
  return JSON.stringify(value) ?? String(value);
}

/** "Session configuration:\n- key: value" (nested values as compact JSON), or "" for an empty config. */
export function renderConfig(config: Record<string, unknown>): string {
  const lines = Object.entries(config)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `- ${k}: ${renderValue(v)}`);
  if (lines.length === 0) return "";
  return truncateMiddle(`Session configuration:\n${lines.join("\n")}`, CONFIG_TEXT_MAX_CHARS);
}

const MODE_NOTES: Record<SessionMode, string> = {
  chat: "Session mode: chat.",
  voice: "Session mode: voice. Your replies are spoken aloud: keep them short, plain sentences without markdown, lists or emoji.",
  video: "Session mode: video. Participants see and hear each other; keep replies short and conversational.",
};

export interface AssistantContextInput {
  assistant: {
    /** The assistant's user id in the session (its own messages carry it). */
    name: string;
    systemPrompt?: string;
    /** How many of the most recent messages are shown. @default 50 */
    contextMessages?: number;
  };
  session: { mode: SessionMode; config: Record<string, unknown> };
  /** The session's recent messages in seq order (only these are ever shown). */
  messages: readonly Message[];
  /** @default DEFAULT_CONTEXT_TOKEN_BUDGET (6000) */
  tokenBudget?: number;
}

function defaultSystemPrompt(name: string): string {
  return `You are ${name}, an AI assistant taking part in a live session. Participants' messages carry their user id as the name. Reply helpfully and briefly to the latest message.`;
}

function toChatMessage(message: Message, assistantName: string): ChatMessage | null {
  const content = message.kind === "action" ? `(action) ${message.content}` : message.content;
  if (message.content.trim() === "") return null;
  if (message.role === "system") return { role: "system", content };
  if (message.role === "assistant" && message.userId === assistantName) return { role: "assistant", content };
  // Users, and any other assistant in the session: the model must not take their words for its own.
  return { role: "user", name: sanitizeName(message.userId), content };
}

/**
 * The chat messages for one assistant reply: first a system message (the assistant's prompt or a default naming
 * it, the session mode, and the rendered config), then the last `contextMessages` messages in seq order — user
 * messages as `user` named by sanitised user id, the assistant's own as `assistant`, system messages as
 * `system`; empty messages are skipped. When the estimate exceeds `tokenBudget` the oldest messages go first;
 * the system message always stays, and so does the newest message (cut in the middle if it alone is too long).
 */
export function buildAssistantContext(input: AssistantContextInput): ChatMessage[] {
  const { assistant, session } = input;
  const budget = input.tokenBudget ?? DEFAULT_CONTEXT_TOKEN_BUDGET;
  const limit = Math.max(1, Math.floor(assistant.contextMessages ?? DEFAULT_CONTEXT_MESSAGES));

  const prompt = assistant.systemPrompt?.trim() || defaultSystemPrompt(assistant.name);
  const system: ChatMessage = {
    role: "system",
    content: [prompt, MODE_NOTES[session.mode], renderConfig(session.config)].filter(Boolean).join("\n\n"),
  };

  const recent = [...input.messages].sort((a, b) => a.seq - b.seq).slice(-limit);
  const candidates = recent.flatMap((m) => toChatMessage(m, assistant.name) ?? []);

  let remaining = budget - estimateMessageTokens(system);
  const kept: ChatMessage[] = [];
  for (let i = candidates.length - 1; i >= 0; i--) {
    const message = candidates[i]!;
    const cost = estimateMessageTokens(message);
    if (cost <= remaining) {
      kept.push(message);
      remaining -= cost;
      continue;
    }
    if (kept.length === 0) {
      const fixed = cost - estimateTokens(message.content);
      const roomTokens = Math.max(MIN_NEWEST_TOKENS, remaining - fixed);
      kept.push({ ...message, content: truncateMiddle(message.content, roomTokens * 4) });
    }
    break;
  }
  return [system, ...kept.reverse()];
}
