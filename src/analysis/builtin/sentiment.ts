// Sentiment (pure): VADER polarity on the message (per sentence for long ones) after a small emoji and chat-idiom
// rewrite, a narrow sarcasm rule, and emotion labels from a lemma lexicon that respects wink-nlp's negation scope.
import { SentimentIntensityAnalyzer } from "vader-sentiment";
import type { Sentiment } from "../types.ts";
import { NLP_MAX_CHARS, type ParsedText } from "./document.ts";

/** VADER's own thresholds: compound ≥ 0.05 is positive, ≤ −0.05 negative, else neutral. */
export const POLARITY_THRESHOLD = 0.05;
/** Up to this many sentences the whole text is scored at once (VADER is tuned for short texts); above, the mean. */
const WHOLE_TEXT_SENTENCES = 3;
/** Sentences of a long message that VADER scores (it costs ~0.2 ms a sentence); the mean is over these. */
export const SENTIMENT_MAX_SENTENCES = 40;
const MAX_EMOTIONS = 3;

// VADER-js predates emoji; these carry most of the feeling in chat.
const EMOJI_WORDS: Array<[RegExp, string]> = [
  [/[😀😃😄😁😊🙂☺😇🤗]/gu, " happy "],
  [/[😍🥰😘❤💕💖💗💛💙💚💜🧡]/gu, " love "],
  [/[👍👌🙌✨💪🥳🎉🎊]/gu, " great "],
  [/[😂🤣😆😹💀]/gu, " lol "],
  [/[😢😭😞😔☹🙁😟😿💔😥]/gu, " sad "],
  [/[😩😫😣😖]/gu, " miserable "],
  [/[😡😠🤬👿]/gu, " angry "],
  [/[😱😨😰😧]/gu, " scared "],
  [/[👎🤮🤢]/gu, " bad "],
];

