// Crisis lexicon, part 4 (pure data): compositional frames for abuse, harm to others and medical emergencies —
// a person and a danger, an act and its severity, an intent with its object in front, symptoms that add up.
// Same shape and context rules as the other parts; the word classes are in word-classes.ts.
import { GROUP } from "./lexicon-others.ts";
import { MEDS, PERSON, type CrisisPattern } from "./lexicon.ts";
import { HOUSEHOLD_TOXIC, WEAPON } from "./word-classes.ts";

const ABUSER = `(?:he|she|they|my ${PERSON}|our ${PERSON}|his ${PERSON}|her ${PERSON}|their ${PERSON}|${GROUP})`;
/** Someone the writer may not name: a touch by "someone at work" is still abuse. */
const ANYONE = `(?:${ABUSER.slice(3, -1)}|someone|somebody|a (?:guy|man|woman|boy|girl|coworker|colleague|teacher|stranger)|this (?:guy|man|woman|boy|girl))`;
const TARGET = `(?:him|her|them|my ${PERSON}s?|(?:his|her|their) ${PERSON}|people|someone|somebody|everyone|everybody|my (?:baby|kids?|children|son|daughter))`;
const INTENT = "(?:am going to|will|want to|plan to|am gonna|am planning to|intend to|need to|have to)";
const FICTION = /\b(?:game|level|mission|zombies?|video game|character|story|novel|script|film|movie|book|dream|nightmare|play|scene|dnd|campaign|boss fight)\b/;

/** A physical symptom: low alone, medium when two different ones are in one message (see crisis.ts). */
function symptom(id: string, hint: string | string[], re: RegExp): CrisisPattern {
  return {
    id: `fr.symptom_${id}`, category: "medical_emergency", level: "low", hint, subject: "fixed", re, joke: "none",
    benignSentence: /\b(?:crush|date|excit\w*|gig|concert|ride|rollercoaster|coffee|espresso|caffeine|workout|gym|run|running|sprint|hike|leg day|sauna|game|match|movie|trailer|horror|exam|interview|presentation|hangover|drunk|stood up too fast|spin class|spinning class|roller ?coaster|lol|haha\w*|pills|medication|side effects?|smiles?|smiled|smiling|in love|kiss\w*|snack|juice|candy|sweets|biscuits?|engaged|proposed|proposal|wedding|won|winning|lottery|promotion|got the job|so happy|stage|gig|perform\w*|audition|giving a speech|best man|nervous|nerves|on air|live tv)\b/,
  };
}

