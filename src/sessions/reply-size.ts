// How large a message is inside a `joined` reply, and how many messages fit a byte budget (pure). Keeps a recovery
// reply bounded (MAX_RECOVERY_BYTES) without serializing the messages twice.
import type { Message } from "../protocol/types.ts";

/** 1 MiB: a recovery page a slow link still takes in a few seconds. */
export const DEFAULT_MAX_RECOVERY_BYTES = 1024 * 1024;

// The keys, quotes and punctuation of a message with its required fields, plus the comma that separates it from
// the next one in the array.
const BASE = `{"id":"","seq":,"session":"","userId":"","role":"","kind":"","content":"","createdAt":""},`.length;
const utf8 = (text: string): number => Buffer.byteLength(text, "utf8");

/**
 * The UTF-8 size of `message` as JSON: exact for text without characters JSON escapes (quotes, backslashes,
 * control characters add one to five bytes each), without serializing the content.
 */
export function messageBytes(m: Message): number {
  let n = BASE + m.id.length + String(m.seq).length + utf8(m.session) + utf8(m.userId) + m.role.length + m.kind.length + utf8(m.content) + m.createdAt.length;
  if (m.metadata !== undefined) n += `,"metadata":`.length + utf8(JSON.stringify(m.metadata));
  if (m.clientMsgId !== undefined) n += `,"clientMsgId":""`.length + utf8(m.clientMsgId);
  if (m.analysis !== undefined) n += `,"analysis":`.length + utf8(JSON.stringify(m.analysis));
  return n;
}

/**
 * Adds messages in order while they fit `maxBytes` (the first one always: a page holds at least one message) and
 * there are fewer than `maxCount`; returns false once one did not fit or the count is reached.
 */
export class ReplyBudget {
  private bytes = 0;
  readonly messages: Message[] = [];

  constructor(
    private readonly maxBytes: number,
    private readonly maxCount: number,
  ) {}

  add(page: readonly Message[]): boolean {
    for (const m of page) {
      if (this.messages.length >= this.maxCount) return false;
      const size = messageBytes(m);
      if (this.messages.length > 0 && this.bytes + size > this.maxBytes) return false;
      this.messages.push(m);
      this.bytes += size;
    }
    return this.messages.length < this.maxCount;
  }
}

/** The newest messages of `messages` (ascending) that fit `maxBytes`, at least the newest one; ascending. */
export function newestWithin(messages: Message[], maxBytes: number): Message[] {
  let bytes = 0;
  let i = messages.length;
  while (i > 0) {
    const size = messageBytes(messages[i - 1]!);
    if (i < messages.length && bytes + size > maxBytes) break;
    bytes += size;
    i--;
  }
  return i === 0 ? messages : messages.slice(i);
}
