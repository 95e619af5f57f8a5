// Word classes for the compositional crisis frames (pure data and two string helpers): verb inflection, regex
// alternations, and the classes a frame combines (desire, death state, lethal acts, means, preparation, finality).
// Every class is written for normalizeText() output: lower case, contractions expanded, fillers removed.

/**
 * The inflections of a regular English verb: base, -s, -ed, -ing ("kill" → kill, kills, killed, killing;
 * "cut" → cut, cuts, cutted?, cutting — irregular past forms are passed in `extra` and `cutted` does no harm).
 */
export function verbForms(base: string, ...extra: string[]): string[] {
  const vowel = /[aeiou]/;
  const last = base[base.length - 1]!;
  // One-syllable consonant-vowel-consonant verbs double their last letter: stab → stabbing, top → topped.
  const cvc = base.length <= 4 && /[bdgmnprt]$/.test(base) && vowel.test(base[base.length - 2]!) && !vowel.test(base[base.length - 3] ?? "a");
  const stem = cvc ? base + last : base;
  const s = /(?:s|sh|ch|x|z)$/.test(base) ? `${base}es` : /[^aeiou]y$/.test(base) ? `${base.slice(0, -1)}ies` : `${base}s`;
  const ed = base.endsWith("e") ? `${base}d` : /[^aeiou]y$/.test(base) ? `${base.slice(0, -1)}ied` : `${stem}ed`;
  const ing = base.endsWith("ie") ? `${base.slice(0, -2)}ying` : base.endsWith("e") && !base.endsWith("ee") ? `${base.slice(0, -1)}ing` : `${stem}ing`;
  return [...new Set([base, s, ed, ing, ...extra])];
}

/** A non-capturing alternation, longest first so a shorter word never wins over a phrase that starts with it. */
export function alt(words: readonly string[]): string {
  return `(?:${[...new Set(words)].sort((a, b) => b.length - a.length).join("|")})`;
}

/** Every form of each verb, as one alternation. */
export function verbs(...bases: Array<string | string[]>): string {
  return alt(bases.flatMap((b) => (Array.isArray(b) ? verbForms(b[0]!, ...b.slice(1)) : verbForms(b))));
}

/**
 * A gap of ordinary words between two parts of a frame. It may not cross a clause or change who is meant: no
 * negation, conjunction, comparison, life word or other person ("I wish he would die" is not the writer's wish;
 * "I want to live, not die" is no wish to die).
 */
export const GAP =
  "(?:(?!(?:not|never|no|than|but|and|or|if|unless|because|so|when|while|after|before|live|living|alive|survive|he|she|they|you|we|him|her|them|it|his|their|your|our|my|someone|somebody|everyone|everybody|people|this|that|the|a|an)\\b)[\\w']+ )";

/** Wanting or welcoming something (the writer's side of a passive death wish). */
export const DESIRE = alt([
  ...verbForms("want"), ...verbForms("wish"), ...verbForms("hope"), ...verbForms("pray"), ...verbForms("crave"), ...verbForms("yearn"),
  "long", "longing", "waiting", "waiting for", "am waiting for", "would like", "would love", "would prefer", "ready", "need", "needs", "deserve", "deserves", "tempted",
  "dream of", "dreaming of", "dream about", "dreaming about", "look forward to", "looking forward to", "can not wait to",
  "fantasize about", "fantasise about", "fantasizing about", "fantasising about", "welcome", "am okay with", "am ok with",
  "am fine with", "am at peace with", "would be okay with", "would be fine with", "would be happy to", "would be glad to",
  "would be fine to", "would be relieved to", "would be content to", "would be nice to",
]);

/** Being dead or gone, as a state someone can wish for. */
export const DEATH_STATE = alt([
  "die", "be dead", "being dead", "drop dead", "dropping dead", "death", "not exist", "not existing", "stop existing",
  "cease to exist", "not be here", "not being here", "not be around", "not being around", "not be alive", "not being alive",
  "be gone forever", "be gone for good", "be gone", "disappear forever", "disappear for good", "disappear permanently",
  "vanish forever", "vanish for good", "fade away", "not wake up", "never wake up", "do not wake up", "will not wake up",
  "not waking up", "never waking up", "sleep forever", "fall asleep forever", "go to sleep forever", "stop breathing",
  "die in my sleep", "be six feet under", "be in my grave", "be in a coffin", "rest in peace", "leave this world",
  "leave this earth", "not see tomorrow", "not make it to tomorrow", "my life to end", "my life to be over", "be put out of my misery",
]);

