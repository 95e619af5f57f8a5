// Escaping of user-written text for the Markdown transcript (pure). Message content is shown verbatim in a code
// fence it cannot close, and ids in a code span on one line: a message can neither forge another author's heading
// nor leave a fence open that swallows the rest, and no link, image or HTML in it is ever rendered.

/** The longest run of `char` in `text`. */
function longestRun(text: string, char: string): number {
  let longest = 0;
  let current = 0;
  for (const c of text) {
    current = c === char ? current + 1 : 0;
    if (current > longest) longest = current;
  }
  return longest;
}

/**
 * Message content as a fenced code block, byte for byte. The fence is one backtick longer than the longest run of
 * backticks in the content (at least three), so no line of the content can close it, and it is always closed.
 * Headings, lists, HTML and links inside are shown as text. Ends without a trailing newline.
 */
export function markdownBlock(content: string): string {
  const fence = "`".repeat(Math.max(3, longestRun(content, "`") + 1));
  const body = content.endsWith("\n") || content.endsWith("\r") ? content : `${content}\n`;
  return `${fence}\n${body}${fence}`;
}

/**
 * A short user-chosen value (a user id) as an inline code span on one line, for headings and lists: line breaks
 * become spaces (a heading is one line), and the delimiter is longer than any backtick run inside.
 */
export function markdownCode(text: string): string {
  const line = text.replace(/[\r\n\u2028\u2029]+/g, " ");
  const ticks = "`".repeat(longestRun(line, "`") + 1);
  // A space on each side keeps a leading or trailing backtick from joining the delimiter (CommonMark strips one).
  const pad = line.startsWith("`") || line.endsWith("`") || line.startsWith(" ") ? " " : "";
  return `${ticks}${pad}${line}${pad}${ticks}`;
}

/**
 * Text not written by a person but derived from what people wrote (an analyzer's topics and labels, which a model
 * may echo), as plain text on one line: line breaks become spaces and the characters that start inline Markdown
 * (links, images, emphasis, code, HTML) are backslash-escaped, so it renders as the words it holds.
 */
export function markdownText(text: string): string {
  return text.replace(/[\r\n\u2028\u2029]+/g, " ").replace(/[\\`*_[\]<>!|~#]/g, "\\$&");
}
