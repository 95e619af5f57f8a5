// The built-in analyzer "builtin/1" (pure, synchronous, no network): sentiment (VADER), topics (wink-nlp lemmas and
// stems against a taxonomy) and crisis risk (a versioned lexicon). Every part is bounded and none can throw.
import type { AnalysisCore, Crisis, Sentiment, Topics } from "../types.ts";
import { DEFAULT_TOPICS, type TopicTaxonomy } from "../topics.ts";
import { assessCrisis } from "./crisis.ts";
import { parseText, type ParsedText } from "./document.ts";
import { sentimentOf } from "./sentiment.ts";
import { compileTopics, scoreTopics, type CompiledTopics } from "./topic-match.ts";

export { assessCrisis, MAX_CRISIS_CHARS } from "./crisis.ts";
export { NLP_MAX_CHARS } from "./document.ts";
export { LEXICON_VERSION } from "./lexicon.ts";
export { nlpLoadMs } from "./nlp.ts";

/** The analyzer id stored with each analysis. */
export const BUILTIN_ANALYZER = "builtin/1";

/** Categories whose risk makes a message sad or frightening whatever its words score (for emotion labels). */
const CRISIS_EMOTION: Record<string, string> = {
  suicidal_ideation: "sadness",
  self_harm: "sadness",
  abuse: "fear",
  medical_emergency: "fear",
  harm_to_others: "anger",
};

/**
 * The lexical sentiment of a message (what `analyze` reports before a detected risk is taken into account).
 * Synchronous; never throws.
 */
export function scoreSentiment(text: string): Sentiment {
  const input = asText(text);
  return safe(() => sentimentOf(input, parseText(input)), { score: 0, labels: ["neutral"], confidence: 0 });
}

function asText(text: unknown): string {
  return typeof text === "string" ? text : String(text ?? "");
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/**
 * A medium or high risk makes the sentiment negative: a lexicon reads "everyone would be better off without me" as
 * positive ("better"), and a moderator sorting by sentiment must not see it among the happy messages.
 */
function withCrisis(sentiment: Sentiment, crisis: Crisis): Sentiment {
  const category = crisis.triggers[0]?.split(":")[0] ?? "";
  // A low risk only tips a message the lexicon found neutral ("my uncle took his own life last year").
  if (crisis.risk_level === "low" && Math.abs(sentiment.score) < 0.05 && category !== "harm_to_others" && category !== "") {
    return { score: -0.2, labels: ["negative", ...sentiment.labels.slice(1)], confidence: sentiment.confidence };
  }
  if (crisis.risk_level !== "medium" && crisis.risk_level !== "high") return sentiment;
  const emotions = sentiment.labels.slice(1).filter((l) => l !== "joy");
  const extra = CRISIS_EMOTION[category];
  if (extra && !emotions.includes(extra)) emotions.unshift(extra);
  const score = Math.min(sentiment.score, crisis.risk_level === "high" ? -0.6 : -0.4);
  return { score, labels: ["negative", ...emotions], confidence: Math.max(sentiment.confidence, 0.7) };
}

/**
 * Creates the built-in analyzer. The topic taxonomy is compiled once here; the NLP model loads once per process
 * on first use.
 * @param options.topics the taxonomy to use (default DEFAULT_TOPICS; load a file with loadTopicTaxonomy).
 */
export function createBuiltinAnalyzer(options: { topics?: TopicTaxonomy } = {}): { analyze(text: string): AnalysisCore } {
  const compiled: CompiledTopics = compileTopics(options.topics ?? DEFAULT_TOPICS);
  return {
    analyze(text: string): AnalysisCore {
      const input = asText(text);
      const crisis = assessCrisis(input);
      const parsed: ParsedText = safe(() => parseText(input), { sentences: [], words: [] });
      const sentiment = safe(() => sentimentOf(input, parsed), { score: 0, labels: ["neutral"], confidence: 0 });
      const topics: Topics = safe(() => scoreTopics(parsed, compiled), { topics: [], relevance: [], context: "" });
      return { sentiment: withCrisis(sentiment, crisis), topics, crisis, analyzer: BUILTIN_ANALYZER };
    },
  };
}