/** Verbs that, with "myself", name a lethal act; the common ones ("kill", "hang") have their own patterns too. */
export const LETHAL_SELF_VERB = verbs("kill", "off", ["top"], "end", "murder", ["stab"], "strangle", "smother", "asphyxiate", "overdose", "delete", "immolate", "suffocate", "electrocute", "poison", ["hang", "hung"]);

/** Making something ready: buying, setting up, hiding, loading. */
export const PREPARE = alt([
  ...verbForms("buy", "bought"), ...verbForms("order"), "got", "get", "getting", "have", "had", "found", "find",
  ...verbForms("set", "set up", "setting up"), "put up", "putting up", ...verbForms("tie", "tied"), ...verbForms("make", "made"),
  ...verbForms("prepare"), ...verbForms("rig"), ...verbForms("hang", "hung"), ...verbForms("hide", "hid", "hidden"),
  ...verbForms("stash"), ...verbForms("load"), ...verbForms("hold", "held"), ...verbForms("grab"), "took out", "got out",
  "pulled out", ...verbForms("fix"), ...verbForms("attach"),
]);

/** Places a fall from is lethal. */
export const HEIGHT_PLACE = alt([
  "bridge", "roof", "rooftop", "building", "cliff", "balcony", "ledge", "tower", "car park", "parking garage", "multi storey",
  "overpass", "flyover", "block of flats", "skyscraper", "dam", "quarry", "railway bridge", "window", "top floor",
]);

/** Weapons and tools of harm. */
export const WEAPON = alt(["knife", "knives", "gun", "guns", "pistol", "handgun", "revolver", "shotgun", "rifle", "firearm", "bat", "baseball bat", "hammer", "axe", "machete", "crowbar", "blade", "razor", "broken bottle", "screwdriver"]);

/** Where a person at risk may be unreachable (an escalator for a third party's warning sign). */
export const UNREACHABLE =
  /\b(?:locked (?:himself|herself|themselves|themself) in|(?:is|has|are|have|been|was|keeps|kept|stopped) (?:not |been )?(?:answering|responding|replying|picking up)|(?:not|never|no one is|nobody is) (?:answering|responding|replying|picking up)|can not (?:reach|find|get hold of|contact|get through to) (?:him|her|them)|(?:is|has gone|went|are|have gone) missing|no one (?:can|has) (?:reach|find|seen)\w*|nobody (?:can|has) (?:reach|find|seen)\w*|(?:phone|his phone|her phone|their phone) (?:is )?(?:off|dead|going to voicemail))\b/;

/** The writer gone, as an event others would live on after ("if I died", "if I just vanished"). */
export const GONE_EVENT = alt([
  "died", "was gone", "were gone", "disappeared", "vanished", "was not here", "were not here", "was not around",
  "were not around", "left forever", "never existed", "did not exist", "was never born", "had never been born",
  "killed myself", "ended it", "ended it all", "was dead", "were dead", "did not wake up", "never woke up",
  "stopped existing", "was out of the picture", "was out of the way", "was no longer here", "was no longer around",
]);

/** Self-harm verbs (every form). */
export const SELF_HARM_VERB = verbs(["cut"], "burn", "burnt", "scratch", "pick", ["bite", "bit"], ["hit"], "punch", "bang", "slam", "claw", "carve", ["slash"], ["stab"]);

/** Ordinary household things that poison when swallowed. */
export const HOUSEHOLD_TOXIC = alt([
  "under the sink", "cleaning products?", "cleaning stuff", "cleaning spray", "cleaning fluid", "cleaner", "bleach", "chemicals?",
  "detergent", "poison", "dishwasher (?:tablet|pod)s?", "(?:laundry|washing) (?:pod|capsule|tablet)s?", "weed killer", "antifreeze",
  "button batter(?:y|ies)", "white spirit", "paint thinner", "lighter fluid", "nail polish remover", "drain cleaner", "rat poison",
]);
