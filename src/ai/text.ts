// Text helpers for what is sent to a model: cutting long text to a size (pure).

/** The marker put where text was cut out. */
export const TRUNCATION_MARKER = "\n[…]\n";

/**
 * Cuts `text` to at most `maxChars` characters by removing its middle: the start (usually the context) and the
 * end (usually the question, or the worst of a message) are what a model needs most. Text that fits is returned
 * as is. Never splits a surrogate pair.
 */
export function truncateMiddle(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const room = Math.max(0, Math.floor(maxChars) - TRUNCATION_MARKER.length);
  if (room === 0) return safeSlice(text, 0, Math.max(0, Math.floor(maxChars)));
  const head = Math.ceil(room * 0.75);
  const tail = room - head;
  return safeSlice(text, 0, head) + TRUNCATION_MARKER + (tail > 0 ? safeSlice(text, text.length - tail, text.length) : "");
}

/** slice() that moves its ends off the middle of a surrogate pair (so the result may be one code unit shorter). */
function safeSlice(text: string, start: number, end: number): string {
  const isLow = (i: number) => i > 0 && i < text.length && (text.charCodeAt(i) & 0xfc00) === 0xdc00;
  if (isLow(start)) start++;
  if (isLow(end)) end--;
  return text.slice(start, Math.max(start, end));
}
