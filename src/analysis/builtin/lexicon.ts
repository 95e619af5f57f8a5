// The crisis lexicon's shared parts (pure data): version, pattern shape, word classes, context cues that lower a
// risk (negation, past, quotes, fiction, hyperbole) and escalators that raise one (plan, means, time).
// The patterns themselves live in lexicon-self.ts and lexicon-others.ts. Patterns run on normalizeText() output.
import { UNREACHABLE } from "./word-classes.ts";

/** Bump when a pattern or cue changes meaning, so stored analyses can be told apart ("builtin/1" stays the API). */
export const LEXICON_VERSION = 3;

export type CrisisCategory = "suicidal_ideation" | "self_harm" | "harm_to_others" | "abuse" | "medical_emergency";
export type PatternLevel = "low" | "medium" | "high";

export interface CrisisPattern {
  /** Stable id, used by tests and docs. */
  id: string;
  category: CrisisCategory;
  /** Level when the phrase is affirmed, about the writer (or as the pattern states) and present. */
  level: PatternLevel;
  /** A literal every match contains (or any of several): a cheap `includes` gate before the regex runs; "" = none. */
  hint: string | string[];
  /** Runs on one normalised sentence; must not be global. */
  re: RegExp;
  /**
   * Who is at risk. "first": the writer; "third": someone else (capped at medium unless escalated);
   * "fixed": the category decides (abuse, medical, threats); "auto" (default): the nearest subject before the match.
   */
  subject?: "first" | "third" | "fixed" | "auto";
  /** "negated": the phrase is a risk only when a negation or hedge is in scope ("do not want to live"). */
  polarity?: "negated";
  /** A benign reading: if this matches the text right after the match, the hit is dropped ("cut myself shaving"). */
  benignAfter?: RegExp;
  /** A benign reading anywhere in the sentence ("farewell email to the team"). */
  benignSentence?: RegExp;
  /**
   * A second part the sentence must also contain: a frame of two parts in any order ("he is going to kill me" with a
   * weapon or "outside" anywhere in the sentence).
   */
  requires?: RegExp;
  /** Level when the writer insists it is meant ("I mean it", "not joking"): a hypothetical threat becomes a stated one. */
  serious?: PatternLevel;
  /** Level when a joke marker ("lol", "jk", "(joking)", 😂) is in the message; unset = markers change nothing. */
  joke?: "none" | "low";
  /**
   * Level when the sentence names a trivial object or occasion (exam, traffic, pizza, late): "none" for idioms and
   * threats, "low" for death wishes, "unless-intent" = low unless the writer states an intent ("I want to...",
   * "I'm going to..."), so "kms this homework" is low and "I failed the exam and I want to kill myself" is not.
   */
  trivial?: "none" | "low" | "unless-intent";
  /** A completed act by someone else ("killed himself"): grief, rated low. */
  grief?: boolean;
  /** Also counts as an escalator for other hits in the message. */
  role?: "means" | "plan";
}

export interface Escalator {
  id: string;
  role: "means" | "plan" | "time";
  hint: string;
  re: RegExp;
  /** Only these categories are escalated by it (unset: every category). */
  only?: CrisisCategory[];
}

/** Medicines and drugs people overdose on (a word class shared by the pill patterns). */
export const MEDS =
  "(?:pills?|tablets?|medication|medications|medicine|sleeping pills|painkillers|paracetamol|tylenol|acetaminophen|ibuprofen|aspirin|xanax|insulin|antidepressants|benzos|opioids|oxy\\w*|codeine|co codamol|co-codamol|codamol|tramadol|morphine|methadone|lithium|sertraline|prozac|fluoxetine|citalopram|escitalopram|amitriptyline|nortriptyline|venlafaxine|mirtazapine|quetiapine|seroquel|olanzapine|pregabalin|gabapentin|propranolol|naproxen|nurofen|panadol|advil|benadryl|percocet|vicodin|adderall|diazepam|lorazepam|clonazepam|temazepam|alprazolam|valium|ambien|zopiclone|heroin|fentanyl)";

