// Crisis lexicon, part 3 (pure data): compositional frames. Each frame combines word classes (word-classes.ts) —
// a desire and a death state, a preparation and a means, a farewell, a person and a danger — within a bounded window,
// so new wordings of the same idea are caught without listing sentences. They run through the same context rules.
import { ACCIDENT_AFTER, ACCIDENT_SENTENCE } from "./lexicon-self.ts";
import { MEDS, MEDS_HINTS, PERSON, type CrisisPattern } from "./lexicon.ts";
import { alt, DEATH_STATE, DESIRE, GAP, HEIGHT_PLACE, LETHAL_SELF_VERB, PREPARE, verbs, WEAPON } from "./word-classes.ts";

const ABUSER = `(?:he|she|they|my ${PERSON}|his ${PERSON}|her ${PERSON}|their ${PERSON})`;
const BODY = "(?:arms?|wrists?|legs?|thighs?|skin|stomach|hips?|ankles?|forearms?|body|chest|hands?)";
const DEATH_HINTS = ["die", "dead", "death", "exist", "here", "around", "alive", "gone", "disappear", "vanish", "fade", "wak", "sleep", "breath", "six feet", "grave", "coffin", "peace", "world", "earth", "tomorrow", "life", "misery"];
/** Hyperbole with a death word ("dying of embarrassment", "die on this hill", "dying my hair"). */
const DEATH_IDIOM_AFTER = /^ (?:(?:of|from|with) (?:laugh\w*|embarrass\w*|boredom|shame|cuteness|curiosity|happiness|joy|excitement|hunger|thirst|heat|the heat|cringe)|laughing|on (?:that|this|a) hill|(?:my|her|his) hair|to (?:see|meet|know|try|hear|go|get)|for (?:a|an|the|some|this|that) |a little|inside|metal)/;
const DEATH_IDIOM_SENTENCE = /\b(?:battery|phone|laptop|server|plant|character|film|movie|show|book|novel|hair dye|dye|series|episode|trend|meme|build|app)\b/;
/** Farewells that are about a job, a trip or a channel, not a life. */
const LEAVING = /\b(?:holiday|vacation|leave|pto|trip|flight|offline|signing off|logging off|moving|move|new job|last day|retir\w*|wifi|signal|battery|boarding|camp|festival|detox|break|hiatus|sabbatical|exam|gift|present|surprise|party|team|company|office|project|sprint|season|series|show|game|book|chapter|contract|subscription|lease|job|school|term|semester|course|class|colleagues|coworkers|customers|clients|newsletter|blog|channel|server|stream|tour|band|gig|graduat\w*|abroad|weekend|back on|back in|return\w*)\b/;
const NOT_FIREARM = /\b(?:hunt\w*|range|clean\w*|safe|licen[cs]e\w*|target|airsoft|paintball|nerf|water gun|glue gun|staple gun|heat gun|nail gun|toy|game|video|movie|film|squirt|spray|camera|photo\w*|paint\w*|lesson|instructor|course|deer|duck|clay|pigeons?)\b/;
const VIEWPOINT = /\b(?:view|sunset|sunrise|photo\w*|picture|selfie|hik\w*|picnic|fishing|beer|drinks?|watching|stars|fireworks|smok\w*|lunch|coffee|tea|roofer|roofing|repair\w*|gutters?|fix\w*|work|job|shift|contractor|scaffold\w*|paint\w*|tourist|trip|holiday|vacation|concert|festival|party|wedding|swim\w*|dive|diving|model|lego|minecraft|game|seat)\b/;
/** A medicine or medicine cupboard in the sentence. */
const MED_CONTEXT = new RegExp(`\\b(?:${MEDS}|medicine|cabinet|capsules?|doses?)\\b`);
const NOT_MED_AFTER = new RegExp(`^ (?:to|with|home|out|off|back|into|away|down|up|apart|in|for|personally|seriously|of (?!(?:my |the |his |her )?(?:${MEDS}|capsules)))\\b`);

