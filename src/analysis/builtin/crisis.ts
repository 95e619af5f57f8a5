// Crisis assessment (pure): runs the versioned lexicon over normalised sentences, applies the context rules
// (negation, past, quotes, fiction, jokes, trivial objects, who is at risk) and the plan/means/time escalation.
import { riskRank, type Crisis, type RiskLevel } from "../types.ts";
import {
  ACTIONS, ANIMAL_SUBJECT, ASKED_CUE, CLAUSE_BREAK, ESCALATORS, FICTION_CUE, HEDGE, HIGH_ACTION_TAIL, HYPERBOLE, JOKE_ABOUT, NEGATION, PAST, PERSON, PURPOSE, QUOTE_CUE, RECENT,
  RECOVERY, SERIOUS, SUBJECT_RE, THIRD_PERSON_SUBJECT, TRIVIAL, type CrisisCategory, type CrisisPattern,
} from "./lexicon.ts";
import { FRAME_PATTERNS_OTHERS } from "./lexicon-frames-others.ts";
import { FRAME_PATTERNS } from "./lexicon-frames.ts";
import { OTHER_PATTERNS } from "./lexicon-others.ts";
import { SELF_PATTERNS } from "./lexicon-self.ts";
import { normalizeText, splitSentences } from "./normalize.ts";

/** Characters of a message the crisis scan reads (the whole of a 64 KiB message); the scan is linear in this. */
export const MAX_CRISIS_CHARS = 65_536;
/** Sentences scanned at most. */
export const MAX_CRISIS_SENTENCES = 4_000;
/** Triggers reported at most, highest level first. */
export const MAX_TRIGGERS = 8;
/** Hits collected at most before the scan stops (bounds the work on a message full of risk phrases). */
export const MAX_HITS = 256;
const MAX_PHRASE_CHARS = 60;