/** Literals one of which every MEDS word contains (the hint of a pattern built on MEDS). */
export const MEDS_HINTS = ["pill", "tablet", "medic", "painkiller", "paracetamol", "tylenol", "acetaminophen", "ibuprofen", "aspirin", "xanax", "insulin", "antidepressant", "benzo", "opioid", "oxy", "codeine", "codamol", "tramadol", "morphine", "methadone", "lithium", "sertraline", "prozac", "fluoxetine", "citalopram", "triptyline", "venlafaxine", "mirtazapine", "quetiapine", "seroquel", "olanzapine", "pregabalin", "gabapentin", "propranolol", "naproxen", "nurofen", "panadol", "advil", "benadryl", "percocet", "vicodin", "adderall", "zepam", "zolam", "valium", "ambien", "zopiclone", "heroin", "fentanyl"];

/** People a message may talk about (third parties, abusers, targets). */
// An optional owner first ("my moms boyfriend", "my sisters husband"): the person is still someone the writer knows.
export const PERSON =
  "(?:(?:little|big|older|younger|baby|twin|half|step|best|new|old|own|stupid|fucking|bloody|annoying|poor|dear) )?(?:(?:moms?|mums?|dads?|mothers?|fathers?|sisters?|brothers?|aunts?|uncles?|friends?|cousins?|grandmas?|grandpas?|neighbou?rs?|boyfriends?|girlfriends?|partners?|husbands?|wifes?|roommates?|coworkers?|bosses) )?(?:best friend|friend|sister|brother|mom|dad|mother|father|son|daughter|kid|child|cousin|aunt|uncle|partner|boyfriend|girlfriend|husband|wife|roommate|flatmate|housemate|colleague|coworker|classmate|student|client|neighbou?r|grandma|grandmother|grandpa|grandfather|nephew|niece|fiance|fiancee|ex|stepdad|stepmom|stepfather|stepmother|stepbrother|stepsister|stepparent|teammate|mate|buddy|bestie|bff|teacher|boss|manager|parents?|coach|carer|caregiver|guardian|foster (?:mom|dad|parent)|priest|pastor|tutor|babysitter|doctor|therapist|patient|pupil|mentee|employee)";

/** Someone the writer does not name ("a woman who...", "a girl in my class"). */
const STRANGER = "(?:a|an|this|that|the) (?:main |other |old |young |little |new )?(?:woman|man|guy|girl|boy|person|character|kid|teen|teenager|lady|dude|student|patient|user|member|soldier|hero|heroine|narrator|protagonist)";

/** An animal as the subject ("my cat keeps trying to jump off the balcony"): no person is at risk. */
const ANIMAL_NOUN = "(?:my|our|the|his|her|their) (?:[a-z]+ )?(?:cats?|dogs?|kittens?|pupp(?:y|ies)|pups?|pets?|birds?|parrots?|budgies?|hamsters?|rabbits?|bunn(?:y|ies)|guinea pigs?|ferrets?|horses?|pon(?:y|ies)|goldfish|lizards?|snakes?|tortoises?|squirrels?|goats?|chickens?|ducks?)";
// Only as a subject, followed by its verb: in "i fed my cat and want to die" the cat is an object.
const ANIMAL = `${ANIMAL_NOUN}(?= (?:keeps|kept|is|was|has|tried|tries|trying|wants|wanted|always|will|would|could|can|ran|jumped|jumps|climbed|climbs|got|gets|likes|loves)\\b)`;
export const ANIMAL_SUBJECT = new RegExp(`^${ANIMAL_NOUN}$`);

/** A subject pronoun or person phrase; the last one before a match decides who is at risk (object pronouns mislead). */
export const SUBJECT_RE = new RegExp(
  `\\b(?:i|me|we|he|she|they|you|your|someone|somebody|anyone|a ${PERSON}|${STRANGER}|my ${PERSON}s?|our ${PERSON}s?|${ANIMAL})\\b`,
  "g",
);
export const THIRD_PERSON_SUBJECT = new RegExp(`^(?:he|she|they|someone|somebody|anyone|a ${PERSON}|${STRANGER}|(?:my|our) ${PERSON}s?)$`);

/**
 * Negation cues, tested on the clause text before a match (at most ~8 words). A cue directly followed by a
 * hedge ("not sure", "can not stop") is not a negation; see HEDGE.
 */
