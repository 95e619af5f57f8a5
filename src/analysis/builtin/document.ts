// Reads a message once with wink-nlp into plain arrays (sentences; tokens with lemma, stem key and negation) that
// the topic and emotion steps share. Pure apart from the cached model; bounded by NLP_MAX_CHARS.
import type { ItsFunction } from "wink-nlp";
import { nlp, stem } from "./nlp.ts";

/** Characters given to the NLP pipeline (sentiment, topics, emotions); about 4 ms for this much text. */
export const NLP_MAX_CHARS = 8_192;
/** Sentences kept at most. */
export const NLP_MAX_SENTENCES = 200;

export interface WordToken {
  /** Lower-case surface form ("slept"). */
  normal: string;
  /** Lemma ("sleep"). */
  lemma: string;
  /** Keys a topic term can match: stems of the surface form and of the lemma. */
  keys: string[];
  /** Inside a negation's scope ("not happy"). */
  negated: boolean;
  /** Index of its sentence. */
  sentence: number;
}

export interface ParsedText {
  sentences: string[];
  words: WordToken[];
}

/** Longest run of non-space characters given to the tokenizer. */
export const MAX_TOKEN_CHARS = 32;
const LONG_RUN = new RegExp(`[^\\s]{${MAX_TOKEN_CHARS + 1},}`, "g");
const WORDISH = new Set(["word", "emoji", "emoticon", "hashtag"]);

function fallback(text: string): ParsedText {
  // Used only if the model throws on some input: a plain split keeps the analysis going.
  const sentences = text.split(/(?<=[.!?])\s+|\n+/).filter((s) => s.trim() !== "").slice(0, NLP_MAX_SENTENCES);
  const words: WordToken[] = [];
  sentences.forEach((s, i) => {
    for (const w of s.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) words.push({ normal: w, lemma: w, keys: [stem(w)], negated: false, sentence: i });
  });
  return { sentences, words };
}

/** Splits text into sentences and word tokens (hyphenated words count as their parts too). Never throws. */
export function parseText(text: string): ParsedText {
  // wink's tokenizer is quadratic in the length of one token (8 KiB of "a" took 3 s), so runs without spaces
  // (URLs, base64, key mashing) are cut to MAX_TOKEN_CHARS before it sees them.
  const input = text.slice(0, NLP_MAX_CHARS).replace(LONG_RUN, (run) => run.slice(0, MAX_TOKEN_CHARS));
  if (input.trim() === "") return { sentences: [], words: [] };
  try {
    const n = nlp();
    const its = n.its;
    const doc = n.readDoc(input);
    const sentences: string[] = [];
    const words: WordToken[] = [];
    const count = Math.min(doc.sentences().length(), NLP_MAX_SENTENCES);
    for (let i = 0; i < count; i++) {
      const s = doc.sentences().itemAt(i);
      sentences.push(s.out());
      const tokens = s.tokens();
      const types = tokens.out(its.type) as string[];
      const normals = tokens.out(its.normal) as string[];
      // wink's typings give `lemma` an addons parameter its ItsFunction type lacks; the call is the documented one.
      const lemmas = tokens.out(its.lemma as unknown as ItsFunction<string>) as string[];
      const negations = tokens.out(its.negationFlag) as boolean[];
      for (let k = 0; k < types.length; k++) {
        if (!WORDISH.has(types[k]!)) continue;
        const normal = normals[k]!;
        const lemma = lemmas[k] ?? normal;
        const keys = [...new Set([stem(normal), stem(lemma)])];
        words.push({ normal, lemma, keys, negated: negations[k] === true, sentence: i });
      }
    }
    return { sentences, words };
  } catch {
    return fallback(input);
  }
}