export const FRAME_PATTERNS_OTHERS: CrisisPattern[] = [
  // --- abuse: severity and danger make it high; touch with a sign it was unwanted is abuse ---
  {
    id: "fr.abuse_severe", category: "abuse", level: "high", hint: ["me", "my"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,3}?(?:choked|strangled|smothered|suffocated|beat|beaten|hit|kicked|punched|hurt|attacked|stomped on|throttled) me (?:[\\w']+ ){0,4}?(?:until|till|so (?:hard|badly|much)(?: that)?) (?:that )?i (?:passed out|blacked out|could not breathe|could not see|lost consciousness|was unconscious|bled|was bleeding|fainted|ended up in (?:hospital|the hospital|a and e|the er|emergency))|\\b${ABUSER} (?:[\\w']+ ){0,3}?(?:broke|fractured|dislocated|cracked) my (?:arm|ribs?|nose|jaw|wrist|fingers?|leg|collarbone|eye socket|skull|teeth|tooth)|\\b${ABUSER} (?:[\\w']+ ){0,2}?(?:put|sent|landed) me in (?:the )?(?:hospital|a and e|the er|intensive care)\\b`),
    benignSentence: /\b(?:game|match|wrestl\w*|sparring|boxing|karate|judo|football|rugby|hockey|accident\w*|by mistake|training|practice)\b/,
  },
  {
    id: "fr.abuse_armed", category: "abuse", level: "high", hint: "me", subject: "fixed", joke: "low", trivial: "low",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,8}?(?:going to|gonna|will|wants to|threatening to|threatened to|threatens to|swears|swore|promised|says (?:he|she|they) will|said (?:he|she|they) would) (?:[\\w']+ )?(?:kill|hurt|shoot|stab|beat|strangle|choke|murder) me\\b`),
    requires: new RegExp(`\\b(?:${WEAPON}|outside|at the door|hiding (?:in|from|under)|locked myself in|(?:smashing|kicking|banging|hammering|pounding|breaking)(?: on| down| in)? (?:the|my) (?:door|window)|banging on|breaking (?:in|down)|kicking (?:the door|in)|coming (?:back|home|for me|over)|on (?:his|her|their) way|in the house|downstairs|upstairs|found me)\\b`),
  },
  {
    id: "fr.abuse_threat_others", category: "abuse", level: "medium", hint: ["threat", "says", "said", "swore"], subject: "fixed", joke: "low", trivial: "none",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,2}?(?:threaten\\w*|says (?:he|she|they) will|said (?:he|she|they) would|swore (?:he|she|they) would) (?:to )?(?:kill|hurt|beat|take|burn|shoot) (?:us|the kids|my (?:kids|children|son|daughter|mom|dad|dog|cat|family|baby)|the (?:children|baby|dog|cat)|himself|herself|themselves)\\b`),
  },
  {
    id: "fr.harm_watch", category: "harm_to_others", level: "medium", hint: ["bleed", "suffer", "die", "beg", "scream", "over", "down"], subject: "fixed", joke: "low", trivial: "none",
    benignAfter: /^ (?:in|at|on) (?:the |a |this |our )?(?:quiz|game|race|match|debate|chess|tournament|league|leaderboard|vote|election|polls?|interview|pitch|sales|rankings|through)\b|^ through\b/, benignSentence: FICTION,
    re: new RegExp(`\\bi (?:[\\w']+ ){0,3}?(?:want|wanna|going|will|am gonna|would love|need|plan|planning) (?:to )?(?:see|watch|make) (?:him|her|them|my ${PERSON}|that \\w+|(?:every|each) (?:single )?one of (?:them|you)|all of them|them all|everyone|everybody|those (?:people|kids|guys|bastards)) (?:bleed|suffer|die|beg|scream)\\b`),
  },
  {
    id: "fr.harm_run_over", category: "harm_to_others", level: "medium", hint: ["over", "down"], subject: "fixed", joke: "low",
    re: new RegExp(`(?:\\bi (?:[\\w']+ ){0,3}?|^)(?:want|wanna|going|will|am gonna|plan|planning|am about) (?:to )?(?:run|knock|mow) (?:him|her|them|my ${PERSON}s?|that (?:guy|girl|man|woman|kid|bastard|prick|bully|idiot|driver|cyclist)|the (?:guy|man|woman|kid|bastard|prick|bully|idiot|driver|cyclist)) (?:over|down)\\b`),
    benignAfter: /^ (?:in|at|on) (?:the |a )?(?:game|race|quiz|mario kart|gta|match)\b|^ (?:the|my|a) (?:list|notes|plan|details|slides|agenda|schedule)\b/, benignSentence: FICTION,
  },
  {
    // A weapon got ready for a named person: "been sharpening a knife for my stepfather".
    id: "fr.weapon_for", category: "harm_to_others", level: "medium", hint: ["for", "on"], subject: "fixed", role: "means", joke: "low",
    re: new RegExp(`\\b(?:sharpen\\w*|bought|buying|got|getting|hid|hiding|keeping|carrying|loaded|loading|saved|saving) (?:a |the |my |his |dads |this )?(?:knife|knives|blade|gun|pistol|rifle|shotgun|bat|baseball bat|machete|axe|hammer|crowbar) (?:[\\w']+ )?(?:for|to use on) (?:him|her|them|my ${PERSON}s?|that \\w+|the (?:guy|man|bastard|prick|bully|bullies))\\b`),
    benignSentence: /\b(?:cook\w*|kitchen|chef|present|gift|birthday|christmas|camp\w*|fish\w*|hunt\w*|carv\w*|whittl\w*|wood|garden\w*|diy|game|cricket|baseball|softball|rounders|practice|training|team|sale)\b/,
  },
  {
    id: "fr.beat_up", category: "abuse", level: "medium", hint: "beat", subject: "fixed", joke: "low",
    // "hit me up" is a request to get in touch; "beat me up" never is.
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,4}?(?:beat|beats|beating|beaten) (?:(?:him|her|them|us|my [\\w']+) and )?me up\\b`),
    benignSentence: /\b(?:game|match|chess|race|fifa|tennis|cards|poker|score|video game|the level)\b/,
  },
  {
    id: "fr.abuse_armed_near", category: "abuse", level: "high", hint: ["outside", "door", "window", "house", "flat", "home", "room", "banging", "breaking", "following", "coming", "waiting", "school", "work", "garden", "driveway", "building"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,2}?(?:is|are|was|has been|keeps|kept|got|came|turned up|showed up|standing|sitting|waiting)(?: [\\w']+){0,2}? (?:outside|at (?:my|the|our) (?:door|window|house|flat|school|work)|in (?:my|the|our) (?:house|flat|home|garden|room|driveway|building)|banging on|breaking (?:in|down)|following me|coming (?:for|after) me|waiting for me)\\b`),
    requires: new RegExp(`\\b${WEAPON}\\b`),
    benignSentence: /\b(?:delivery|pizza|uber|taxi|courier|package|parcel|pick me up|picking me up|party|surprise|hunting|range|toy|nerf|water gun|cricket|baseball|softball|rounders|match|game|practice|training|nets|team|diy|shed|garden(?:ing)?|tools?)\b/,
  },
  {
    id: "fr.harm_fronted", category: "harm_to_others", level: "medium", hint: ["shoot", "stab", "kill", "murder", "hurt", "attack", "bomb", "poison"], subject: "fixed", joke: "low",
    // The object first: "a list of people at school I'm going to shoot", "everyone who laughed, I will hurt".
    re: new RegExp(`\\b(?:people|everyone|everybody|them all|all of them|students|kids|teachers|classmates|coworkers|colleagues|those (?:people|kids|guys)|names|list)(?: [\\w']+){0,4}? i ${INTENT} (?:shoot|stab|kill|murder|hurt|attack|bomb|poison)\\b`),
    benignSentence: FICTION,
  },
  {
    id: "fr.harm_intrusive", category: "harm_to_others", level: "medium", hint: ["imagin", "pictur", "fantas", "think", "thought", "urge", "dream", "images", "visions", "flashes"], subject: "fixed", joke: "low", trivial: "none",
    re: new RegExp(`\\b(?:imagining|imagine|picturing|picture|fantasi[sz]ing about|fantasi[sz]e about|thinking about|thoughts (?:of|about)|urges? to|dreaming about|can not stop thinking about|(?:images|visions|pictures|flashes) (?:of|in my head of))(?: [\\w']+)? (?:strangling|stabbing|killing|hurting|choking|shooting|poisoning|drowning|smothering|beating|pushing|throwing|strangle|stab|kill|hurt|choke|shoot|poison|drown|smother|beat|push|throw) ${TARGET}\\b`),
    benignSentence: FICTION,
  },
  {
    id: "fr.poison_other", category: "harm_to_others", level: "high", hint: ["in", "spik", "lac"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b(?:(?:put|putting|slip|slipping|mix|mixing|add|adding|pour|pouring)(?: [\\w']+){0,4}? (?:in|into) (?:his|her|their|my ${PERSON}s?) (?:food|drink|coffee|tea|dinner|meal|water|wine|lunch|medicine|juice|bottle)|(?:spike|spiked|spiking|lace|laced|lacing) (?:his|her|their|my ${PERSON}s?) (?:food|drink|coffee|tea|dinner|meal|water|wine|juice))\\b`),
    requires: /\b(?:poison|bleach|antifreeze|pills|drugs|cyanide|arsenic|something|xanax|roofies|sleeping pills|spik\w+|lac(?:e|ed|ing)|rat poison|weed killer)\b/,
  },
  {
    id: "fr.abuse_passive_third", category: "abuse", level: "medium", hint: ["beaten", "abused", "molested", "raped", "starved", "choked", "strangled", "assaulted"], subject: "fixed", joke: "low",
    // "my neighbours kid is being beaten": someone the writer knows, harmed by someone unnamed.
    re: new RegExp(`\\b(?:my ${PERSON}s?|our ${PERSON}s?|(?:he|she|they)|(?:the|a) (?:kid|child|boy|girl|baby|woman|lady|wife|mum|mom) (?:next door|upstairs|downstairs|across the (?:street|road|hall))) (?:is|are|was|were|has been|have been|keeps getting|kept getting|gets|is getting|is being|are being|was being) (?:being )?(?:beaten(?: up)?|abused|molested|raped|starved|choked|strangled|sexually assaulted|assaulted)\\b`),
    benignAfter: /^ (?:in|at|by) (?:the |a )?(?:game|match|final|race|chess|league|round|quiz|\d)/,
    benignSentence: /\b(?:game|match|final|score|league|cup|tournament|race|chess|election|vote|polls?|rivals?|opponents?|team|\d+ ?- ?\d+|film|movie|show|novel|book|story|character|episode|news|report\w*|police said)\b/,
  },
  {
    // Thrown, slammed or dragged: "my husband throws me against the wall when he has had a drink".
    id: "fr.abuse_thrown", category: "abuse", level: "medium", hint: "me", subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,3}?(?:throws?|threw|thrown|slams?|slammed|drags?|dragged|pins?|pinned|shoves?|shoved|pushes|pushed|kicks?|kicked|knocks?|knocked) me (?:[\\w']+ )?(?:against|into|down|across|onto|to the (?:floor|ground)|around|by (?:my|the) (?:hair|neck|throat|arm))\\b`),
    benignSentence: /\b(?:pool|lake|sea|river|water|snow|leaves|sand|ball pit|danc\w*|wrestl\w*|play\w*|tickl\w*|game|match|rugby|football|hockey|training|practice|trampoline|bouncy castle|mosh|concert|lol|haha\w*|the (?:bus|train|queue|crowd))\b/,
  },
  {
    // Hands round the neck: strangulation in plain words.
    id: "fr.abuse_neck", category: "abuse", level: "medium", hint: ["neck", "throat"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,3}?(?:put|puts|had|has|wrapped|wraps|got|gets|grabbed|grabs|squeezed|squeezes|pressed|presses) (?:his|her|their|both|a|the)? ?(?:hands?|arms?|fingers|belt|rope|cord|knee|forearm) (?:round|around|on|against|over) my (?:neck|throat)\\b`),
    benignSentence: /\b(?:hug\w*|cuddl\w*|necklace|scarf|massage|photo|picture|dance|danc\w*|wrestl\w*|judo|bjj|jiu jitsu|sparring)\b/,
  },
  {
    id: "fr.abuse_touch", category: "abuse", level: "medium", hint: ["touch", "grop", "feel", "felt", "rub", "kiss"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ANYONE} (?:[\\w']+ ){0,3}?(?:touch|touches|touched|touching|grope|gropes|groped|groping|feels me up|felt me up|rubs (?:himself |herself )?(?:on|against) me|kissed me|kisses me|makes me touch|made me touch)\\b`),
    requires: /\b(?:uncomfortable|inappropriate\w*|private|privates|where (?:i|he|she|they)|secret|do not like|did not like|did not want|do not want|without (?:asking|consent|permission|my)|at night|asleep|in my sleep|in ways|under my|down there|weird|creepy|scared|no one|nobody|not to tell|alone with|keeps|will not stop|do not know what to do|make (?:him|her|them) stop)\b/,
    benignSentence: /\b(?:touched me (?:deeply|so much|emotionally)|message|words|speech|letter|gesture|kindness|gift|card|song|film|movie|screen|touchscreen|base)\b/,
  },
  {
    id: "fr.abuse_made_me", category: "abuse", level: "medium", hint: ["made me", "makes me", "make me", "forced me", "forces me", "force me"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ANYONE} (?:[\\w']+ ){0,2}?(?:made|makes|make|forced|forces|force) me (?:to )?do (?:things|stuff|sexual things|things to (?:him|her|them)|something) (?:i did not want|i do not want|i did not like|to (?:him|her|them)|that (?:hurt|made me|i))`),
  },
  {
    id: "fr.stalking", category: "abuse", level: "medium", hint: ["follow", "stalk", "watch", "waiting", "turning up", "showing up", "tracking"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ANYONE} (?:[\\w']+ ){0,3}?(?:keeps|kept|has been|is|been|started|always) (?:[\\w']+ )?(?:stalking me|tracking me|following me (?:home|to (?:my|the) (?:car|house|flat|door|station)|after (?:work|school|class|the gym)|everywhere|at night|when i)|(?:waiting for|watching) me (?:outside|after|at night|when i|from)|(?:turning|showing) up at my (?:house|work|flat|door|school|job))\\b`),
    benignAfter: /^ (?:on|back)\b/, benignSentence: /\b(?:instagram|insta|twitter|tiktok|online|social media|youtube|twitch|stream|game|fans?|followers)\b/,
  },
  {
    id: "fr.grooming", category: "abuse", level: "medium", hint: ["secret", "tell", "delete"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ANYONE} (?:[\\w']+ ){0,6}?(?:tells|told|asks|asked|makes|made|wants|begs|begged) me (?:to )?(?:keep (?:it|this|them|us|our [\\w']+|everything|what happens) (?:a |our )?secret|not (?:to )?tell (?:anyone|my (?:mom|dad|parents|teacher))|delete (?:the|our|his|her) (?:messages|chats|texts|pictures|photos))\\b`),
    requires: /\b(?:pictures|photos|pics|touch\w*|body|naked|nudes|sexual|private|alone|older|special|relationship|kiss\w*|bed|his room|her room|his car|at night|late at night|messages me|messaging me|texts me|texting me|dms? me|snapchat|online|gifts?|presents?)\b/,
    benignSentence: /\b(?:surprise|party|present|birthday|proposal|christmas|engagement)\b/,
  },
  {
    id: "fr.arson", category: "harm_to_others", level: "medium", hint: ["burn", "torch", "fire", "bomb"], subject: "fixed", joke: "low", trivial: "none",
    re: new RegExp(`(?:\\bi (?:[\\w']+ ){0,3}?|^)(?:am going to|will|want to|plan to|am gonna|going to)(?: [\\w']+)? (?:burn|torch|set fire to|firebomb|petrol bomb) (?:down )?(?:his|her|their|my ${PERSON}s?|the|that|this) (?:[\\w']+ )?(?:house|flat|car|school|place|office|home|building|shop)\\b`),
    benignSentence: /\b(?:calories|fat|candle|incense|cd|dvd|playlist|toast|bridges|midnight oil)\b/,
  },
  {
    id: "fr.arson_person", category: "harm_to_others", level: "high", hint: ["burn", "torch", "fire", "bomb"], subject: "fixed", joke: "low", trivial: "none",
    re: new RegExp(`(?:\\bi (?:[\\w']+ ){0,3}?|^)(?:am going to|will|want to|plan to|am gonna|going to)(?: [\\w']+)? (?:burn|torch|set fire to|firebomb|petrol bomb) (?:down )?(?:his|her|their|my ${PERSON}s?|the|that|this) (?:[\\w']+ )?(?:house|flat|car|school|place|office|home|building|shop)(?: down)? (?:[\\w']+ ){0,2}?with (?:him|her|them|my ${PERSON}s?|everyone|everybody|people|the (?:family|kids)) (?:still )?(?:inside|in it|in there|in bed|asleep)\\b`),
    benignSentence: /\b(?:calories|fat|candle|incense|cd|dvd|playlist|toast|bridges|midnight oil|game|minecraft|sims|film|movie|novel|story|book|character|dream)\b/,
  },
  // --- medical: a person down, household poison swallowed, a child who swallowed something ---
  {
    id: "fr.child_ingest", category: "medical_emergency", level: "high", hint: ["swallow", "ate", "drank", "eaten", "got into", "chew", "lick", "took"], subject: "fixed", joke: "none",
    re: new RegExp(`\\b(?:my|the|our) (?:[\\w']+ )?(?:baby|toddler|son|daughter|little boy|little girl|kid|child|boy|girl|niece|nephew|grandson|granddaughter)(?: [\\w']+){0,2}? (?:swallowed|ate|drank|has eaten|got into|chewed|licked|took) (?:[\\w']+ ){0,4}?(?:${MEDS}|pills?|tablets?|capsules?|batter(?:y|ies)|bleach|cleaner|detergent|pods?|medicine|magnets?|poison|chemicals?)\\b`),
  },
  {
    id: "fr.collapse", category: "medical_emergency", level: "high", hint: ["floor", "ground", "pavement", "passed out", "collapsed"], subject: "fixed", joke: "none",
    re: /\b(?:he|she|they|my \w+|someone|a man|a woman|i) (?:[\w']+ ){0,3}?(?:is|was|has|am|just)(?: \w+)? (?:lying |fallen |collapsed |down )?(?:on the (?:floor|ground|pavement)|passed out|collapsed)(?: [\w']+){0,5}? (?:not moving|can not (?:talk|speak|move|breathe|get up|feel)|clutching|unresponsive|not breathing|shaking|fitting|bleeding|foaming|will not wake|blue)\b/,
    benignSentence: /\b(?:drunk|asleep|nap|sleeping|laughing|lol|haha\w*|tired|exhausted|yoga|stretch\w*|game|dog|cat|toddler tantrum|tantrum)\b/,
  },
  {
    id: "fr.household_poison", category: "medical_emergency", level: "high", hint: ["drank", "drink", "swallow", "ate", "eaten", "drunk", "ingest", "lick", "chew"], subject: "fixed", joke: "none",
    re: new RegExp(`\\b(?:drank|swallowed|swallowing|ate|has eaten|have eaten|has drunk|drunk|ingested|licked|chewed|drinking) (?:[\\w']+ ){0,6}?${HOUSEHOLD_TOXIC}\\b`),
    benignSentence: /\b(?:water|tap|glass of|cup of|coffee|tea|wine|juice|beer|soda|cola|milk|recipe|cocktail|tasted like)\b(?!.*\b(?:vomit\w*|throwing up|sick|unconscious|burn\w*|hospital|ambulance|poison control|111|999|911))/,
  },
  {
    id: "fr.meds_window", category: "medical_emergency", level: "high", hint: ["took", "taken", "swallowed", "popped", "necked", "downed"], subject: "fixed", joke: "none",
    // An ingestion with a number or an amount anywhere before the medicine: "took like 30 of my nans heart tablets".
    re: new RegExp(`\\b(?:took|taken|swallowed|popped|necked|downed) (?:[\\w']+ ){0,2}?(?:\\d{2,}|(?:ten|twelve|fifteen|twenty|thirty|forty|fifty|sixty|a hundred)|a (?:load|lot|bunch|handful|fistful|pile|ton|heap|whole (?:bottle|box|pack|packet|strip)) of|loads of|lots of|all (?:of )?(?:my|the|his|her)|too many|way too many|every|the rest of) (?:[\\w']+ ){0,4}?${MEDS}\\b`),
  },
  // --- physical symptoms that add up ---
  symptom("heart", "heart", /\bheart (?:is |keeps |will not stop |can not stop |has been |keeps on )?(?:racing|pounding|beating (?:so |really |very )?(?:fast|hard|weird|irregular\w*)|skipping beats|fluttering|going crazy)\b/),
  symptom("faint", ["pass out", "faint", "black out", "collapse", "throw up"], /\b(?:going to|about to|gonna|might|feel like i am going to|feel like i will) (?:pass out|faint|black out|collapse|throw up)\b/),
  symptom("dizzy", ["dizzy", "light", "spinning"], /\b(?:dizzy|lightheaded|light headed|room is spinning)\b/),
  symptom("numb", ["numb", "tingl", "weak"], /\b(?:arm|arms|face|hand|hands|leg|legs|left side|right side|lips|fingers) (?:is |are |feels? |went |has gone |have gone )?(?:numb|tingling|tingly|weak)\b/),
  symptom("vision", "vision", /\bvision (?:is |went |going )?(?:blurry|going|black|dark)\b/),
  symptom("faint_feel", "faint", /\b(?:feel|feels|feeling|felt) (?:so |really |very |a bit )?(?:faint|like fainting|like i might faint)\b/),
  symptom("skips", ["skip", "flutter", "palpitation"], /\bheart (?:keeps |is |has been |been )?(?:skips|skipping|skipped) (?:a )?beats?\b|\b(?:chest|heart) (?:flutters|fluttering|palpitations)\b|\bpalpitations\b/),
  symptom("fever", ["fever", "temperature"], /\b(?:(?:a )?(?:fever|temperature) of (?:39|40|41|42|10[2-6])|(?:very |really |super )?high (?:fever|temperature))\b/),
  symptom("rash", "rash", /\brash (?:that (?:does not|will not) fade|all over|spreading|is spreading)|\b(?:and|now|with) (?:a |there is a |there is )?(?:new |purple |spreading )?rash\b/),
  symptom("speech", ["speech", "words", "talking"], /\b(?:his|her|my|their) (?:speech|words|talking) (?:is |are |has been |have been |been |was |went |sounds? )?(?:all )?(?:wrong|strange|weird|jumbled|muddled|not making sense)\b/),
  symptom("disoriented", ["forget", "know where"], /\b(?:keeps|kept|is|has been|been|started) forgetting where (?:he|she|they|i) (?:is|are|am|was|were)\b|\b(?:does|do) not know where (?:he|she|they|i) (?:is|are|am)\b/),
  symptom("radiating", ["jaw", "left arm", "shoulder"], /\b(?:(?:my|his|her) )?(?:jaw|left arm|left shoulder) (?:hurts|is hurting|aches|is aching|is numb|feels (?:tight|heavy|numb|weird))\b|\bpain (?:in|down|going down) (?:my|his|her) (?:jaw|left arm)\b/),
  symptom("headache", "headache", /\b(?:crushing|splitting|blinding|thunderclap|sudden|worst|severe|excruciating|pounding) headache\b/),
  symptom("sugar", "sugar", /\b(?:blood )?sugars? (?:is |are |has been |been |levels? (?:are |is )?)?(?:really |very |so |super |way )?(?:high|low|through the roof|crashing|dropping|spiking|over \d+|under \d+)\b/),
  symptom("confused", "confus", /\b(?:feel|feels|feeling|felt|getting|seems?|seemed|is|am|was) (?:really |very |so |all )?confused(?= *(?:$|,|and (?:dizzy|shaky|sweaty|sleepy|weak|slurring)))/),
  symptom("shaking", "can not stop", /\bcan not stop (?:shaking|vomiting|throwing up|sweating)\b/),
];