export const NEGATION = /\b(?:not|never|no|no longer|nor|without|hardly|no intention of|no plans? to|no desire to|no urge to|no way i (?:would|will))\b/;
/** Hedges and double negatives: they do not negate a risk phrase, and they do count as negation of "want to live". */
export const HEDGE = /\b(?:(?:would be|am|i would be) lying if i (?:said|say)|lie if i said|not (?:going to |gonna )?lie|no lie|not to be dramatic|not being dramatic|not (?:joking|kidding|exaggerating)|not even (?:joking|kidding)|no joke|not (?:sure|certain|convinced)|do not know (?:if|whether|why|how)|do not even know|can not stop|could not stop|never stop|not stop|can not help|trying not to|try not to|trying hard not to|struggling not to|hard not to|why would i|why should i|why do i (?:even|still)|why bother)\b/;
/** Words that end a negation's scope inside a sentence (a comma or a new clause). */
export const CLAUSE_BREAK = /,|:|\b(?:but|and|though|although|yet|because|so|except|however|then|anymore|any longer)\b/g;

/** Someone asked the writer about a risk ("my therapist asked if i had thought about killing myself"): a question, not a disclosure. */
export const ASKED_CUE = /\b(?:asked|asks|ask|asking|wondered|wonders|checked) (?:me )?(?:if|whether)\b/;

/** Past or long-ago statements about the writer: a risk in a sentence with one of these is rated low. */
export const PAST =
  /\b(?:used to|years ago|(?:a|one|\d+|two|three|four|five|ten|few|several|many|couple of) (?:years?|decades?) ago|(?:a|one|\d+|two|three|few|several|many|couple of) months ago|when i was (?:younger|a kid|a child|a teen|a teenager|little|young|small|in (?:high |middle |secondary |primary )?school|at (?:uni|university|college|school)|\d+)|as a (?:kid|child|teen|teenager)|in the past|back (?:then|in (?:school|high school|college|uni|the day|\d{4}))|a long time ago|long ago|growing up|in my teens|in my twenties|last year|in \d{4})\b/;
/** Recovery statements: with one of these the writer's other past-like hits are rated low. */
export const RECOVERY =
  /\b(?:(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a) (?:days?|weeks?|months?|years?) (?:clean|free|sober)(?: from (?:self harm|self harming|cutting|sh|drinking|drugs|alcohol))?(?: today| now| as of today)?|(?:clean|free|sober) (?:for|since|from)|have not (?:cut|self harmed|harmed myself|hurt myself|relapsed|done it|felt that way|thought about it) (?:in|for|since)|(?:doing|feeling|am) (?:much |a lot |so much |way )?(?:better|well|good|great|okay|ok|fine) now|recovered|in recovery|recovering|got help|therapy (?:has )?helped|stopped (?:cutting|self harming|hurting myself|harming myself)|made it through|survivor|(?:in )?a (?:much |way |so much |far )?better (?:place|headspace|space) now|(?:doing|feeling) (?:much |a lot )?better these days|glad i (?:survived|am still here|made it|did not))\b/;
/** Words that say a hit is recent, so a recovery statement elsewhere does not lower it. */
export const RECENT = /\b(?:now|today|tonight|again|last night|this morning|yesterday|this week|relapsed|just)\b/;

/** Lyric or quotation cues: a first-person phrase quoted from media is rated low. */
export const QUOTE_CUE = /\b(?:song|lyrics?|sings?|sang|singing|chorus|verse|album|track|rapper|singer|band|poem|quote|quoting|quoted|line from|the line|that line|this line|musical|opera|monologue|meme|title|caption|goes like|the words)\b/;
/** Fiction and media: someone else's act inside a story is not a risk at all. */
export const FICTION_CUE =
  /\b(?:character|protagonist|villain|hero|heroine|novel|book|film|movie|show|series|episode|season|story|plot|scene|anime|manga|the game|video game|documentary|play|fiction|fanfic|script|actor|actress|trailer)\b/;
