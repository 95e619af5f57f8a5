// Which committed messages the assistant answers: the session's trigger rule, @mentions, and explicit requests
// (pure; used by the assistant when the session service asks whether a message it is about to accept asks for a reply).
import type { AssistantSetting, MessageRole } from "../protocol/types.ts";
import type { AssistantRequest } from "../sessions/assistant-port.ts";

/**
 * Whether `content` mentions `@name`: case-insensitive, not inside a longer name (`@assistant2`) nor an address
 * (`bob@assistant.example`).
 */
export function mentions(content: string, name: string): boolean {
  const lower = content.toLowerCase();
  const needle = `@${name.toLowerCase()}`;
  for (let i = lower.indexOf(needle); i !== -1; i = lower.indexOf(needle, i + 1)) {
    const before = i === 0 ? "" : lower[i - 1]!;
    const after = lower[i + needle.length] ?? "";
    if (!/[a-z0-9_.@-]/.test(before) && !/[a-z0-9_-]/.test(after)) return true;
  }
  return false;
}

/**
 * The reply a message gets, or null for none. Only `user` messages are answered, never one posted under the
 * assistant's own name (no reply loops), and only while the assistant is enabled. An explicit `request` asks for a
 * reply whatever the trigger; otherwise `trigger: "every"` answers every user message and `"mention"` only those
 * that mention `@<name>`.
 */
export function replyRequest(
  setting: AssistantSetting,
  message: { role: MessageRole; userId: string; content: string },
  request?: AssistantRequest,
): AssistantRequest | null {
  if (!setting.enabled || message.role !== "user" || message.userId === setting.name) return null;
  if (request !== undefined) return { ...(request.json && { json: true }), ...(request.reasoning && { reasoning: true }) };
  if (setting.trigger === "every") return {};
  return mentions(message.content, setting.name) ? {} : null;
}
