// The transcript document (pure): a session and its messages as JSON, Markdown or YAML, produced in chunks so a
// long session never sits in one string. Used by the HTTP export and by the archive files, so both are the same.
import { stringify as toYaml } from "yaml";
import type { Message, SessionInfo } from "../protocol/types.ts";
import { markdownBlock, markdownCode, markdownText } from "./markdown.ts";

export type TranscriptFormat = "json" | "markdown" | "yaml";

/** File extension per format. */
export const TRANSCRIPT_EXTENSIONS: Record<TranscriptFormat, string> = { json: "json", markdown: "md", yaml: "yaml" };

/** Media type per format (without the charset). */
export const TRANSCRIPT_MEDIA_TYPES: Record<TranscriptFormat, string> = {
  json: "application/json",
  markdown: "text/markdown",
  yaml: "application/yaml",
};

/** The analysis summary at the top of a Markdown transcript, for readers who may see analyses. */
export interface TranscriptSummary {
  /** Alerts raised in the session (staff readers only; absent otherwise). */
  alerts?: number;
}

/**
 * Yields the document: a head, then one chunk per page of messages, then a tail. `pages` are in seq order; a
 * message carries `analysis` only when the reader may see it (the caller decides and attaches it), and `summary`
 * is given only to such readers. Returning the generator early closes `pages` too.
 */
export function* transcriptChunks(format: TranscriptFormat, session: SessionInfo, pages: Iterable<Message[]>, summary?: TranscriptSummary): Generator<string> {
  const state = { first: true };
  yield head(format, session, summary);
  for (const page of pages) {
    const chunk = pageText(format, page, state);
    if (chunk !== "") yield chunk;
  }
  yield tail(format, state);
}

/** transcriptChunks over pages that come later (an asynchronous store's export). */
export async function* transcriptChunksLater(format: TranscriptFormat, session: SessionInfo, pages: AsyncIterable<Message[]>, summary?: TranscriptSummary): AsyncGenerator<string> {
  const state = { first: true };
  yield head(format, session, summary);
  for await (const page of pages) {
    const chunk = pageText(format, page, state);
    if (chunk !== "") yield chunk;
  }
  yield tail(format, state);
}

function pageText(format: TranscriptFormat, page: Message[], state: { first: boolean }): string {
  let chunk = "";
  for (const m of page) {
    chunk += item(format, m, state.first);
    state.first = false;
  }
  return chunk;
}

function tail(format: TranscriptFormat, state: { first: boolean }): string {
  if (format === "json") return "]}\n";
  return format === "yaml" && state.first ? "  []\n" : "";
}

/** The whole document as one string (for small sessions and tests). */
export function transcriptText(format: TranscriptFormat, session: SessionInfo, pages: Iterable<Message[]>): string {
  let out = "";
  for (const chunk of transcriptChunks(format, session, pages)) out += chunk;
  return out;
}

function head(format: TranscriptFormat, session: SessionInfo, summary?: TranscriptSummary): string {
  if (format === "json") return `{"session":${JSON.stringify(session)},"messages":[`;
  if (format === "yaml") return `${toYaml({ session })}messages:\n`;
  return markdownHead(session, summary);
}

function item(format: TranscriptFormat, m: Message, first: boolean): string {
  if (format === "json") return `${first ? "" : ","}\n${JSON.stringify(m)}`;
  // Each message is its own one-item YAML list, indented under `messages:` so quoting stays the library's job.
  if (format === "yaml") return toYaml([m]).replace(/^/gm, "  ").replace(/ +$/gm, "");
  const analysis = m.analysis ? `${markdownAnalysis(m)}\n\n` : "";
  // User-written text goes through markdown.ts only: content in a fence it cannot close, the user id in a code span.
  return `### ${m.seq} · ${markdownCode(m.userId)} (${m.role}${m.kind === "action" ? ", action" : ""}) · ${m.createdAt}\n\n${markdownBlock(m.content)}\n\n${analysis}`;
}

/** One compact line under a message: sentiment, risk and topics. */
function markdownAnalysis(m: Message): string {
  const a = m.analysis!;
  const parts = [`sentiment ${a.sentiment.score.toFixed(2)} (${a.sentiment.labels[0] ?? "neutral"})`, `risk ${a.crisis.risk_level}`];
  if (a.topics.topics.length > 0) parts.push(`topics: ${a.topics.topics.join(", ")}`);
  // Topics and labels may come from a model that read the message: one escaped line, like everything user-derived.
  return `> Analysis: ${markdownText(parts.join(" · "))}`;
}

/** Mean sentiment, highest risk and (for staff) the alert count, as list items; none without a summary. */
function analysisSummary(s: SessionInfo, summary: TranscriptSummary | undefined): string[] {
  if (!summary) return [];
  const { sentiment, riskLevel } = s.metrics;
  return [
    `- Mean sentiment: ${sentiment === null ? "not analysed" : sentiment.toFixed(2)}`,
    `- Highest risk: ${riskLevel ?? "not analysed"}`,
    ...(summary.alerts !== undefined ? [`- Alerts: ${summary.alerts}`] : []),
  ];
}

function markdownHead(s: SessionInfo, summary?: TranscriptSummary): string {
  const lines = [
    `# Session ${s.id}`,
    "",
    ...(s.room ? [`- Room: ${s.room}`] : []),
    `- Mode: ${s.mode}`,
    `- Status: ${s.status}`,
    `- Owner: ${markdownCode(s.ownerId)}`,
    `- Started: ${s.startedAt}`,
    ...(s.endedAt ? [`- Ended: ${s.endedAt}`] : []),
    `- Messages: ${s.metrics.messageCount}`,
    `- Participants: ${s.metrics.participantCount}`,
    `- Duration: ${Math.round(s.metrics.durationMs / 1000)} s`,
    ...analysisSummary(s, summary),
    "",
    "## Transcript",
    "",
  ];
  return `${lines.join("\n")}\n`;
}