/** A physical symptom: low alone, medium when two different ones are in one message (see crisis.ts). */
function symptom(id: string, hint: string | string[], re: RegExp): CrisisPattern {
  return {
    id: `fr.symptom_${id}`, category: "medical_emergency", level: "low", hint, subject: "fixed", re, joke: "none",
    benignSentence: /\b(?:crush|date|excit\w*|gig|concert|ride|rollercoaster|coffee|espresso|caffeine|workout|gym|run|running|sprint|hike|leg day|sauna|game|match|movie|trailer|horror|exam|interview|presentation|hangover|drunk|stood up too fast|spin class|spinning class|roller ?coaster|lol|haha\w*)\b/,
  };
}

export const FRAME_PATTERNS: CrisisPattern[] = [
  // --- the writer's own death: a lethal verb with "myself", a desire with a death state, indifference to dying ---
  {
    id: "fr.self_lethal", category: "suicidal_ideation", level: "high", hint: "myself", subject: "first", joke: "low", trivial: "unless-intent",
    // "off myself" only as a verb of its own: "kick off myself", "sign off myself" are other verbs' particles.
    re: new RegExp(`(?<!\\b(?:kick|kicked|sign|signed|log|logged|show|showed|back|backed|pay|paid|set|take|took|turn|turned|switch|drop|head|nod|doze|ward|fend|send|tick|cross|write|round|finish|cool|clock|knock|shake|brush|dust|laugh|cast|push|tip|wear|lay|lift|cut|rip|rub|tee|tell|palm|piss|pissed|bounce|cheer|spur|fob|seal|wall|call|dropped|headed|cooled|tipped|top|topped) )\\b${LETHAL_SELF_VERB} myself\\b`),
    benignAfter: /^ (?:up|in the (?:foot|leg)|out to dry|laughing|with laughter|at (?:the gym|work)|working|trying to|to (?:finish|get|meet|make|keep|learn|study|hit)|over (?:this|that|the|a|my|it)|for (?:this|that|the|a|my) |from (?:the|this|that|a|my|our) |off (?:the|this|that|a) )/,
  },
  {
    id: "fr.self_lethal_third", category: "suicidal_ideation", level: "medium", hint: ["himself", "herself", "themselves", "themself"], subject: "third", joke: "low",
    // Present and future forms only: "offed himself" is a completed act (grief), not a person at risk now.
    re: new RegExp(`\\b${alt(["kill", "kills", "killing", "off", "offing", "end", "ending", "hang", "hanging", "overdose", "overdosing", "shoot", "shooting", "drown", "drowning", "poison", "poisoning", "top", "topping", "murder", "murdering"])} (?:himself|herself|themselves|themself)\\b`),
    benignAfter: /^ (?:up|in the (?:foot|leg)|laughing|at (?:the gym|work)|working|trying to|over|with (?:work|junk|sugar|coffee)|from (?:the|this|that|a|my|our) |off (?:the|this|that|a) |out to dry)/,
  },
  {
    id: "fr.end_it_all", category: "suicidal_ideation", level: "high", hint: "end", subject: "first", joke: "low", trivial: "unless-intent",
    re: /\b(?:end|ending|ended) (?:it all|my (?:own )?existence|everything for good|everything once and for all|things for good|things once and for all|this life|my suffering for good)\b/,
    benignSentence: /\b(?:with (?:him|her|them|my (?:boyfriend|girlfriend|partner|husband|wife|ex))|relationship|marriage|contract|deal|sprint|lease|subscription|series|season|game|story|chapter|argument|fight|war|feud)\b/,
  },
  {
    id: "fr.desire_death", category: "suicidal_ideation", level: "medium", hint: DEATH_HINTS, joke: "low", trivial: "low",
    re: new RegExp(`\\b${DESIRE} ${GAP}{0,4}?(?:${DEATH_STATE}|dead|gone(?= *(?:$|,|forever|for good|permanently|already|and never|from this)))\\b`),
    benignAfter: DEATH_IDIOM_AFTER, benignSentence: DEATH_IDIOM_SENTENCE,
  },
  {
    id: "fr.indifferent_death", category: "suicidal_ideation", level: "medium", hint: ["if", "when", "whether"], subject: "first", joke: "low", trivial: "low",
    re: /\b(?:(?:would not|would|do not|does not|will not|could not) (?:mind|care|be (?:sad|upset|bothered|sorry|scared))|(?:would|will) (?:be )?(?:fine|okay|ok|relieved|happy|glad|grateful|thankful|at peace)) (?:if|when|whether) (?:i (?:[\w']+ ){0,2}?(?:die|died|was dead|were dead|dropped dead|did not wake up|never woke up|do not wake up|stopped breathing|was gone|were gone|disappeared|got hit|got run over|got killed|crashed)|(?:a|an|the|some) (?:[\w']+ )?(?:bus|car|truck|lorry|train|plane|meteor|asteroid|bullet|drunk driver|shark|lightning|tornado|illness|disease|cancer|virus|stranger) (?:[\w']+ ){0,2}?(?:hit|hits|killed|kills|ran over|runs over|run over|took|takes|struck|strikes) me)\b/,
  },
  {
    id: "fr.hope_hit", category: "suicidal_ideation", level: "medium", hint: ["hop", "wish", "pray"], subject: "first", joke: "low", trivial: "low",
    re: /\b(?:hope|hoping|wish|wishing|pray|praying) (?:that )?(?:a|an|the|some) (?:[\w']+ ){0,2}?(?:bus|car|truck|lorry|train|plane|meteor|asteroid|bullet|drunk driver|shark|lightning|tornado|cancer|illness|virus) (?:[\w']+ ){0,2}?(?:hits|kills|runs over|takes|crashes into|strikes|finishes) me\b/,
  },
  {
    id: "fr.no_future", category: "suicidal_ideation", level: "medium", hint: "future", subject: "first", joke: "low", trivial: "low",
    re: /\b(?:(?:do not|can not|no longer|never|could not) (?:see|imagine|picture) (?:a|any|my) (?:[\w']+ )?future(?: for (?:me|myself))?|i (?:have|got) no future|there is no future for me|my future is (?:hopeless|gone|over|dead|empty|black|pointless|nothing))\b/,
    benignAfter: /^ (?:with|in (?:this|that|the|a)|for (?:this|the|that|our|us|him|her|them|it)|at|here)\b/,
    benignSentence: /\b(?:job|company|role|team|product|project|deal|relationship|crypto|market|startup|band|show|series|industry|town|country)\b/,
  },
  {
    id: "fr.give_up_life", category: "suicidal_ideation", level: "medium", hint: "up on", subject: "first", joke: "low", trivial: "low",
    re: /\b(?:give|giving|gave|given) up on (?:life|living|being alive|staying alive|everything and everyone)\b/,
  },
  // --- means: preparing a lethal means, being at a height, taking everything ---
  {
    id: "fr.noose", category: "suicidal_ideation", level: "high", hint: ["noose", "ligature"], role: "means", joke: "low",
    re: new RegExp(`\\b${PREPARE} (?:[\\w']+ ){0,3}?(?:noose|ligature)s?\\b|\\bnooses? (?:is |are )?(?:ready|set up|up|hanging|tied|in my|on my|from)\\b`),
    benignSentence: /\b(?:halloween|costume|decoration|film|movie|history|museum|hangman|game|knots?|scouts|sailing|lasso|cowboy|western|book|novel|story|lynch\w*|racis\w*|symbol|exhibit)\b/,
  },
  {
    id: "fr.gun_ready", category: "suicidal_ideation", level: "high", hint: ["gun", "pistol", "revolver", "shotgun", "rifle", "firearm", "barrel", "muzzle"], subject: "first", role: "means", joke: "low",
    re: /\b(?:(?:loaded|cocked|am holding|took the safety off|unlocked|took out|got out|pulled out) (?:[\w']+ ){0,3}?(?:gun|pistol|revolver|handgun|shotgun|rifle|firearm)|(?:gun|pistol|revolver|barrel|muzzle) (?:is )?(?:to|against|in|at) my (?:head|mouth|temple|chest|chin))\b/,
    benignSentence: NOT_FIREARM,
  },
  {
    id: "fr.edge", category: "suicidal_ideation", level: "medium", hint: ["edge", "ledge", "railing", "rail", "side", "top", "parapet", "brink", "tracks"], role: "means", joke: "low",
    re: new RegExp(`\\b(?:(?:standing|sitting|stood|sat|perched|balancing|climbing|climbed|leaning|am) (?:[\\w']+ ){0,2}?(?:on|over|at|off) (?:the |a |this |that )?(?:edge|ledge|railing|rail|side|top|parapet|brink)s? (?:of|on) (?:the |a |this |that |my )?(?:[\\w']+ )?${HEIGHT_PLACE}|(?:standing|sitting|stood|sat|lying|lay|laying|waiting|am) (?:[\\w']+ ){0,2}?on (?:the |a )?(?:railway (?:tracks|line)|train tracks|tracks|rails|bridge railing|ledge|roof edge))\\b`),
    benignSentence: VIEWPOINT,
  },
  {
    id: "fr.take_everything", category: "suicidal_ideation", level: "medium", hint: ["take", "taking", "swallow", "down", "neck"], subject: "first", role: "means", joke: "low",
    re: /\b(?:take|taking|swallow|swallowing|down|downing|neck|necking) (?:everything|every (?:pill|tablet|capsule|single one|last one)|all of (?:them|it)|them all|the (?:whole|entire) (?:lot|bottle|box|pack|packet|strip|cabinet|drawer|cupboard)|whatever (?:is|i can find) in the (?:cabinet|cupboard|drawer))\b/,
    benignAfter: NOT_MED_AFTER,
    benignSentence: /\b(?:bags?|luggage|boxes|suitcase|notes|class|course|photos|pictures|advice|feedback|exam|test|kids|dog|car|stairs|bus|train|job|offer|deal|points|credit|blame|chance|risk|stage|lead|questions|calls?|orders?)\b/,
  },
  {
    id: "fr.took_everything", category: "medical_emergency", level: "high", hint: ["took", "taken", "swallowed", "downed", "necked", "ate"], subject: "fixed",
    re: /\b(?:took|taken|swallowed|downed|necked|ate) (?:everything|every (?:pill|tablet|capsule|single one)|all of (?:them|it)|them all|the (?:whole|entire) (?:lot|bottle|box|pack|packet|strip))\b/,
    requires: MED_CONTEXT, benignAfter: NOT_MED_AFTER,
  },
  // --- finality: a farewell that says it is the last, affairs being settled ---
  {
    id: "fr.final_message", category: "suicidal_ideation", level: "high", hint: ["last", "final", "never", "not", "time"], subject: "first", role: "plan", joke: "low",
    re: /\b(?:(?:this|that|it) (?:is|will be) (?:the|my) (?:last|final) (?:message|text|post|thing|words?) (?:you|anyone|anybody|any of you|you all|people) (?:will |are going to |is going to )?(?:get|see|read|hear|receive) (?:from|of) me|(?:you|anyone|any of you|nobody|no one) (?:will|are going to|is going to|is ever going to) (?:never |not |ever )?(?:hear from|see|hear of) me (?:again|ever again|after (?:tonight|today|this))|by the time (?:you|anyone|someone|somebody) (?:read|reads|see|sees|get|gets|find|finds) this,? i (?:will|would|am|might) (?:be|have|already)|(?:these are|this is) my (?:last|final) words)\b/,
    benignSentence: LEAVING,
  },
  {
    id: "fr.settling", category: "suicidal_ideation", level: "medium", hint: ["peace", "goodbye", "gone", "not here", "dead", "over", "burden", "problem", "worry", "end"], subject: "first", role: "plan", joke: "low",
    re: /\b(?:(?:made|make|making|have made) (?:my )?peace(?: with (?:it|everything|dying|death|god|my decision|leaving|the end|this))?(?= *(?:$|,|and|i |now|tonight|today|finally|at last))|(?:said|saying|say) (?:all )?my goodbyes|(?:look after|take care of|feed|walk|keep) my (?:cat|dog|pets?|kids|children|plants|fish|hamster|rabbit) (?:for me )?(?:when|after|once) i am (?:gone|not here|dead|not around)|it will (?:all )?be over (?:soon|tonight|tomorrow|by|before|for me)|(?:will not|am not going to|will no longer) be (?:a|your|anyones|everyones) (?:problem|burden|worry) (?:much longer|for long|anymore|after (?:tonight|today)|soon)|(?:tonight|today|this) is the end (?:for me|of me|of the road for me))\b/,
    benignSentence: LEAVING,
  },
  {
    id: "fr.wont_need", category: "suicidal_ideation", level: "low", hint: "need", subject: "first", role: "plan", joke: "none", trivial: "none",
    re: /\b(?:will not|do not|would not|am not going to|no longer|will never) need (?:it|them|any of (?:it|this|them)|my (?:[\w']+ )?(?:things|stuff|belongings|money|clothes|car|phone|savings|room|medication)) (?:anymore|any longer|where i am going|after (?:tonight|today|tomorrow|this week|friday|the weekend))\b/,
    benignSentence: LEAVING,
  },
  // --- someone else at risk: their farewell or their hidden means ---
  {
    id: "fr.third_farewell", category: "suicidal_ideation", level: "medium", hint: ["goodbye", "farewell", "note", "message"], subject: "third",
    re: new RegExp(`\\b(?:he|she|they|my ${PERSON}) (?:[\\w']+ ){0,2}?(?:posted|sent|texted|wrote|left|messaged|shared|put up|uploaded|is posting|has posted|has sent) (?:[\\w']+ ){0,4}?(?:goodbye|goodbyes|farewell|suicide note|final message|last message|note saying (?:goodbye|sorry))\\b`),
    benignSentence: LEAVING,
  },
  {
    id: "fr.third_means", category: "suicidal_ideation", level: "medium", hint: [...MEDS_HINTS, "blade", "razor", "rope", "noose", "gun", "bullet"], subject: "third", role: "means",
    re: new RegExp(`\\b(?:(?:he|she|they|my ${PERSON}) (?:[\\w']+ ){0,2}?(?:has|have|had|is|keeps|kept|been|was) (?:[\\w']+ ){0,2}?(?:hiding|hidden|stockpiling|saving|hoarding|stashing|collecting|counting) (?:up )?(?:[\\w']+ ){0,2}?(?:${MEDS}|blades|razors|razor blades|a rope|rope|a noose|a gun|bullets)|(?:${MEDS}|blades|razors|razor blades|rope|a noose|gun) (?:[\\w']+ )?(?:hidden|stashed|saved up|hoarded) (?:in|under|behind|inside) (?:his|her|their))\\b`),
  },
  // --- self-harm with a tool or on the body, in any word order the clause allows ---
  {
    id: "fr.sh_tool", category: "self_harm", level: "high", hint: "my", subject: "first", joke: "low",
    re: new RegExp(`\\b(?:${verbs("use")}|took|grabbed|got|pressed|held) (?:a |the |my |some )?(?:razor|blade|razor blade|lighter|knife|scissors|compass|broken glass|glass|pencil sharpener|sharpener|lit cigarette|cigarette|hot iron|hot spoon) (?:on|to|against|into|across) (?:myself|my ${BODY})\\b`),
    benignAfter: ACCIDENT_AFTER, benignSentence: ACCIDENT_SENTENCE,
  },
  {
    id: "fr.sh_body", category: "self_harm", level: "high", hint: "my", subject: "first", joke: "low",
    re: new RegExp(`\\b${verbs(["cut"], "carve", ["slash"], ["burn", "burnt"], "scratch", "scrape", ["slit"], ["stab"])} (?:up |into |open )?(?:both |the inside of |the back of |the top of |all over )?my (?:arms?|wrists?|legs?|thighs?|skin|stomach|hips?|ankles?|forearms?)\\b`),
    benignAfter: /^ (?:on|while|shaving|open on|in (?:the|a) (?:fall|accident|kitchen|sun)|with (?:a|the) (?:knife|saw|glass|paper|oven|iron|pan)|badly on|hair|by accident|accidentally)/, benignSentence: ACCIDENT_SENTENCE,
  },
  // --- abuse: severity and danger make it high; touch with a sign it was unwanted is abuse ---
  {
    id: "fr.abuse_severe", category: "abuse", level: "high", hint: ["me", "my"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,3}?(?:choked|strangled|smothered|suffocated|beat|beaten|hit|kicked|punched|hurt|attacked|stomped on|throttled) me (?:[\\w']+ ){0,4}?(?:until|till|so (?:hard|badly|much) (?:that )?)(?:that )?i (?:passed out|blacked out|could not breathe|could not see|lost consciousness|was unconscious|bled|was bleeding|fainted|ended up in (?:hospital|the hospital|a and e|the er|emergency))|\\b${ABUSER} (?:[\\w']+ ){0,3}?(?:broke|fractured|dislocated|cracked) my (?:arm|ribs?|nose|jaw|wrist|fingers?|leg|collarbone|eye socket|skull|teeth|tooth)|\\b${ABUSER} (?:[\\w']+ ){0,2}?(?:put|sent|landed) me in (?:the )?(?:hospital|a and e|the er|intensive care)\\b`),
    benignSentence: /\b(?:game|match|wrestl\w*|sparring|boxing|karate|judo|football|rugby|hockey|accident\w*|by mistake|training|practice)\b/,
  },
  {
    id: "fr.abuse_armed", category: "abuse", level: "high", hint: "me", subject: "fixed", joke: "low", trivial: "low",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,8}?(?:going to|gonna|will|wants to|threatening to|threatened to|threatens to|swears|swore|promised|says (?:he|she|they) will|said (?:he|she|they) would) (?:[\\w']+ )?(?:kill|hurt|shoot|stab|beat|strangle|choke|murder) me\\b`),
    requires: new RegExp(`\\b(?:${WEAPON}|outside|at the door|banging on|breaking (?:in|down)|kicking (?:the door|in)|coming (?:back|home|for me|over)|on (?:his|her|their) way|in the house|downstairs|upstairs|found me)\\b`),
  },
  {
    id: "fr.abuse_touch", category: "abuse", level: "medium", hint: ["touch", "grop", "feel", "felt", "rub", "kiss"], subject: "fixed", joke: "low",
    re: new RegExp(`\\b${ABUSER} (?:[\\w']+ ){0,3}?(?:touch|touches|touched|touching|grope|gropes|groped|groping|feels me up|felt me up|rubs (?:himself |herself )?(?:on|against) me|kissed me|kisses me|makes me touch|made me touch)\\b`),
    requires: /\b(?:uncomfortable|inappropriate\w*|private|privates|where (?:i|he|she|they)|secret|do not like|did not like|did not want|do not want|without (?:asking|consent|permission|my)|at night|asleep|in my sleep|in ways|under my|down there|weird|creepy|scared|no one|nobody|not to tell|alone with)\b/,
    benignSentence: /\b(?:touched me (?:deeply|so much|emotionally)|message|words|speech|letter|gesture|kindness|gift|card|song|film|movie)\b/,
  },
  // --- physical symptoms that add up ---
  symptom("heart", "heart", /\bheart (?:is )?(?:racing|pounding|beating (?:so |really |very )?(?:fast|hard|weird|irregular\w*)|skipping beats|fluttering|going crazy)\b/),
  symptom("faint", ["pass out", "faint", "black out", "collapse", "throw up"], /\b(?:going to|about to|gonna|might|feel like i am going to|feel like i will) (?:pass out|faint|black out|collapse|throw up)\b/),
  symptom("dizzy", ["dizzy", "light", "spinning"], /\b(?:dizzy|lightheaded|light headed|room is spinning)\b/),
  symptom("numb", ["numb", "tingl", "weak"], /\b(?:arm|arms|face|hand|hands|leg|legs|left side|right side|lips|fingers) (?:is |are |feels? |went |has gone |have gone )?(?:numb|tingling|tingly|weak)\b/),
  symptom("vision", "vision", /\bvision (?:is |went |going )?(?:blurry|going|black|dark)\b/),
  symptom("shaking", "can not stop", /\bcan not stop (?:shaking|vomiting|throwing up|sweating)\b/),
];