/** "jk but not really": the writer takes the joke back, so joke markers do not lower the risk. */
export const SERIOUS = /\b(?:(?:he|she|they) (?:is|are|was|were|seems?|seemed|sounds?|sounded) (?:really |dead )?serious|(?:he|she|they) (?:means?|meant) it|not (?:joking|kidding)|but not(?: really)?(?= *(?:$|,|i ))|but seriously|i am serious|i mean it|for real|no joke|not a joke|not even joking)\b/;
/** "keeps joking about suicide": the joke is what is reported, not a marker that the writer is joking. */
export const JOKE_ABOUT = /\b(?:jok\w*|kidding|kids) (?:around )?about\b/g;
/** Saying the harm was meant: accident and idiom readings ("with the iron", "at the gym") no longer apply. */
export const PURPOSE = /\b(?:on purpose|deliberately|intentionally|to feel (?:something|pain|anything|better|real)|to punish myself|so it would hurt|to see (?:if|how much) it (?:would )?hurts?)\b/;
/** Hyperbole and joke markers. */
export const HYPERBOLE = /\b(?:lol|lmao|lmfao|rofl|haha\w*|hehe\w*|jk|just kidding|kidding|joking|jokingly|jokes|only joking|xd)\b|\/s\b|😂|🤣|😆|😅|😹|💀|😜|😝|🙃/u;
/** Trivial objects and occasions that make a threat or death phrase hyperbole. */
export const TRIVIAL =
  /\b(?:late|eats?|ate|eating|spoil\w*|spoilers?|forget\w*|forgot|lunch|snacks?|food|pizza|burger|tacos?|coffee|beer|cake|chocolate|the last slice|remote|charger|parking spot|code|commits?|pushe[sd]|merge\w*|deploy\w*|build|tests?|meetings?|standup|emails?|slides|spreadsheet|game|match|score|penalt(?:y|ies)|playoffs?|(?:lost|won|losing|winning|watching|in) the (?:cup )?(?:semi )?finals?|exams?|homework|assignments?|essays?|traffic|monday|mondays|dishes|laundry|snor\w*|music|noise|cancel\w*|reschedul\w*|typo|bug|jira|ticket|quota|(?:the|that|this) ending|finale|episode|grades|report card|the car|my car|dent|mess|curfew|embarrass\w*|boredom|bored|laugh\w*|hilarious|funny|cringe|cute|cuteness|hunger|heat|leg day|gym|workout|wifi|internet|printer|laptop|computer|server|jenkins|pipeline|vpn|zoom|slack|outlook|excel|powerpoint|spreadsheets?|tabs|jacket|shoes|clothes)\b/;