// Chat idioms VADER reads literally ("you killed it" as violence, "can't wait" as negation of waiting).
const IDIOMS: Array<[RegExp, string]> = [
  [/\b(?:killed|killing|nailed|nailing|crushed|crushing|smashed|smashing|rocked|rocking|aced) it\b/gi, "did great"],
  [/\b(?:crush|crushed|crushing|smash|smashed|smashing|nail|nailed|nailing|ace|aced|acing|kill|killed|killing|murder|murdered|slay|slayed|slaying|rock|rocked|rocking) (?:it|that|the|this|my|our|your) (?:song|karaoke|performance|set|exam|test|interview|presentation|pitch|demo|quota|target|game|match|race|show|gig|audition|call|speech)\b/gi, "did great on the task"],
  [/\b(gonna|going to|will|'ll|you|to) (?:kill|nail|crush|smash|rock|ace) it\b/gi, "$1 do great"],
  [/\bbombed (?:the|my|that|it|our|this)\b/gi, "failed the"],
  [/\bwithout a hitch\b/gi, "perfectly"],
  [/\b(?:got|landed|get) (?:the|a|my|that) (?:job|offer|promotion|place|internship|role|scholarship)\b/gi, "got great news"],
  [/\b(?:finished|completed|ran|did|passed) my first\b/gi, "proudly finished my first"],
  [/\bdying to\b/gi, "eager to"],
  [/\b(?:feel|feeling|felt|am|i'm|so|bit|pretty) (?:really |so |a bit |pretty )?down\b/gi, "sad"],
  [/\b(?:break ?up|broke up|dumped me)\b/gi, "heartbreak"],
  [/\b(?:is|are|went|was|goes) down\b/gi, "is broken"],
  [/\bfroze\b/gi, "panicked"],
  [/\brough (?:week|day|night|time|patch|month|year)\b/gi, "awful week"],
  [/\b(?:self[- ]?harm|cutting|sh) free\b/gi, "proud"],
  [/\bshot (?:myself|ourselves|yourself) in the foot\b/gi, "made a mistake"],
  [/\bkiller (?:feature|app|deal|idea|look|outfit|song|view|workout|combo|demo|pitch)\b/gi, "excellent feature"],
  [/\bsuicide squad\b/gi, "the film"],
  // Violence words for winning, playing well, eating with gusto or looking good ("we slaughtered them 5-0").
  [/\b(?:slaughtered|destroyed|demolished|thrashed|annihilated|murdered|smashed|crushed|hammered|battered|obliterated) (?:them|the (?:other team|opposition|competition|away team|home team)|that (?:free kick|shot|penalty|serve|goal|solo|song|set|round|level|boss))\b/gi, "won brilliantly"],
  [/\b(?:crush|crushing|smash|smashing|destroy|destroying|dominate|dominating|beat|beating) (?:the|our) competition\b/gi, "win big"],
  [/\b(?:murder|murdering|demolish|demolishing|destroy|destroying|devour|devouring|smash|smashing|kill|killing) (?:this|that|a|the|my) (?:burrito|pizza|burger|sandwich|cake|curry|meal|plate|kebab|steak|taco|tacos|pie|roast|buffet|breakfast|brunch)\b/gi, "enjoy this delicious food"],
  [/\b(?:a )?(?:killer|beast|monster|machine) (?:on|at|with) (?:the|a) (?:guitar|drums|piano|bass|mic|court|pitch|field|bench(?: press)?|keys|decks|track|ice)\b/gi, "excellent at it"],
  [/\bkiller (?:instincts?|moves|vocals|voice|smile|riff|solo|serve|sense of humou?r|playlist|recipe|lineup)\b/gi, "excellent talent"],
  [/\bdrop dead (?:gorgeous|beautiful|stunning|handsome)\b/gi, "gorgeous"],
  [/\bshoot (?:some )?hoops\b/gi, "play basketball"],
  [/\btook a bullet for (?:the team|us|me|everyone)\b/gi, "helped the team"],
  [/\bbleeding (?:money|cash)\b/gi, "losing money"],
  [/\b(?:got|set|hit|smashed|broke) (?:a |my )?(?:new )?(?:pb|pr|personal best|personal record|record)\b/gi, "proudly achieved a personal best"],
  [/\b(?:on sale|\d+ ?(?:%|percent|pounds|quid|dollars|euros|bucks) off)\b/gi, "a great deal"],
  [/\bfinally (?:working|fixed|sorted|better|over it|healed)\b/gi, "finally good"],
  [/\b(?:so |completely |totally )?done with (?:this|these|that|the|my) (?!life\b)/gi, "frustrated with the "],
  [/\bghost(?:ed|ing) (?:me|us|him|her)\b/gi, "ignored us"],
  [/\b(?:can(?:no|')?t|cannot) wait\b/gi, "excited"],
  [/\bto die for\b/gi, "wonderful"],
  [/\b(?:died|dying|dead) (?:laughing|of laughter)\b/gi, "hilarious"],
  [/\b(?:can(?:no|')?t|cannot) (?:take|do|handle) (?:it|this) ?(?:any ?more|any longer)\b/gi, "desperate"],
  [/\b(?:can(?:no|')?t|cannot) (?:cope|breathe)\b/gi, "struggling"],
];
/** With a laugh marker, "that killed me" and "I'm dead" mean "that was hilarious". */
const LAUGH = /😂|🤣|😹|💀|\b(?:lol|lmao|lmfao|rofl|haha\w*)\b/i;
const LAUGH_IDIOMS = /\b(?:killed|kills|killing) me\b|\bi(?:'?m| am) (?:dead|dying|deceased)\b/gi;

const SARCASM = /\b(?:(?:oh|just|yeah|wow|how) (?:great|perfect|wonderful|fantastic|brilliant|lovely|awesome|fun)|love (?:that|this) for me|yeah right|thanks a lot|just what i needed|my favou?rite thing|what a (?:great|wonderful|fantastic|perfect) (?:start|way))\b|\/s\b/;
const SARCASM_CONTEXT = /\b(?:another|again|broke|broken|fail\w*|crash\w*|bug|late|cancel\w*|rain\w*|monday|traffic|stuck|down|outage|overtime|meeting|deadline|flat tyre|flat tire|delayed|lost)\b/;

/** Emotion lemmas (lower case; a word counts only outside a negation's scope). */
export const EMOTION_WORDS: Record<"sadness" | "anger" | "fear" | "joy", readonly string[]> = {
  sadness: ["sad", "sadness", "unhappy", "depressed", "depression", "cry", "crying", "tear", "lonely", "miserable", "heartbroken", "hopeless", "empty", "grief", "grieve", "gutted", "devastated", "upset", "sorrow", "numb", "worthless", "😢", "😭", "😞", "😔", "💔"],
  anger: ["angry", "anger", "mad", "furious", "annoyed", "annoying", "irritated", "irritating", "hate", "rage", "pissed", "frustrated", "frustrating", "livid", "outraged", "resent", "😡", "😠", "🤬"],
  fear: ["afraid", "scared", "fear", "terrified", "frightened", "anxious", "anxiety", "worried", "worry", "panic", "nervous", "dread", "unsafe", "threaten", "😱", "😨", "😰"],
  joy: ["happy", "joy", "glad", "great", "awesome", "excited", "love", "wonderful", "amazing", "delighted", "thrilled", "yay", "fantastic", "proud", "grateful", "thankful", "relieved", "excellent", "brilliant", "😀", "😃", "😄", "😁", "😊", "🙂", "😍", "🥰", "🎉", "🥳"],
};
const EMOTION_OF = new Map<string, string>();
for (const [emotion, words] of Object.entries(EMOTION_WORDS)) for (const w of words) EMOTION_OF.set(w, emotion);

/**
 * VADER flips a negated word's valence, so "I don't want to kill myself" scores as positive; a negated death or harm
 * word is dropped instead (it says less, not the opposite).
 */
const NEGATED_HARM = /\b((?:not|never|no|\w+n't|dont|cant|wont|didnt)\b(?:\s+\w+){0,3}?\s+)(?:kill|killing|die|dying|dead|suicide|suicidal|hurt|hurting|harm|harming|cut|cutting)\b/gi;

function vader(text: string): { compound: number; neu: number } {
  let t = text.replace(NEGATED_HARM, "$1");
  for (const [re, phrase] of IDIOMS) t = t.replace(re, phrase);
  if (LAUGH.test(t)) t = t.replace(LAUGH_IDIOMS, "hilarious");
  for (const [re, word] of EMOJI_WORDS) t = t.replace(re, word);
  const s = SentimentIntensityAnalyzer.polarity_scores(t);
  return { compound: Number.isFinite(s.compound) ? s.compound : 0, neu: Number.isFinite(s.neu) ? s.neu : 1 };
}

function round(x: number, places = 3): number {
  const f = 10 ** places;
  return Math.round(x * f) / f;
}

/** Emotions named by the words of a parsed message, most frequent first. */
export function detectEmotions(parsed: ParsedText): string[] {
  const counts = new Map<string, number>();
  for (const w of parsed.words) {
    if (w.negated) continue;
    const emotion = EMOTION_OF.get(w.lemma) ?? EMOTION_OF.get(w.normal);
    if (emotion) counts.set(emotion, (counts.get(emotion) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_EMOTIONS).map(([e]) => e);
}

/**
 * Lexical sentiment of a message already parsed. `score` is VADER's compound (the mean over sentences for messages
 * of more than 3 sentences); `confidence` is 0.5 + 0.5·|score| for a polar label and 0.5 + 0.5·(neutral share) for
 * neutral, ×0.8 for messages under 3 words, 0 for empty text.
 */
export function sentimentOf(text: string, parsed: ParsedText): Sentiment {
  const input = text.slice(0, NLP_MAX_CHARS);
  if (input.trim() === "") return { score: 0, labels: ["neutral"], confidence: 0 };
  let compound: number;
  let neu: number;
  if (parsed.sentences.length <= WHOLE_TEXT_SENTENCES) {
    ({ compound, neu } = vader(input));
  } else {
    const scores = parsed.sentences.slice(0, SENTIMENT_MAX_SENTENCES).map(vader);
    compound = scores.reduce((a, s) => a + s.compound, 0) / scores.length;
    neu = scores.reduce((a, s) => a + s.neu, 0) / scores.length;
  }
  const lower = input.toLowerCase();
  // "Oh great, the build broke again": VADER reads "great"; the rule flips it only with a negative context word.
  const sarcastic = compound > 0 && SARCASM.test(lower) && SARCASM_CONTEXT.test(lower);
  if (sarcastic) compound = -Math.max(0.3, compound * 0.6);
  const emotions = detectEmotions(parsed).filter((e) => !(sarcastic && e === "joy"));
  const polarity = compound >= POLARITY_THRESHOLD ? "positive" : compound <= -POLARITY_THRESHOLD ? "negative" : "neutral";
  let confidence = polarity === "neutral" ? 0.5 + 0.5 * neu : 0.5 + 0.5 * Math.abs(compound);
  if (parsed.words.length < 3) confidence *= 0.8;
  return { score: round(Math.max(-1, Math.min(1, compound))), labels: [polarity, ...emotions], confidence: round(Math.max(0, Math.min(1, confidence)), 2) };
}