/** Every pattern, in the order they are tried (exported for the lexicon's own tests). */
export const CRISIS_PATTERNS: readonly CrisisPattern[] = [...SELF_PATTERNS, ...OTHER_PATTERNS, ...FRAME_PATTERNS, ...FRAME_PATTERNS_OTHERS];
const PATTERNS = CRISIS_PATTERNS;
const SELF_CATEGORIES = new Set<CrisisCategory>(["suicidal_ideation", "self_harm"]);
const CONDITIONAL = /\b(?:if|when|unless|one more|another)\b/;
/** The writer states an intent before the phrase ("makes me want to" is hyperbole, not intent). */
const INTENT_FRAME = /\bi (?:\w+ ){0,2}?(?:want|wanted|am going|was going|will|plan|planning|need|am ready|am about|have decided|decided|am thinking|keep thinking|think about|tried|try)\b/;
const HYPOTHETICAL_CUE = /\b(?:what if|if (?:someone|somebody|anyone|a (?:friend|person|client|student|user|customer))|suppose|hypothetically|imagine if)\b/;
const REPORTED_SPEECH = /\b(?:he|she|they|someone|my [a-z]+) (?:\w+ )?(?:says|said|told me|texted(?: me)?|wrote|posted|messaged(?: me)?|keeps saying|was saying|tweeted)(?: that)? *(?::|"|')? *$/;
const RECOVERY_ALL = new RegExp(RECOVERY.source, "g");
/** A reporting verb right before a time word: the time is when it was said. */
const REPORTED_WHEN = /\b(?:said|says|told (?:me|us|her|him)|texted(?: me)?|messaged(?: me)?|mentioned|disclosed|admitted|wrote|posted|called(?: me)?|rang(?: me)?|confided(?: in me)?) $/;
/** A real person the writer knows is in the sentence, so fiction cues do not clear it. */
const MY_PERSON_IN_SENTENCE = new RegExp(`\\bmy ${PERSON}\\b`);

type Subject = "first" | "second" | "third" | "fixed" | "animal";

interface Hit {
  id: string;
  category: CrisisCategory;
  level: RiskLevel;
  phrase: string;
  /** Affirmed, present and not a joke or quote: may be escalated by a plan, means or time. */
  affirmed: boolean;
  subject: Subject;
  role?: "means" | "plan";
  order: number;
}

interface MessageContext {
  /** The writer insists it is no joke ("not joking", "for real"): joke markers and trivial objects lower nothing. */
  serious: boolean;
  joke: boolean;
  media: boolean;
  recovery: boolean;
}

/** Whether a sentence contains a pattern's hint (the cheap gate before its regex). */
export function hintPresent(hint: string | string[], sentence: string): boolean {
  if (typeof hint === "string") return hint === "" || sentence.includes(hint);
  return hint.some((h) => sentence.includes(h));
}

/** Words before a match a negation can reach ("I would never in my life ..."). */
const NEGATION_WORDS = 6;
/** Hedges are longer ("do not know why I..."), so they are looked for a little further back. */
const HEDGE_WORDS = 10;

/** The clause before a match (after the last comma or conjunction), as its last `words` words. */
function negationScope(prefix: string, words = NEGATION_WORDS): string {
  let start = 0;
  for (const m of prefix.matchAll(CLAUSE_BREAK)) start = m.index + m[0].length;
  return prefix.slice(start).trim().split(" ").slice(-words).join(" ");
}

/** Whether the match sits inside quotation marks, and where the open quote starts. */
function quoteState(prefix: string): { inside: boolean; openAt: number } {
  let inside = false;
  let openAt = -1;
  for (let i = 0; i < prefix.length; i++) {
    const c = prefix[i];
    if (c === '"') {
      inside = !inside;
      if (inside) openAt = i;
    } else if (c === "'") {
      const before = i === 0 ? " " : prefix[i - 1]!;
      const next = prefix[i + 1] ?? " ";
      if (!inside && /\s/.test(before) && !/\s/.test(next)) { inside = true; openAt = i; }
      else if (inside && !/\s/.test(before) && /\s/.test(next)) inside = false;
    }
  }
  return { inside, openAt };
}

function inferSubject(prefix: string): Subject {
  if (REPORTED_SPEECH.test(prefix)) return "third";
  let last = "";
  for (const m of prefix.matchAll(SUBJECT_RE)) last = m[0];
  if (last === "you" || last === "your") return "second";
  if (ANIMAL_SUBJECT.test(last)) return "animal";
  if (THIRD_PERSON_SUBJECT.test(last)) return "third";
  return "first";
}

/** The negation scope from its first negation or hedge cue on, followed by a space ("" when there is none). */
function withCue(scope: string): string {
  const cue = HEDGE.exec(scope) ?? NEGATION.exec(scope);
  if (!cue) return "";
  const aux = /\b(?:do|does|did|can|could|will|would|am|is|are|really|just|even) $/.exec(scope.slice(0, cue.index));
  return `${scope.slice(aux ? aux.index : cue.index)} `;
}

function minLevel(a: RiskLevel, b: RiskLevel | "none"): RiskLevel {
  return riskRank(b) < riskRank(a) ? b : a;
}

function evaluate(p: CrisisPattern, sentence: string, m: RegExpExecArray, ctx: MessageContext, order: number): Hit | null {
  const after = sentence.slice(m.index + m[0].length);
  // "I burnt my arm with the iron on purpose": a stated purpose outweighs the accident reading.
  const purposeful = SELF_CATEGORIES.has(p.category) && PURPOSE.test(sentence);
  if (!purposeful && p.benignAfter?.test(after)) return null;
  if (!purposeful && p.benignSentence?.test(sentence)) return null;
  if (p.requires && !p.requires.test(sentence)) return null;
  const prefix = sentence.slice(0, m.index);
  const scope = negationScope(prefix);
  const hasNegation = NEGATION.test(scope);
  const hasHedge = HEDGE.test(negationScope(prefix, HEDGE_WORDS));
  // For "want to live"-style phrases the negation IS the risk; a hedge ("not sure I want to live") counts too.
  if (p.polarity === "negated" && !hasNegation && !hasHedge) return null;
  const negated = p.polarity !== "negated" && hasNegation && !hasHedge;
  const quote = quoteState(prefix);

  let subject: Subject = p.subject === "first" || p.subject === "third" || p.subject === "fixed" ? p.subject : "first";
  if (p.subject === undefined || p.subject === "auto") subject = inferSubject(quote.inside ? prefix.slice(0, quote.openAt) : prefix);

  let level: RiskLevel = ctx.serious && p.serious ? p.serious : p.level;
  let affirmed = !p.grief;
  const lower = (to: RiskLevel | "none") => {
    level = minLevel(level, to as RiskLevel);
    affirmed = false;
  };
  const self = SELF_CATEGORIES.has(p.category);
  // "my cat keeps trying to jump off the balcony": an animal is the one doing it.
  if (self && subject === "animal") return null;
  if (negated) lower("low");
  // "my therapist asked if i had thought about killing myself": a question put to the writer, not a disclosure.
  if (self && ASKED_CUE.test(negationScope(prefix, HEDGE_WORDS))) lower("low");
  if (self && subject === "second") lower("low");
  if (self && subject === "third") {
    level = minLevel(level, "medium");
    if (HYPOTHETICAL_CUE.test(sentence)) lower("low");
  }
  // "doing well now" is itself a recovery phrase: its "now" must not count as a sign the hit is recent.
  const recovered = ctx.recovery && !RECENT.test(sentence.replace(RECOVERY_ALL, " "));
  // A past disclosure of abuse is still a disclosure worth a check-in (medium); past ideation or harm is low.
  if (recovered || PAST.test(sentence)) lower(p.category === "abuse" && !recovered ? "medium" : "low");
  if (QUOTE_CUE.test(prefix) || (quote.inside && ctx.media)) lower("low");
  // Someone else's act inside a story; an emergency or abuse is never cleared by the word "film" nearby.
  if (self && subject === "third" && FICTION_CUE.test(sentence) && !MY_PERSON_IN_SENTENCE.test(sentence)) lower("none");
  if (ctx.joke && p.joke) lower(p.joke);
  if (p.trivial && !ctx.serious && TRIVIAL.test(sentence)) {
    if (p.trivial !== "unless-intent") lower(p.trivial);
    else if (CONDITIONAL.test(sentence) || !INTENT_FRAME.test(prefix)) lower("low");
  }
  if ((level as string) === "none") return null;
  // A phrase that is a risk only when negated is reported with its negation ("do not want to live").
  const phrase = (p.polarity === "negated" ? `${withCue(scope)}${m[0]}` : m[0]).trim().slice(0, MAX_PHRASE_CHARS);
  return { id: p.id, category: p.category, level, phrase, affirmed, subject, role: p.role, order };
}

interface Sign {
  phrase: string;
  role?: "means" | "plan" | "time";
  /** Categories it may escalate (unset: all). */
  only?: readonly CrisisCategory[];
}

/** Matches of one escalator read per sentence at most (bounds the work on a sentence full of means words). */
const MAX_SIGNS_PER_SENTENCE = 4;
const GLOBAL_ESCALATORS = new Map(ESCALATORS.map((e) => [e, new RegExp(e.re.source, `${e.re.flags}g`)]));

/** Escalator phrases (plan, means, time) that are not negated, in message order. */
function findEscalators(sentences: string[]): Sign[] {
  const found: Sign[] = [];
  for (const sentence of sentences) {
    for (const e of ESCALATORS) {
      if (!hintPresent(e.hint, sentence)) continue;
      // Every match, not only the first: in "locked himself in … and is not answering" the second one lies
      // outside the hit that the first one is part of.
      let n = 0;
      for (const m of sentence.matchAll(GLOBAL_ESCALATORS.get(e)!)) {
        if (++n > MAX_SIGNS_PER_SENTENCE) break;
        const prefix = sentence.slice(0, m.index);
        const scope = negationScope(prefix);
        // A negated time is skipped only when it is the writer's ("i will not do it tonight"): in "he will not touch
        // my sister again after tonight" the time still says when.
        const negated = NEGATION.test(scope) && !HEDGE.test(negationScope(prefix, HEDGE_WORDS));
        if (negated && (e.role !== "time" || /\bi\b|\bnot$/.test(scope))) continue;
        // "my client said today that…": the time is when it was said, not when anything will happen.
        if (e.role === "time" && REPORTED_WHEN.test(prefix)) continue;
        found.push({ phrase: m[0], role: e.role, only: e.only });
      }
    }
  }
  return found;
}

/** Whether a sign escalates a hit: a hit cannot escalate itself, so the sign must lie outside its phrase. */
function applies(sign: Sign, hit: Hit): boolean {
  return sign !== hit && !hit.phrase.includes(sign.phrase) && (!sign.only || sign.only.includes(hit.category));
}

function actionFor(level: RiskLevel, top: Hit | undefined): string {
  let action: string = ACTIONS[level];
  if (!top || level === "none" || level === "low") return action;
  if (level === "high") action += HIGH_ACTION_TAIL[top.category] ?? "";
  if (top.subject === "third") action += " The message is about someone else: ask the writer whether that person is safe and how help can reach them.";
  return action;
}

/**
 * Assesses the crisis risk of one message. Synchronous, never throws; reads at most MAX_CRISIS_CHARS characters.
 * @returns the level, the triggers ("<category>: <phrase>", highest first) and a graded action for the moderator.
 */
export function assessCrisis(text: string): Crisis {
  try {
    return assess(typeof text === "string" ? text : String(text ?? ""));
  } catch {
    // A lexicon bug must not take analysis down; an unreadable message is reported as "needs a look", not "safe".
    return { risk_level: "low", triggers: [], recommended_action: ACTIONS.low };
  }
}

function assess(text: string): Crisis {
  const normalized = normalizeText(text.slice(0, MAX_CRISIS_CHARS));
  const sentences = splitSentences(normalized, MAX_CRISIS_SENTENCES);
  const ctx: MessageContext = {
    serious: SERIOUS.test(normalized),
    joke: HYPERBOLE.test(normalized.replace(JOKE_ABOUT, " ")) && !SERIOUS.test(normalized),
    media: QUOTE_CUE.test(normalized) || FICTION_CUE.test(normalized),
    recovery: RECOVERY.test(normalized),
  };
  const hits: Hit[] = [];
  let order = 0;
  let highs = 0;
  scan: for (const sentence of sentences) {
    for (const p of PATTERNS) {
      if (!hintPresent(p.hint, sentence)) continue;
      const m = p.re.exec(sentence);
      if (!m) continue;
      const hit = evaluate(p, sentence, m, ctx, order++);
      if (!hit) continue;
      hits.push(hit);
      if (hit.level === "high") highs++;
      // Nothing later can change the outcome once the trigger list is full of highs; the hit cap bounds the rest.
      if (highs >= MAX_TRIGGERS || hits.length >= MAX_HITS) break scan;
    }
  }

  // Escalation: an affirmed risk (ideation, self-harm, threat, abuse) plus a plan, means or time is high.
  // Distress accumulates: two different affirmed low signs of ideation in one message make it medium.
  // Physical symptoms add up the same way: a racing heart and a numb arm together are worth a look now.
  for (const category of ["suicidal_ideation", "medical_emergency"] as const) {
    const lows = hits.filter((h) => h.affirmed && h.level === "low" && h.category === category);
    if (new Set(lows.map((h) => h.phrase)).size >= 2) lows[0]!.level = "medium";
  }
  const escalators = findEscalators(sentences);
  // Distress next to a lethal means ("i am done" and "my dads gun is in the closet") is ideation, not a bad day.
  const meansSigns: Sign[] = [...escalators.filter((e) => e.role === "means"), ...hits.filter((h) => h.role === "means" && h.affirmed)];
  for (const h of hits) {
    if (h.affirmed && h.level === "low" && h.category === "suicidal_ideation" && !h.role && meansSigns.some((o) => applies(o, h))) h.level = "medium";
  }
  // A physical emergency sign next to an abuse disclosure ("he chokes me … last night i blacked out") shows the danger;
  // a serious medical sign with another, different one ("throwing up blood … feel faint") is an emergency.
  const medical = hits.filter((h) => h.affirmed && h.category === "medical_emergency");
  if (medical.some((m) => m.id !== "md.panic" && riskRank(m.level) >= riskRank("medium"))) {
    for (const h of hits) if (h.affirmed && h.category === "abuse" && h.level === "medium") h.level = "high";
  }
  for (const h of medical) {
    // Only a sign that is medium on its own: two symptoms that added up to medium stay medium.
    if (h.level === "medium" && !h.id.startsWith("fr.symptom_") && h.id !== "md.panic" && medical.some((o) => o.id !== h.id && o.id !== "md.panic")) h.level = "high";
  }
  // A plan or means sign that is only low on its own ("I gave away my things") is medium next to another sign.
  const lowRoles = hits.filter((h) => h.role && h.affirmed && h.level === "low");
  if (lowRoles.length > 0) {
    const others: Sign[] = [...escalators, ...hits.filter((h) => h.role && h.affirmed)];
    for (const h of lowRoles) if (others.some((o) => applies(o, h))) h.level = "medium";
  }
  const escalatable = hits.filter((h) => h.affirmed && h.level === "medium" && h.category !== "medical_emergency");
  if (escalatable.length > 0) {
    const signs: Sign[] = [...escalators, ...hits.filter((h) => h.role && h.affirmed)];
    let raised: { hit: Hit; sign: Sign } | undefined;
    for (const h of escalatable) {
      const sign = signs.find((o) => applies(o, h));
      if (!sign) continue;
      h.level = "high";
      raised ??= { hit: h, sign };
    }
    if (raised) hits.push({ ...raised.hit, phrase: raised.sign.phrase.slice(0, MAX_PHRASE_CHARS), role: undefined, order: order++ });
  }

  hits.sort((a, b) => riskRank(b.level) - riskRank(a.level) || a.order - b.order);
  const level: RiskLevel = hits[0]?.level ?? "none";
  const triggers: string[] = [];
  for (const h of hits) {
    // One trigger per phrase; a phrase contained in a longer one of the same category adds nothing.
    const t = `${h.category}: ${h.phrase}`;
    const covered = hits.some((o) => o !== h && o.category === h.category && o.phrase.length > h.phrase.length && o.phrase.includes(h.phrase));
    if (!covered && !triggers.includes(t)) triggers.push(t);
    if (triggers.length >= MAX_TRIGGERS) break;
  }
  return { risk_level: level, triggers, recommended_action: actionFor(level, hits[0]) };
}
