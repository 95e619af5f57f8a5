// Text normalisation for the crisis lexicon (pure): lower case, one apostrophe, expanded contractions and chat
// slang, a small typo map, leetspeak and edit-distance-1 repair of key words, and a bounded sentence splitter.

/** Key words repaired by edit distance 1 (Damerau). Only long words with no English neighbour at distance 1. */
const FUZZY_KEYS = ["myself", "suicide", "suicidal", "overdose", "overdosed", "himself", "herself", "themselves", "yourself"];

/** Key words a token with digits, symbols or asterisks may stand for ("su1c1de", "k*ll", "d!e"). */
const MASKED_KEYS = ["kill", "killed", "killing", "suicide", "suicidal", "die", "dead", "myself", "cut", "cutting", "overdose", "hang", "rape", "raped"];

const LEET: Record<string, string> = { "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i" };

/** Whole-token replacements: contractions written without an apostrophe, chat slang and common misspellings. */
const TOKEN_MAP_ENTRIES: Record<string, string> = {
  // contractions (with the apostrophe already removed or never typed)
  dont: "do not", doesnt: "does not", didnt: "did not", cant: "can not", cannot: "can not", wont: "will not",
  isnt: "is not", arent: "are not", wasnt: "was not", werent: "were not", wouldnt: "would not", couldnt: "could not",
  shouldnt: "should not", havent: "have not", hasnt: "has not", hadnt: "had not", aint: "am not", mustnt: "must not",
  im: "i am", ive: "i have", youre: "you are", theyre: "they are", hes: "he is", shes: "she is", thats: "that is",
  whats: "what is", theres: "there is", youve: "you have", theyve: "they have", weve: "we have", couldve: "could have",
  shouldve: "should have", wouldve: "would have", youll: "you will", theyll: "they will", itll: "it will",
  // chat slang
  wanna: "want to", wana: "want to", gonna: "going to", gunna: "going to", gotta: "got to", tryna: "trying to",
  hafta: "have to", kinda: "kind of", sorta: "sort of", u: "you", ur: "your", urself: "yourself", ppl: "people",
  every1: "everyone", evryone: "everyone", everone: "everyone", no1: "no one", noone: "no one", some1: "someone",
  any1: "anyone", rn: "right now", "2nite": "tonight", "2night": "tonight", tonite: "tonight", tnite: "tonight",
  tmrw: "tomorrow", tmr: "tomorrow", tmrrw: "tomorrow", tomoz: "tomorrow", tomorow: "tomorrow", tommorow: "tomorrow",
  tommorrow: "tomorrow", "2morrow": "tomorrow", "2moro": "tomorrow", "2day": "today", bc: "because", cuz: "because",
  coz: "because", becuz: "because", idk: "i do not know", idc: "i do not care", idgaf: "i do not care", pls: "please",
  plz: "please", bf: "boyfriend", gf: "girlfriend", sis: "sister", bro: "brother", mum: "mom", mam: "mom", mommy: "mom",
  mummy: "mom", daddy: "dad", anymor: "anymore", nemore: "anymore", lyf: "life", lyfe: "life", liv: "live",
  ded: "dead", wnt: "want", whant: "want", wamt: "want", pils: "pills", pillz: "pills", meds: "medication",
  // coded and abbreviated self-harm language
  kms: "kill myself", kys: "kill yourself", kmsl: "laughing", kmslol: "laughing", selfdelete: "self delete",
  sewerslide: "suicide", ctb: "suicide", oding: "overdosing", odding: "overdosing", selfharm: "self harm", selfharming: "self harming", od: "overdose", oded: "overdosed",
  // misspellings of short key words (too short for edit-distance matching)
  kil: "kill", kll: "kill", kiil: "kill", kiled: "killed", kiling: "killing", kilin: "killing", killin: "killing",
  dieing: "dying", dyin: "dying", cuting: "cutting", cuttin: "cutting", hurtin: "hurting", myslf: "myself",
  meself: "myself", mself: "myself", tierd: "tired", livng: "living", lving: "living", livin: "living", liveing: "living", dissapear: "disappear", dissappear: "disappear",
  disapear: "disappear", nomore: "no more", b: "be", alyve: "alive",
};

// A Map, not the object: a message saying "constructor" must not pick up Object.prototype.
const TOKEN_MAP = new Map(Object.entries(TOKEN_MAP_ENTRIES));