/** Escalators: with an affirmed ideation in the same message, any of these makes the risk high. */
export const ESCALATORS: Escalator[] = [
  { id: "means.pills", role: "means", hint: "", re: new RegExp(`\\b(?:${MEDS}|overdose)\\b`) },
  { id: "means.ligature", role: "means", hint: "", re: /\b(?:ropes?|nooses?|ligatures?)\b/ },
  { id: "means.weapon", role: "means", hint: "", re: /\b(?:guns?|pistols?|handguns?|revolvers?|shotguns?|rifles?|firearms?|bullets?|knife|knifes|knives|blades?|razors?)\b/ },
  { id: "means.place", role: "means", hint: "", re: /\b(?:bridge|rooftop|roof|ledge|cliff|balcony|train tracks|railway|tracks|top floor|car park|parking garage)\b/ },
  { id: "means.other", role: "means", hint: "", re: /\b(?:bleach|poison|antifreeze|carbon monoxide|exhaust|charcoal|gas oven|drown|helium|nitrogen|exit bag)\b/ },
  { id: "plan.plan", role: "plan", hint: "plan", re: /\b(?:i (?:have|have got|got|made|am making|came up with|worked out) (?:a|the|my) plan|planned (?:it|how|when|everything|out)|planning (?:it|how|when)|(?:the|my) plan is (?:set|ready|in place|made|final|sorted|simple|done)|(?:have|got) it (?:all )?planned)\b/ },
  { id: "plan.method", role: "plan", hint: "", re: /\b(?:know (?:exactly )?(?:how|when|where) (?:i will|i am going to|i would|to) do it|decided (?:how|when|where)|decided (?:it|that it) (?:will|would|is going to) be|set a date|picked a date|chose a date|how i am going to do it|i have (?:decided|made up my mind|made my decision)(?= *$)|my mind is made up)\b/ },
  { id: "plan.goodbye", role: "plan", hint: "", re: /\b(?:goodbye (?:letters?|notes?|messages?)|suicide (?:letters?|notes?)|said (?:my )?goodbyes?|saying (?:my )?goodbyes?|gave away (?:all )?(?:my|most of my)|giving away (?:all )?(?:my|most of my)|(?:wrote|written|updated|made|making|finished|sorted) (?:out )?(?:my|a) will|affairs in order|last (?:message|post|goodbye)|this is goodbye|goodbye forever|tonight is the night|today is the day)\b/ },
  { id: "means.everything", role: "means", hint: "", re: /\b(?:take|taking|swallow|swallowing|down|downing|neck|necking|took|swallowed) (?:everything|every (?:pill|tablet|capsule|single one)|all of (?:them|it)|them all|the (?:whole|entire) (?:bottle|box|pack|packet|strip|lot|cabinet|drawer))\b/, only: ["suicidal_ideation", "self_harm"] },
  // At a height and looking down: with an affirmed sign of ideation, that is an emergency.
  { id: "means.height_now", role: "means", hint: "", re: /\b(?:looking down|(?:it is|its) (?:really |so |very )?(?:high|far down|a long way down)|the water (?:below|looks)|one step|(?:no one|nobody) is (?:up )?(?:here|around)|(?:all )?alone up here)\b/, only: ["suicidal_ideation", "self_harm"] },
  // An abuse disclosure with an urgent plea ("he locked me in, please help"): the danger is now.
  { id: "time.plea", role: "time", hint: "", re: /\b(?:please help(?: me)?|help me please|someone help(?: me)?|send help|call the (?:police|cops)|call (?:911|999|112) for me)\b/, only: ["abuse"] },
  // Not coming back from where they are: "not getting out of the car this time".
  { id: "plan.no_return", role: "plan", hint: "", re: /\b(?:not (?:coming|going|getting) (?:back|home|down|out)(?: of the car| of here)? this time|this time (?:i will|i am going to|for real|it is for real|i mean it)|(?:i will not|i am not going to) (?:come|go|get) (?:back|home|down) (?:again|this time|from (?:here|this)))\b/, only: ["suicidal_ideation", "self_harm"] },
  // Someone at risk who cannot be reached: with their warning sign, that is an emergency.
  { id: "time.unreachable", role: "time", hint: "", re: UNREACHABLE, only: ["suicidal_ideation", "self_harm"] },
  { id: "time.soon", role: "time", hint: "", re: /\b(?:tonight|today|tomorrow|this weekend|this evening|this afternoon|right now|in (?:a|an|\d+|a few|two|three) (?:hours?|minutes?|days?)|(?:on|this|next|by|after|before) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|my birthday)|(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday) (?:morning|night|evening|afternoon)|before (?:anyone|everyone|they|my parents|my family|the house|the kids|he|she) (?:wakes|wake|gets|get|is|are) (?:up|awake|home|back)|next week|on the \d+(?:st|nd|rd|th)?|(?:when|while|once) (?:everyone|they|my parents|my family|the house|he|she) (?:is|are|has|have|goes|go)(?: \w+)? (?:asleep|gone|away|out|to bed|inside|in there|in bed|home alone)|after (?:work|school|the funeral|christmas|the kids|my shift|the shift|my exams?|the party)|before (?:morning|dawn|christmas|the weekend)|by (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|the weekend|morning|tonight)|soon|this is my last|at midnight|at (?:\d{1,2}(?::\d\d)?|noon) ?(?:am|pm|tonight|today|tomorrow))\b/ },
];

/** What the moderator should do, graded by level (one sentence each, plus a category-specific tail for high). */
export const ACTIONS = {
  none: "No action needed.",
  low: "Monitor: note the message and watch the conversation for further signs; no immediate action is needed.",
  medium: "Reach out soon: check in with the person privately, ask directly how they are and whether they are safe, and have crisis resources ready.",
  high: "Act now: contact the person directly, share crisis resources (a crisis line or the local emergency number), and escalate to the person on call.",
} as const;

/** Extra words for a high risk, by category (why the high action differs). */
export const HIGH_ACTION_TAIL: Partial<Record<CrisisCategory, string>> = {
  medical_emergency: " If they may be in immediate physical danger, tell them to call emergency services now.",
  harm_to_others: " If someone may be in immediate danger, contact emergency services.",
  abuse: " If they are in danger now, help them reach emergency services or a safe place.",
};
