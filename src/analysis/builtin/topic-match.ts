// Topic scoring (pure): compiles a taxonomy into stem sequences once, then scores a parsed message against it.
// Linear in the number of words (each word looks up only the terms that start with its stem).
import type { Topics } from "../types.ts";
import type { TopicTaxonomy } from "../topics.ts";
import type { ParsedText } from "./document.ts";
import { stem } from "./nlp.ts";

/** Topics reported at most. */
export const MAX_TOPICS = 5;
/** Longest `context`, in characters. */
export const CONTEXT_MAX_CHARS = 100;
/** Occurrences of one term that still add relevance (a word repeated 50 times is not 50 times as relevant). */
const MAX_COUNT_PER_TERM = 2;

interface CompiledTerm {
  topic: string;
  keys: string[];
}

export interface CompiledTopics {
  byFirstKey: Map<string, CompiledTerm[]>;
}

/** Compiles a taxonomy: each term becomes the Porter stems of its words ("pull requests" → ["pull", "request"]). */
export function compileTopics(taxonomy: TopicTaxonomy): CompiledTopics {
  const byFirstKey = new Map<string, CompiledTerm[]>();
  for (const [topic, terms] of Object.entries(taxonomy.topics)) {
    for (const term of terms) {
      const keys = term.toLowerCase().split(/[\s-]+/).filter(Boolean).map((w) => stem(w));
      if (keys.length === 0) continue;
      const list = byFirstKey.get(keys[0]!) ?? [];
      if (!list.some((t) => t.topic === topic && t.keys.join(" ") === keys.join(" "))) list.push({ topic, keys });
      byFirstKey.set(keys[0]!, list);
    }
  }
  return { byFirstKey };
}

function trimContext(sentence: string): string {
  const clean = sentence.replace(/\s+/g, " ").trim();
  if (clean.length <= CONTEXT_MAX_CHARS) return clean;
  const cut = clean.slice(0, CONTEXT_MAX_CHARS - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > CONTEXT_MAX_CHARS / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/**
 * Scores topics: relevance = 1 − e^(−0.7·hits), where hits counts term occurrences (each term at most twice; a
 * phrase counts 1.5). 1 hit ≈ 0.5, 2 ≈ 0.75, 3 ≈ 0.88. Most relevant first, ties by first mention.
 * `context` is the sentence that carried the top topic, trimmed to CONTEXT_MAX_CHARS ("" when no topic).
 */
export function scoreTopics(parsed: ParsedText, compiled: CompiledTopics): Topics {
  // The word list is flattened across sentences, but a phrase must not span two sentences.
  const words = parsed.words;
  const stats = new Map<string, { hits: number; first: number; perSentence: Map<number, number>; perTerm: Map<string, number> }>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    for (const key of w.keys) {
      for (const term of compiled.byFirstKey.get(key) ?? []) {
        let ok = true;
        for (let j = 1; j < term.keys.length && ok; j++) {
          const next = words[i + j];
          ok = next !== undefined && next.sentence === w.sentence && next.keys.includes(term.keys[j]!);
        }
        if (!ok) continue;
        const s = stats.get(term.topic) ?? { hits: 0, first: i, perSentence: new Map(), perTerm: new Map() };
        const termId = term.keys.join(" ");
        const seen = s.perTerm.get(termId) ?? 0;
        if (seen < MAX_COUNT_PER_TERM) {
          s.perTerm.set(termId, seen + 1);
          s.hits += term.keys.length > 1 ? 1.5 : 1;
        }
        s.perSentence.set(w.sentence, (s.perSentence.get(w.sentence) ?? 0) + 1);
        stats.set(term.topic, s);
      }
    }
  }
  const ranked = [...stats.entries()]
    .map(([topic, s]) => ({ topic, relevance: Math.round((1 - Math.exp(-0.7 * s.hits)) * 100) / 100, first: s.first, perSentence: s.perSentence }))
    .sort((a, b) => b.relevance - a.relevance || a.first - b.first)
    .slice(0, MAX_TOPICS);
  if (ranked.length === 0) return { topics: [], relevance: [], context: "" };
  let bestSentence = 0;
  let bestCount = -1;
  for (const [sentence, count] of ranked[0]!.perSentence) {
    if (count > bestCount || (count === bestCount && sentence < bestSentence)) { bestSentence = sentence; bestCount = count; }
  }
  return { topics: ranked.map((r) => r.topic), relevance: ranked.map((r) => r.relevance), context: trimContext(parsed.sentences[bestSentence] ?? "") };
}