/**
 * Short key words (too short for edit-distance repair, "want" has real neighbours such as "went" and "wait") are
 * repaired only for a swap of two neighbouring letters or one doubled letter ("wnat", "kilt" no, "wantt"): those
 * slips rarely make another English word.
 */
const SHORT_KEYS = ["want", "kill", "dead", "life", "live", "pills", "hurt", "wrists", "alive"];
/** Real words the repair must leave alone. */
const SHORT_KEEP = new Set(["lief", "evil", "vile", "veil", "levi"]);
/** Every slip of every short key, built once (a lookup per token keeps normalisation linear and cheap). */
const SHORT_SLIPS = new Map<string, string>();
for (const key of SHORT_KEYS) {
  for (let i = 0; i < key.length; i++) {
    SHORT_SLIPS.set(key.slice(0, i + 1) + key.slice(i), key); // one letter doubled
    if (i + 1 < key.length && key[i] !== key[i + 1]) SHORT_SLIPS.set(key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2), key);
  }
}
for (const key of [...SHORT_KEYS, ...SHORT_KEEP]) SHORT_SLIPS.delete(key);

/** The short key word a token is a slip of ("wnat" → "want", "kiill" → "kill"), or null. */
export function repairShortKey(word: string): string | null {
  return SHORT_SLIPS.get(word) ?? null;
}

/** The reflexive a bare "unalive" stands for, from the nearest subject before it in the same sentence. */
function reflexiveBefore(text: string, offset: number): string {
  const before = text.slice(Math.max(0, offset - 120), offset);
  const clause = before.slice(Math.max(before.lastIndexOf("."), before.lastIndexOf("!"), before.lastIndexOf("?")) + 1);
  let subject = "i";
  for (const m of clause.matchAll(/\b(i|he|she|they|you|we|my \w+|his \w+|her \w+)\b/g)) subject = m[1]!;
  if (subject === "he") return "himself";
  if (subject === "she") return "herself";
  if (subject === "you") return "yourself";
  if (subject === "we") return "ourselves";
  return subject === "i" ? "myself" : "themselves";
}

const KILL_FORM: Record<string, string> = { e: "kill", es: "kills", ed: "killed", ing: "killing" };
/**
 * Coded words for killing oneself ("unalive", "self delete"): written with an object they are "kill"; written bare
 * ("thinking of unaliving") they mean oneself, so the reflexive of the sentence's subject is supplied.
 */
function expandCodedKill(s: string): string {
  return s.replace(/\b(?:unaliv(e|es|ed|ing)|self ?-? ?delet(e|es|ed|ing)|commit (?:die|dying))\b( (?:myself|himself|herself|themselves|themself|yourself|ourselves|me|him|her|them|you|us)\b)?/g, (m, a: string | undefined, b: string | undefined, object: string | undefined, offset: number) => {
    const verb = KILL_FORM[a ?? b ?? "e"] ?? "kill";
    return object ? `${verb}${object}` : `${verb} ${reflexiveBefore(s, offset)}`;
  });
}

/** Two-word repairs applied after token mapping. */
const PHRASE_FIXES: Array<[RegExp, string]> = [
  [/\b(he|she|it|that|there|who|what) is (been|got|gotten)\b/g, "$1 has $2"],
  [/\b2 (?=(?:die|be|live|kill|end|hurt|go|do|see|sleep|wake|exist|disappear|stop|take|cut|overdose)\b)/g, "to "],
  [/\bmy self\b/g, "myself"],
  [/\byour self\b/g, "yourself"],
  [/\bany more\b/g, "anymore"],
  [/\b(live|living|exist|alive|here|around|go on|do this|take it|wake up|try|cope|care) no (?:more|longer)\b/g, "$1 anymore"],
  [/\bevery one\b/g, "everyone"],
  [/\bno body\b/g, "nobody"],
  [/\bsewer slide\b/g, "suicide"],
  [/\b(can not|could not|can barely|struggling to|hard to|unable to|trying to) breath\b/g, "$1 breathe"],
  [/\bstep (mom|dad|mother|father|brother|sister|son|daughter|parents?)\b/g, "step$1"],
  [/\bself ?- ?harm/g, "self harm"],
  [/\bbetter of\b(?!f)/g, "better off"],
  [/\bill (?=(?:kill|end|do|be|just|never|go|take|hurt|make|jump|die|try|stop|cut|overdose|finally|actually|probably)\b)/g, "i will "],
  [/\bid (?=(?:rather|be|kill|just|never|love|like|die|prefer|sooner|get|go|do|end|hurt|take|want|have|jump)\b)/g, "i would "],
  [/\b(he|she)ll (?=(?:kill|hurt|hit|beat|shoot|stab|find|never|be|do|come|leave|end|jump|take|die)\b)/g, "$1 will "],
  [/\b(he|she)d (?=(?:kill|hurt|hit|beat|shoot|stab|find|never|be|do|come|leave|end|jump|take|die|rather)\b)/g, "$1 would "],
  // Before a past participle 'd is "had", not "would": "i wish i'd never been born".
  [/\b(i|you|he|she|we|they) would( never| not| already| just| ever)? (been|gone|done|seen|known|taken|given|told|tried|thought|wanted|lost|found|written|said|felt|become|had)\b/g, "$1 had$2 $3"],
  // Fillers carry no risk and break phrase patterns ("what is even the point", "i just want to die").
  [/\b(?:even|just|really|literally|honestly|actually|seriously|truly|totally|basically|genuinely|lowkey|highkey|legit|kind of|sort of|tbh|fr|ngl|deadass|simply|pretty much|so so) /g, ""],
];

/** Emoji that stand for a means of harm are read as the word ("took all my 💊"); the rest end a clause. */
const MEANS_EMOJI: Array<[RegExp, string]> = [
  [/💊/gu, " pills "], [/🔫/gu, " gun "], [/🔪|🗡️?/gu, " knife "], [/🪢/gu, " rope "], [/⚰️?|🪦/gu, " coffin "], [/🩸/gu, " blood "],
];

const APOSTROPHES = /[\u2018\u2019\u201B\u02BC\u2032\u0060\u00B4]/g;
const DOUBLE_QUOTES = /[\u201C\u201D\u201E\u00AB\u00BB]/g;
// Control characters, the replacement character and unpaired surrogates become spaces so no input can break a regex.
const JUNK = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\uFFFD]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const TOKEN = /[\p{L}\p{N}'*@$]+/gu;

/** Optimal-string-alignment distance, stopping early once it exceeds 1 (all callers only ask "is it ≤ 1?"). */
export function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > 1) return false;
  let i = 0;
  while (i < la && i < lb && a[i] === b[i]) i++;
  if (la === lb) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true; // substitution
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // transposition
  }
  return la > lb ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1); // deletion / insertion
}

function collapseRuns(word: string, keep: 1 | 2): string {
  return word.replace(/(\p{L})\1{2,}/gu, keep === 1 ? "$1" : "$1$1");
}

function unmask(word: string): string | null {
  if (!/[\p{L}]/u.test(word) || !/[0-9@$!*]/.test(word)) return null;
  const leet = word.replace(/[013457@$!]/g, (c) => LEET[c] ?? c);
  for (const key of MASKED_KEYS) {
    if (key.length !== leet.length) continue;
    let ok = true;
    for (let k = 0; k < key.length && ok; k++) ok = leet[k] === key[k] || leet[k] === "*";
    if (ok) return key;
  }
  return null;
}

const SPECIAL_CONTRACTIONS = new Map([["od'd", "overdosed"], ["od'ed", "overdosed"], ["od'ing", "overdosing"], ["can't", "can not"], ["won't", "will not"], ["shan't", "shall not"], ["ain't", "am not"], ["let's", "let us"], ["i'm", "i am"], ["y'all", "you all"]]);
const PLAIN = /^[a-z]+$/;
const RUN3 = /(\p{L})\1{2}/u;

function expandApostrophe(word: string): string {
  if (!word.includes("'")) return word;
  const special = SPECIAL_CONTRACTIONS.get(word);
  if (special !== undefined) return special;
  if (word.endsWith("n't")) return `${word.slice(0, -3)} not`;
  const m = /^(i|you|he|she|it|we|they|that|there|what|who|here|where|how|could|should|would|must|might|tonight|today|tomorrow|everything|everyone|nobody|nothing|life|this)'(s|re|ve|ll|d|m)$/.exec(word);
  if (!m) return word; // possessives ("john's") lose the apostrophe below: "dads gun"
  const tail = { s: "is", re: "are", ve: "have", ll: "will", d: "would", m: "am" }[m[2] as "s" | "re" | "ve" | "ll" | "d" | "m"];
  return `${m[1]} ${tail}`;
}

/** Maps one lower-case token to its normal form (possibly several words). */
export function normalizeToken(raw: string): string {
  let word = raw;
  if (!PLAIN.test(word)) {
    const masked = unmask(word);
    if (masked) return masked;
    word = word.replace(/[*@$]/g, "");
    word = expandApostrophe(word);
    if (word.includes(" ")) return word;
    word = word.replace(/'/g, "");
  }
  const direct = TOKEN_MAP.get(word);
  if (direct !== undefined) return direct;
  const repaired = repairShortKey(word);
  if (repaired !== null) return repaired;
  if (word.length < 5 && !RUN3.test(word)) return word;
  if (RUN3.test(word)) {
    for (const candidate of [collapseRuns(word, 2), collapseRuns(word, 1)]) {
      const mapped = TOKEN_MAP.get(candidate);
      if (mapped !== undefined) return mapped;
      if (FUZZY_KEYS.includes(candidate) || MASKED_KEYS.includes(candidate)) return candidate;
    }
    word = collapseRuns(word, 2);
  }
  if (word.length >= 5 && word.length <= 11 && !FUZZY_KEYS.includes(word)) {
    for (const key of FUZZY_KEYS) if (withinOneEdit(word, key)) return key;
  }
  return word;
}

/**
 * Normalises text for pattern matching: NFKC, lower case, straight apostrophes and quotes, expanded contractions
 * ("don't", "dont" → "do not"), chat slang ("wanna" → "want to", "kms" → "kill myself"), repaired misspellings of
 * key words, single spaces. Sentence punctuation is kept. Linear in the input length.
 */
export function normalizeText(text: string): string {
  let s = text.replace(JUNK, " ");
  for (const [re, word] of MEANS_EMOJI) s = s.replace(re, word);
  s = s.normalize("NFKC").toLowerCase().replace(APOSTROPHES, "'").replace(DOUBLE_QUOTES, '"');
  // "d!e", "k!ll": an exclamation mark between letters stands for an i.
  s = s.replace(/(?<=\p{L})!(?=\p{L})/gu, "i");
  s = s.replace(TOKEN, (tok) => {
    // Quote marks around a word are kept as quotes; the word inside is normalised.
    const lead = /^'+/.exec(tok)?.[0] ?? "";
    const trail = /'+$/.exec(tok.slice(lead.length))?.[0] ?? "";
    const core = tok.slice(lead.length, tok.length - trail.length);
    if (!core) return tok;
    return `${lead ? "'" : ""}${normalizeToken(core)}${trail ? "'" : ""}`;
  });
  s = expandCodedKill(s);
  for (const [re, to] of PHRASE_FIXES) s = s.replace(re, to);
  return s.replace(/[ \t]+/g, " ");
}

/** Longest sentence handed to the patterns, in characters; longer ones are cut at a space. */
export const MAX_SENTENCE_CHARS = 400;

/**
 * Splits normalised text into sentences on . ! ? ; and line breaks, dropping empty pieces.
 * @param maxSentences stop after this many sentences (default 4000) so very long input stays bounded.
 */
export function splitSentences(text: string, maxSentences = 4000): string[] {
  const out: string[] = [];
  // Emoji end a clause in chat ("I don't want to be here anymore 😔"), like a full stop.
  for (const piece of text.split(/[.!?;\n\r]+|\s[-–—]+\s|\p{Extended_Pictographic}+/u)) {
    let rest = piece.trim();
    // A "sentence" without punctuation can be the whole message; cutting it at a space keeps every pattern's
    // work proportional to MAX_SENTENCE_CHARS (a phrase cut in two is the price of the bound).
    while (rest.length > MAX_SENTENCE_CHARS) {
      const space = rest.lastIndexOf(" ", MAX_SENTENCE_CHARS);
      const cut = space > MAX_SENTENCE_CHARS / 2 ? space : MAX_SENTENCE_CHARS;
      out.push(rest.slice(0, cut).trim());
      rest = rest.slice(cut).trim();
      if (out.length >= maxSentences) return out;
    }
    if (rest) out.push(rest);
    if (out.length >= maxSentences) break;
  }
  return out;
}
