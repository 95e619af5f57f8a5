// Crisis lexicon, part 3 (pure data): compositional frames. Each frame combines word classes (word-classes.ts) —
// a desire and a death state, a preparation and a means, a farewell, a person and a danger — within a bounded window,
// so new wordings of the same idea are caught without listing sentences. They run through the same context rules.
import { ACCIDENT_AFTER, ACCIDENT_SENTENCE } from "./lexicon-self.ts";
import { MEDS, MEDS_HINTS, PERSON, type CrisisPattern } from "./lexicon.ts";
import { alt, DEATH_STATE, DESIRE, GAP, GONE_EVENT, HEIGHT_PLACE, LETHAL_SELF_VERB, PREPARE, SELF_HARM_VERB, verbs } from "./word-classes.ts";

const BODY = "(?:arms?|wrists?|legs?|thighs?|skin|stomach|hips?|ankles?|forearms?|body|chest|hands?)";
const DEATH_HINTS = ["die", "dead", "death", "exist", "here", "around", "alive", "gone", "disappear", "vanish", "fade", "wak", "sleep", "breath", "six feet", "grave", "coffin", "peace", "world", "earth", "tomorrow", "life", "misery"];
/** Hyperbole with a death word ("dying of embarrassment", "die on this hill", "dying my hair"). */
const DEATH_IDIOM_AFTER = /^ (?:(?:of|from|with) (?:laugh\w*|embarrass\w*|boredom|shame|cuteness|curiosity|happiness|joy|excitement|hunger|thirst|heat|the heat|cringe)|laughing|on (?:that|this|a) hill|(?:my|her|his) hair|to (?:see|meet|know|try|hear|go|get)|for (?:a|an|the|some|this|that) |a little|inside|metal)/;
const DEATH_IDIOM_SENTENCE = /\b(?:battery|phone|laptop|server|plant|character|film|movie|show|book|novel|hair dye|dye|series|episode|trend|meme|build|app)\b/;
/** Farewells that are about a job, a trip or a channel, not a life. */
const LEAVING = /\b(?:holidays?|vacations?|leave|pto|trips?|flights?|offline|signing off|logging off|moving|move|new job|last day|retir\w*|wifi|signal|battery|boarding|camp\w*|festivals?|detox|break|hiatus|sabbatical|exams?|gifts?|presents?|surprise|party|teams?|company|office|projects?|sprints?|seasons?|series|show|games?|books?|chapters?|contracts?|subscriptions?|lease|jobs?|school|term|semester|courses?|class(?:es)?|colleagues|coworkers|customers|clients|newsletter|blog|channel|server|stream\w*|vlog\w*|podcast|subscribers|tour|band|gig|graduat\w*|abroad|weekend|back on|back in|return\w*|transfer\w*|relocat\w*|quit\w*|resign\w*|notice period|deadline|release|launch|deploy\w*|migration)\b/;
/** Things not needed any more for an ordinary reason: a trip, a move, a replacement, the end of a term. */
const NOT_NEEDED = /\b(?:holidays?|vacations?|trips?|flights?|moving|move|new (?:job|one|phone|laptop|car|place|house|flat)|upgrad\w*|replac\w*|last day|retir\w*|leave|pto|school|term|semester|exams?|course|class(?:es)?|subscriptions?|lease|contract|deadline|release|launch|project|sprint|office|work|graduat\w*|season)\b/;
const NOT_FIREARM = /\b(?:museum|display|collection|antique|exhibit\w*|show (?:us|me|them)|replica|holster|hunt\w*|range|clean\w*|(?:in|into|locked in|back in) (?:the|a|my|his|her) (?:gun )?safe|safety|licen[cs]e\w*|target|airsoft|paintball|nerf|water gun|glue gun|staple gun|heat gun|nail gun|toy|game|video|movie|film|squirt|spray|camera|photo\w*|paint\w*|lesson|instructor|course|deer|duck|clay|pigeons?)\b/;
const VIEWPOINT = /\b(?:where are you|parked on|which level|what level|level \d|floor \d|meet (?:you|me)|waiting for (?:you|him|her|them)|pick(?:ing)? (?:you|me|him|her) up|found a (?:space|spot)|view|sunset|sunrise|photo\w*|picture|selfie|hik\w*|picnic|fishing|beer|drinks?|watching|stars|fireworks|smok\w*|lunch|coffee|tea|roofer|roofing|repair\w*|gutters?|fix\w*|work|job|shift|contractor|scaffold\w*|paint\w*|tourist|trip|holiday|vacation|concert|festival|party|wedding|swim\w*|dive|diving|model|lego|minecraft|game|seat)\b/;
/** A medicine or medicine cupboard in the sentence. */
const MED_CONTEXT = new RegExp(`\\b(?:${MEDS}|medicine|cabinet|capsules?|doses?)\\b`);
const NOT_MED_AFTER = new RegExp(`^ (?:to|with|home|out|off|back|into|away|down|up|apart|in|for|personally|seriously|of (?!(?:my |the |his |her )?(?:${MEDS}|capsules)))\\b`);

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
    benignAfter: /^ (?:on a \w+ note|with a (?:bang|party|celebration|demo|toast|drink|song|win)|for (?:today|the (?:day|week|year|season|night))|here\b|early)/,
    benignSentence: /\b(?:with (?:him|her|them|my (?:boyfriend|girlfriend|partner|husband|wife|ex))|relationship|marriage|contract|deal|sprint|lease|subscription|series|season|game|story|chapter|argument|fight|war|feud|demo|show|concert|tour|party)\b/,
  },
  {
    id: "fr.desire_death", category: "suicidal_ideation", level: "medium", hint: DEATH_HINTS, joke: "low", trivial: "low",
    re: new RegExp(`\\b${DESIRE} ${GAP}{0,4}?(?:${DEATH_STATE}|dead|gone(?= *(?:$|,|forever|for good|permanently|already|and never|from this)))\\b`),
    // "not wake up early tomorrow" is about an alarm clock.
    benignAfter: new RegExp(`${DEATH_IDIOM_AFTER.source}|^ (?:early|late|at \\d|before|until|till|in time|on time|to (?:an|the|my) alarm)\\b`), benignSentence: DEATH_IDIOM_SENTENCE,
  },
  {
    id: "fr.indifferent_death", category: "suicidal_ideation", level: "medium", hint: ["if", "when", "whether"], subject: "first", joke: "low", trivial: "low",
    re: /\b(?:(?:would not|would|do not|does not|will not|could not) (?:mind|care|be (?:sad|upset|bothered|sorry|scared))|(?:would|will) (?:be )?(?:fine|okay|ok|relieved|happy|glad|grateful|thankful|at peace)|(?:would|will) be (?:a |such a )?(?:mercy|relief|blessing|gift)) (?:if|when|whether) (?:i (?:[\w']+ ){0,2}?(?:die|died|was dead|were dead|dropped dead|did not wake up|never woke up|do not wake up|stopped breathing|was gone|were gone|disappeared|got hit|got run over|got killed|crashed)|(?:a|an|the|some) (?:[\w']+ )?(?:bus|car|truck|lorry|train|plane|meteor|asteroid|bullet|drunk driver|shark|lightning|tornado|illness|disease|cancer|virus|stranger) (?:[\w']+ ){0,2}?(?:(?:hit|hits|killed|kills|took|takes|struck|strikes|ran over|runs over|run over) me|(?:ran|runs|run|knocked|knocks) me (?:over|down)))\b/,
  },
  {
    id: "fr.indifferent_front", category: "suicidal_ideation", level: "medium", hint: "if", subject: "first", joke: "low", trivial: "low",
    re: /\bif (?:i (?:[\w']+ ){0,2}?(?:died|was dead|were dead|dropped dead|did not wake up|never woke up|stopped breathing|was gone|were gone|disappeared|got hit|got run over|got killed|was killed|crashed)|(?:a|an|the|some) (?:[\w']+ )?(?:bus|car|truck|lorry|train|plane|meteor|asteroid|bullet|drunk driver|illness|disease|cancer|virus) (?:[\w']+ ){0,2}?(?:hit|killed|took|struck|ran over) me)(?: [\w']+){0,4}?,? (?:i (?:would|will|could|honestly would) (?:be )?(?:(?:so |really |honestly )?(?:relieved|happy|glad|grateful|thankful|fine|okay|ok|at peace)|not (?:mind|care|be (?:sad|upset|bothered)))|(?:that|it) (?:would|will) be (?:a |such a )?(?:mercy|relief|blessing|gift|for the best|welcome))\b/,
  },
  {
    id: "fr.hope_hit", category: "suicidal_ideation", level: "medium", hint: ["hop", "wish", "pray"], subject: "first", joke: "low", trivial: "low",
    // The agent of the wished-for death may be a vehicle, an illness or God: "i pray every night that god takes me in my sleep".
    re: /\b(?:hope|hoping|wish|wishing|pray|praying|prayed)(?: (?:every|each) (?:night|day|morning))? (?:that )?(?:(?:a|an|the|some) (?:[\w']+ ){0,2}?(?:bus|car|truck|lorry|train|plane|meteor|asteroid|bullet|drunk driver|shark|lightning|tornado|cancer|illness|virus|heart attack|stroke) (?:[\w']+ ){0,2}?(?:hits?|kills?|runs? over|takes?|crash(?:es)? into|strikes?|finish(?:es)?|would hit|would kill) me|(?:god|the lord|jesus|allah|the universe|death) (?:would |will |might |could )?(?:takes?|calls?|brings?) me (?:home(?! safe)|away|in my sleep|tonight|soon|now|to (?:him|heaven)|from this (?:world|earth)))\b/,
  },
  {
    id: "fr.no_future", category: "suicidal_ideation", level: "medium", hint: "future", subject: "first", joke: "low", trivial: "low",
    re: /\b(?:(?:do not|can not|no longer|never|could not) (?:see|imagine|picture) (?:a|any|my) (?:[\w']+ )?future(?: for (?:me|myself))?|i (?:have|got) no future|there is no future for me|my future is (?:hopeless|gone|over|dead|empty|black|pointless|nothing))\b/,
    benignAfter: /^ (?:with|in (?:this|that|the|a)|for (?:this|the|that|our|us|him|her|them|it)|at (?!all\b)|here)\b/,
    benignSentence: /\b(?:job|company|role|team|product|project|deal|relationship|crypto|market|startup|band|show|series|industry|town|country)\b/,
  },
  {
    id: "fr.give_up_life", category: "suicidal_ideation", level: "medium", hint: "up on", subject: "first", joke: "low", trivial: "low",
    re: /\b(?:give|giving|gave|given) up on (?:[\w']+,? ){0,2}?(?:life|living|being alive|staying alive|everything and everyone)\b/,
  },
  {
    id: "fr.anyone_care", category: "suicidal_ideation", level: "medium", hint: ["if", "when"], subject: "first", joke: "low", trivial: "low",
    re: /\b(?:anyone|anybody|people|they|everyone|everybody|my (?:family|friends|parents|mom|dad)) (?:would|will) (?:even |actually |really )?(?:care|notice|miss me|cry|come to my funeral|be sad|be relieved)(?: [\w']+){0,3}? (?:if|when) i (?:died|was gone|were gone|disappeared|killed myself|was dead|left forever|was not here|was not around|did not wake up|stopped existing)\b/,
  },
  {
    id: "fr.what_if", category: "suicidal_ideation", level: "medium", hint: "what if i", subject: "first", joke: "low", trivial: "low",
    re: /\bwhat if i (?:[\w']+ ){0,2}?(?:did not wake up|never woke up|was gone|were gone|was not here|was not around|disappeared for good|killed myself|ended it|ended it all|stopped existing|just died)\b/,
  },
  {
    id: "fr.method_search", category: "suicidal_ideation", level: "high", hint: ["way", "method", "how"], subject: "first", role: "plan", joke: "low",
    re: /\b(?:looking up|looked up|look up|searching|searched|googling|googled|researching|researched|reading about|read about|thinking of|thinking about|looking for|looked for|found|watching videos (?:on|about)) (?:[\w']+ ){0,2}?(?:ways?|methods?|how) (?:to|of) (?:die|dying|kill myself|killing myself|end my life|ending my life|end it|ending it|overdose|hang myself|commit suicide|do it painlessly)\b/,
    benignSentence: /\b(?:game|character|novel|story|film|movie|plot|script|plant|weeds?|pests?|mice|rats?|bacteria|germs|cells|battery|process|bugs?)\b/,
  },
  {
    id: "fr.better_off", category: "suicidal_ideation", level: "medium", hint: ["better", "happier", "easier", "simpler", "calmer", "quieter", "nicer", "less ", "lighter", "fine", "okay", "ok", "relieved", "peace", "freer"], subject: "first", joke: "low",
    re: new RegExp(`\\b(?:better off|happier|better|easier|simpler|calmer|quieter|nicer|more peaceful|less stressful|less complicated|lighter|fine|okay|ok|relieved|at peace|freer)(?: [\\w']+){0,3}? (?:without me|if i ${GONE_EVENT}|(?:when|once|after) i am (?:gone|dead|not here|not around))\\b`),
  },
  {
    id: "fr.no_point", category: "suicidal_ideation", level: "medium", hint: ["point", "reason", "use", "purpose"], subject: "first", joke: "low", trivial: "low",
    re: /\b(?:no|zero|not any|not much|is there any|what is the) (?:[\w']+ )?(?:point|reason|use|purpose) (?:in|to|of|for) (?:me |my )?(?:being here|being alive|living|existing|staying alive|going on|carrying on|waking up|continuing to live|being around|life)\b/,
  },
  {
    id: "fr.on_my_mind", category: "suicidal_ideation", level: "high", hint: ["mind", "head", "thoughts", "think"], subject: "first", joke: "low", benignSentence: /\b(?:prevention|awareness|training|research|article|documentary|essay|course|lecture|podcast|story|novel|film|movie|show|character)\b/,
    re: /\b(?:(?:suicide|killing myself|ending my life|ending it all|ending it|taking my (?:own )?life) (?:has been|is|was|keeps|kept|is always|has always been|is constantly|has been constantly)(?: [\w']+){0,2}? (?:on my mind|in my head|crossing my mind|in my thoughts)|(?:suicide|killing myself|ending my life|ending it) (?:is|has become) all i (?:can )?think about)\b/,
  },
  {
    id: "fr.do_something_to_myself", category: "self_harm", level: "medium", hint: "to myself", subject: "first", joke: "low",
    re: /\b(?:scared|afraid|worried|terrified|think|going|might|could|want|wanted|tempted|urge|close to)(?: [\w']+){0,3}? do something (?:stupid |bad |drastic |dumb |permanent |terrible )?to myself\b/,
  },
  {
    id: "fr.existence_mistake", category: "suicidal_ideation", level: "medium", hint: ["mistake", "error", "accident", "waste", "burden", "curse", "exist", "born", "alive"], subject: "first", joke: "low",
    re: /\b(?:my (?:existence|birth|life) (?:is|was) (?:a |one big |just a )?(?:mistake|error|accident|waste|burden|curse)|i (?:was|am) (?:a )?(?:mistake|accident)(?= *(?:$|,|and|i |to))|i (?:should|should just) (?:have )?never (?:have )?(?:existed|been born)|i should not (?:exist|be alive|have been born))\b/,
    benignSentence: /\b(?:email|message|text|post|tweet|typo|code|commit|booking|order|form|invoice|spreadsheet|slide|bug|deploy|merge|meeting|purchase)\b/,
  },
  {
    id: "fr.apology_farewell", category: "suicidal_ideation", level: "low", hint: ["sorry", "love", "goodbye", "thank"], subject: "first", role: "plan", joke: "none", trivial: "none",
    re: /\b(?:i (?:just )?wanted to say (?:sorry|goodbye|i love you|thank you for everything)|sorry for everything|(?:thanks|thank you) for everything(?= *(?:$|,|guys|everyone|all|you all|i am sorry|i love))|tell (?:everyone|my (?:mom|dad|family|kids|parents|sister|brother)) (?:that )?i (?:love|loved) (?:them|you|her|him)|i love you all(?:,)? (?:goodbye|bye|i am sorry))\b/,
    benignSentence: LEAVING,
  },
  // --- means: preparing a lethal means, being at a height, taking everything ---
  {
    id: "fr.means_kept", category: "suicidal_ideation", level: "high", hint: ["saved", "hidden", "stash", "stockpil", "hoard", "ready", "counted", "lined up", "aside"], role: "means", joke: "low",
    // The means named first and its keeping after: "40 sleeping tablets saved in a sock".
    re: new RegExp(`\\b(?:${MEDS}|blades?|razor blades?|razors?|a rope|rope|noose)(?: [\\w']+)? (?:saved|hidden|stashed|stockpiled|hoarded|saved up|ready|counted out|lined up|put aside|set aside)\\b`),
    benignSentence: /\b(?:trip|holiday|travel\w*|morning|organi[sz]er|dosette|pill box|weekly|prescription|pharmac\w*|doctor|vet|dog|cat|kids can not reach|out of reach|child lock|safe place|locked away|shaving|climb\w*|camp\w*|boat\w*|sail\w*|hik\w*|abseil\w*|tent|swing|tug of war|gym)\b/,
  },
  {
    id: "fr.means_count", category: "suicidal_ideation", level: "low", hint: MEDS_HINTS, subject: "first", role: "means", joke: "none",
    re: new RegExp(`\\bi (?:have|have got|got|kept|keep|am keeping|still have) (?:like |about |over |around )?(?:\\d{2,}|loads of|a stash of|enough|dozens of|hundreds of|a bottle of|a box of|boxes of|bottles of|all my old) (?:[\\w']+ ){0,2}?${MEDS}\\b`),
  },
  {
    id: "fr.ligature_neck", category: "suicidal_ideation", level: "high", hint: "neck", joke: "low",
    re: /\b(?:belt|rope|cord|cable|ligature|noose|lead|leash|wire|bedsheet|sheet|charger cable|phone cable)s? (?:[\w']+ ){0,2}?(?:around|round|on) (?:my|his|her|their) neck\b/,
    benignSentence: /\b(?:necklace|lanyard|badge|costume|halloween|dog|puppy|guitar|camera|headphones|neck pillow|massage|scarf|tie)\b/,
  },
  {
    id: "fr.co_method", category: "suicidal_ideation", level: "high", hint: ["garage", "exhaust", "charcoal", "barbecue", "bbq"], joke: "low",
    // Carbon monoxide: a running engine in a closed space, a hose from the exhaust, charcoal burnt indoors.
    re: /\b(?:(?:engine|car|motor) (?:[\w']+ ){0,3}?(?:running|on|started|idling)(?: [\w']+){0,5}? (?:in|inside) (?:the |a |my )?(?:closed |shut |locked )?garage|(?:in|inside) (?:the |a |my )?(?:closed |shut |locked )?garage (?:[\w']+ ){0,4}?(?:engine|car|motor) (?:running|on|idling)|hose (?:from|into|on|to|for) (?:the )?exhaust|exhaust (?:pipe |fumes )?(?:into|in) (?:the )?car|(?:charcoal|barbecue|bbq) (?:[\w']+ ){0,2}?(?:in|inside) (?:the |my |a )?(?:car|tent|room|bathroom|bedroom))\b/,
    benignSentence: /\b(?:fix\w*|repair\w*|warm(?:ing)? (?:it )?up|mechanic|oil|cold morning|defrost\w*|battery|jump start|door (?:open|is open)|garage door (?:open|is open)|vent\w*|extractor)\b/,
  },
  {
    id: "fr.at_height", category: "suicidal_ideation", level: "medium", hint: ["bridge", "roof", "ledge", "cliff", "railing", "tracks", "top floor", "overpass"], subject: "first", role: "means", joke: "low",
    // Chat drops the "i am": "standing on the overpass right now looking down".
    re: /(?:\bi am (?:up |standing |sitting |stood |sat |out |lying )?|^(?:up|standing|sitting|stood|sat|lying|out here) )on (?:the |a |this |top of (?:the|a|this) |the edge of (?:the|a|this) )?(?:bridge|roof|rooftop|ledge|cliff|cliff edge|balcony railing|railing|train tracks|railway tracks|tracks|top floor|overpass|flyover)\b/,
    benignSentence: /\b(?:view|sunset|sunrise|photo\w*|picture|selfie|hik\w*|picnic|fishing|beer|drinks?|watching|stars|fireworks|smok\w*|lunch|coffee|tea|roofer|roofing|repair\w*|gutters?|fix\w*|work|job|shift|contractor|scaffold\w*|paint\w*|tourist|trip|holiday|vacation|concert|festival|party|wedding|swim\w*|(?:stuck |sitting |standing )?in traffic|traffic (?:is|was|jam|has been|today)|bus|train|way|commute|driv\w*|walk\w*|run|running|cycl\w*|bike|stuck|queue|game|minecraft|call|zoom|phone)\b/,
  },
  {
    id: "fr.means_with_me", category: "suicidal_ideation", level: "low", hint: ["rope", "noose", "gun", "pistol", "rifle", "blade", "razor", ...MEDS_HINTS], subject: "first", role: "means", joke: "none", trivial: "none",
    // A lethal means carried or within reach, said flatly ("the ropes in my trunk"): a sign, medium next to another.
    re: new RegExp(`\\b(?:ropes?|nooses?|guns?|pistols?|rifles?|shotguns?|blades?|razors?|razor blades?|${MEDS})(?: is| are)? (?:in|under|inside) my (?:trunk|car|boot|bag|backpack|pocket|room|drawer|glovebox|glove box|jacket|coat|hoodie|hand)\\b`),
    benignSentence: /\b(?:climb\w*|camp\w*|tow\w*|boat\w*|sail\w*|hik\w*|hunt\w*|range|shav\w*|prescription|pharmac\w*|doctor|first aid|allerg\w*|headache|hay fever|vitamins?|contraceptive|birth control|holiday|trip|forgot|forget|left)\b/,
  },
  {
    id: "fr.isolated_place", category: "suicidal_ideation", level: "low", hint: ["woods", "forest", "nowhere", "find me", "remote", "quiet"], subject: "first", role: "plan", joke: "none", trivial: "none",
    // Going where no one will find you: a plan sign, medium next to a means ("the ropes in my trunk").
    re: /\b(?:(?:drive|driving|go|going|head|heading|walk|walking|get|getting) (?:out )?(?:to|into) (?:the )?(?:woods|forest|middle of nowhere|somewhere (?:quiet|remote|far away))|(?:somewhere|where|a place) (?:no one|nobody) (?:will|can|would|could) (?:ever )?find me)\b/,
    benignSentence: /\b(?:camp\w*|hik\w*|picnic|dog|mushrooms?|forag\w*|run|running|cycl\w*|bike|holiday|trip|cabin|lodge|weekend|friends|family|party|festival|retreat|photo\w*|birds?|hide and seek|game|signal|wifi|nap|peace and quiet|read\w*|write|writ\w*|study|think)\b/,
  },
  {
    // A ligature tied to a fixture ("the belt tied to the door handle"): a means sign, low alone (doors are held open
    // with belts too); next to distress or another sign it is medium, and so high.
    id: "fr.ligature_anchor", category: "suicidal_ideation", level: "low", hint: ["tied", "attached", "fixed", "hooked", "looped", "knotted", "fastened", "hanging"], subject: "first", role: "means", joke: "low",
    re: /\b(?:belt|rope|cord|cable|noose|scarf|sheet|bedsheet|tie|dressing gown cord|wire|ligature)s? (?:[\w']+ ){0,3}?(?:tied|attached|fixed|hooked|looped|knotted|fastened|hanging) (?:[\w']+ ){0,2}?(?:to|on|from|over|around|round) (?:the |a |my )?(?:door ?handle|door|banister|bannister|beam|rafters?|hook|loft hatch|loft|shower rail|curtain rail|tree|branch|railing|pipe|ceiling|light fitting|stair ?well|stairs|bed frame|wardrobe)\b/,
    benignSentence: /\b(?:so (?:the|it) (?:door )?(?:stays|does not|will not|can not)|keep (?:the|it) (?:door )?(?:open|shut|closed)|hold (?:the|it) (?:door )?open|stays? (?:open|shut|closed)|dog|puppy|lead|leash|boat|tent|hammock|swing|washing|laundry|clothes line|decoration\w*|bunting|balloons?|christmas|lights|gym|resistance band|tow\w*|bike|halloween|costume|plant|tomato\w*|climb\w*|curtains?|blinds?|tidy|cable ties?|charger|extension)\b/,
  },
  {
    // Arrangements for after one is gone: "left instructions for the cat", "made sure the dog has somewhere to go".
    id: "fr.arrangements", category: "suicidal_ideation", level: "low", hint: ["instructions", "made sure", "arrangements", "home for", "rehom", "wrote", "written", "will"], subject: "first", role: "plan", joke: "none", trivial: "none",
    re: /\b(?:(?:left|written|wrote|made|writing|making) (?:[\w']+ )?(?:instructions|arrangements|plans) for (?:my |the )?(?:cat|dog|pets?|kids|children|funeral|fish|rabbit|hamster|plants)|made sure (?:my |the )?(?:cat|dog|pets?|kids|children|fish|rabbit|hamster) (?:has|have|is|are|will be|will have) (?:somewhere|someone|a home|looked after|taken care of|going to be (?:okay|ok|fine|looked after))|(?:found|rehomed|found a home for|found someone to take) (?:a home for )?(?:my |the )?(?:cat|dog|pets?)|(?:written|wrote|made|finished|updated|sorted) (?:out )?my will)\b/,
    benignSentence: /\b(?:trip|holiday|vacation|travel\w*|away|sitter|neighbou?rs?|vet|while (?:i|we|they|he|she)|back (?:on|in|next)|weekend|work|conference|hospital stay|surgery|operation|moving|move|lawyer|solicitor|estate planning|adulting|mortgage|baby|pregnan\w*|wedding)\b/,
  },
  {
    // A plan made with no word for what: "set a date", "everything is sorted".
    id: "fr.plan_bare", category: "suicidal_ideation", level: "low", hint: ["date", "sorted", "in order", "arranged", "planned", "ready"], subject: "first", role: "plan", joke: "none", trivial: "none",
    re: /\b(?:(?:i have |i )?(?:set|picked|chose|chosen|got) (?:a|the) date|everything is (?:sorted|in order|arranged|planned|ready|taken care of)|it is all (?:sorted|arranged|planned|ready)|(?:my )?affairs (?:are )?in order)(?= *(?:$|,|for|and|now))/,
    benignSentence: /\b(?:wedding|party|trip|holiday|vacation|move|moving|surgery|op|operation|interview|exam|launch|release|meeting|date night|dinner|birthday|gig|event|viewing|appointment|court|hearing|christening|baby|shower|deploy\w*|sprint|demo|presentation|conference|flight|booking|booked|venue|guests|catering|school|term)\b/,
  },
  {
    // Absent on a named day, said flatly: a sign, medium next to another ("i will not be here on monday. i made sure the dog…").
    id: "fr.not_here_day", category: "suicidal_ideation", level: "low", hint: "will not be", subject: "first", role: "plan", joke: "none",
    re: /\bi will not be (?:here|around|alive) (?:on|by|for|after|at) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|the weekend|christmas|my birthday|new year)\b/,
    benignSentence: /\b(?:dentist|doctor|appointment|holiday|vacation|trip|leave|pto|out of office|wedding|conference|offline|moving|new job|signing off|flight|office|work|standup|meeting|class|school|shift|party|dinner|home|online|call|cover|sick|ill|away|visiting|course|training)\b/,
  },
  {
    // Courage or nerve to go through with it: distress, low; next to a means it is medium, and so high.
    id: "fr.courage", category: "suicidal_ideation", level: "low", hint: ["courage", "nerve", "guts"], subject: "first", joke: "none", trivial: "none",
    re: /\b(?:need|needs|needed|building|build|working up|work up|getting up|get up|finding|find|waiting for|lack|lacked|did not have|do not have) (?:up )?(?:the |enough )?(?:courage|nerve|guts)\b(?! to (?:ask|tell|talk|speak|apply|quit|call|text|confront|say|go to|sing|dance|propose|leave (?:him|her|them|my)|try|start|sign|book|post|come out|jump in|swim|dive))/,
    benignSentence: /\b(?:ask (?:her|him|them) out|crush|date|interview|speech|presentation|audition|stage|bungee|skydiv\w*|roller ?coaster|tattoo|haircut|boss|raise|promotion|exam|driving test|dentist)\b/,
  },
  {
    // Buying a medicine in a way meant not to be noticed: stockpiling.
    id: "fr.meds_buying", category: "suicidal_ideation", level: "high", hint: MEDS_HINTS, subject: "first", role: "means", joke: "low",
    re: new RegExp(`\\b(?:buying|bought|getting|got|picking up|ordering|ordered|collecting) (?:[\\w']+ )?${MEDS} (?:[\\w']+ ){0,6}?(?:so (?:no one|nobody|the pharmacist|they do not|nobody at the) (?:notices|knows|finds out|suspects|can tell|gets suspicious)|without (?:anyone|anybody) (?:knowing|noticing)|a (?:few|box|pack|packet) at a time|in secret|secretly|one (?:box|pack|packet) at a time|to get (?:around|round) the limit)\\b`),
  },
  {
    // Someone else shut in with a means: with "not answering" it is an emergency.
    id: "fr.third_shut_in", category: "suicidal_ideation", level: "medium", hint: ["locked", "shut", "barricaded"], subject: "third", role: "means",
    re: new RegExp(`\\b(?:he|she|they|my ${PERSON}) (?:has |have |is |just |has just )?(?:locked|shut|barricaded) (?:himself|herself|themselves|themself) in (?:[\\w']+ ){0,6}?(?:with|and (?:has|took|taken|got)) (?:a |the |his |her |their |my |some )?(?:[\\w']+ )?(?:knife|knives|blades?|razors?|gun|rope|belt|cord|pills|tablets|${MEDS})\\b`),
  },
  {
    // Someone else sending a picture of a means: "sent me a pic of a bottle of pills".
    id: "fr.third_shows_means", category: "suicidal_ideation", level: "medium", hint: ["pic", "photo", "picture", "video", "snap", "selfie"], subject: "third", role: "means",
    re: new RegExp(`\\b(?:he|she|they|my ${PERSON}) (?:[\\w']+ ){0,2}?(?:sent|sends|posted|posts|showed|shows|texted|snapped|messaged) (?:me |us )?(?:a |an |this )?(?:pic|pics|photo|photos|picture|pictures|video|snap|selfie|story) (?:of|with) (?:[\\w']+ ){0,3}?(?:${MEDS}|knife|knives|blades?|razors?|gun|rope|noose|cuts|wrists?|bridge|ledge|roof|tracks)\\b`),
    benignSentence: /\b(?:holiday|trip|view|sunset|recipe|cooking|hike|hiking|climb\w*|new (?:knife|knives)|kitchen|chef|hunting|range|museum)\b/,
  },
  {
    // "and said bye": a farewell reported of someone, a sign (medium next to a means or a place).
    id: "fr.said_bye", category: "suicidal_ideation", level: "low", hint: ["bye", "farewell"], role: "plan", joke: "none", trivial: "none",
    re: /\b(?:said|says|texted|wrote|messaged|sent) (?:me |us )?(?:'|")?(?:goodbye|bye|farewell)(?:'|")?(?= *(?:$|,|and\b|to (?:me|us|everyone)|forever|for good))/,
    benignAfter: /^ (?:and|then|before|as) (?:he |she |they |i )?(?:went|left|headed|drove|walked|got in|got on|hung up|logged off|ran|came|went back)\b/, benignSentence: LEAVING,
  },
  {
    id: "fr.hope_illness", category: "suicidal_ideation", level: "medium", hint: ["hop", "wish", "pray"], subject: "first", joke: "low", trivial: "low",
    re: /\b(?:hope|hopes|hoping|wish|wishes|wishing|pray|praying)(?: (?:that|for))? (?:the |my |a )?(?:cancer|illness|tumou?r|disease|heart condition|sickness|infection|covid) (?:comes back|returns|spreads|wins|gets me|takes me|kills me|finishes me|is terminal|will kill me)\b/,
  },
  {
    id: "fr.third_at_height", category: "suicidal_ideation", level: "low", hint: ["bridge", "roof", "ledge", "cliff", "railing", "tracks", "top floor", "overpass", "flyover", "balcony", "building", "tower", "car park", "parking garage", "multi storey", "dam", "quarry", "skyscraper"], subject: "third", role: "means", joke: "none",
    re: new RegExp(`\\b(?:he|she|they|my ${PERSON}) (?:is|are|was|has gone|went|is standing|is sitting|is up) (?:up |out |standing |sitting )?(?:at|on|to) (?:the |a |this |that )?(?:top of (?:the |a )?|edge of (?:the |a )?)?${HEIGHT_PLACE}\\b`),
    benignSentence: new RegExp(`${VIEWPOINT.source}|\\b(?:club|cards|card game|tournament|traffic|commute|office|meeting|class|lesson|store|shop|school|practice)\\b`),
  },
  {
    id: "fr.noose", category: "suicidal_ideation", level: "high", hint: ["noose", "ligature"], role: "means", joke: "low",
    re: new RegExp(`\\b${PREPARE} (?:[\\w']+ ){0,3}?(?:noose|ligature)s?\\b|\\bnooses? (?:is |are )?(?:ready|set up|up|hanging|tied|in my|on my|from)\\b`),
    benignSentence: /\b(?:halloween|costume|decoration|film|movie|history|museum|hangman|game|knots?|scouts|sailing|lasso|cowboy|western|book|novel|story|lynch\w*|racis\w*|symbol|exhibit)\b/,
  },
  {
    id: "fr.gun_ready", category: "suicidal_ideation", level: "high", hint: ["gun", "pistol", "revolver", "shotgun", "rifle", "firearm", "barrel", "muzzle"], role: "means", joke: "low",
    re: /\b(?:(?:loaded|cocked|am holding|took the safety off|unlocked|took out|got out|pulled out) (?:[\w']+ ){0,3}?(?:gun|pistol|revolver|handgun|shotgun|rifle|firearm)|(?:got|took|pulled|grabbed|brought) (?:the |my |his |her |dads |a )?(?:gun|pistol|revolver|handgun|shotgun|rifle|firearm) (?:out|down)|(?:gun|pistol|revolver|handgun|shotgun|rifle|firearm) (?:is )?(?:(?:loaded|cocked|ready|out|sitting|lying|right) )?(?:on my lap|in my lap|in my hand|in my hands|next to me|beside me|in my mouth|on the (?:bed|table|desk) (?:next to|beside) me)|(?:gun|pistol|revolver|barrel|muzzle) (?:is )?(?:to|against|in|at) my (?:head|mouth|temple|chest|chin))\b/,
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
    id: "fr.final_message", category: "suicidal_ideation", level: "high", hint: ["last", "final", "again", "after", "time"], subject: "first", role: "plan", joke: "low",
    re: /\b(?:(?:this|that|it) (?:is|will be) (?:the|my) (?:last|final) (?:message|text|post|thing|words?) (?:you|anyone|anybody|any of you|you all|people) (?:will |are going to |is going to )?(?:get|see|read|hear|receive) (?:from|of) me|(?:you|anyone|any of you|nobody|no one) (?:will|are going to|is going to|is ever going to) (?:never |not |ever )?(?:hear from|see|hear of) me (?:again|ever again|after (?:tonight|today|this))|by the time (?:you|anyone|someone|somebody) (?:read|reads|see|sees|get|gets|find|finds) this,? i (?:will|would|am|might) (?:be|have|already)|(?:these are|this is) my (?:last|final) words)\b/,
    benignSentence: LEAVING,
  },
  {
    id: "fr.settling", category: "suicidal_ideation", level: "medium", hint: ["peace", "goodbye", "gone", "not here", "around", "dead", "over", "burden", "problem", "worry", "end"], subject: "first", role: "plan", joke: "low", trivial: "low",
    re: /\b(?:(?:made|make|making|have made) (?:my )?peace(?: with (?:it|everything|dying|death|god|my decision|leaving|the end|this))?(?= *(?:$|,|and|i |now|tonight|today|finally|at last))|(?:said|saying|say) (?:all )?my goodbyes|(?:look after|take care of|feed|walk|keep) my (?:cat|dog|pets?|kids|children|plants|fish|hamster|rabbit) (?:for me )?(?:when|after|once) i am (?:gone|not here|dead|not around)|it will (?:all )?be over (?:soon|tonight|tomorrow|by|before|for me)|(?:will not|am not going to|will no longer) be (?:a|your|anyones|everyones) (?:problem|burden|worry) (?:much longer|for long|anymore|after (?:tonight|today)|soon)|(?:tonight|today|this) is the end (?:for me|of me|of the road for me))\b/,
    benignSentence: LEAVING,
  },
  {
    id: "fr.giving_away", category: "suicidal_ideation", level: "low", hint: ["giv", "gave"], role: "plan", joke: "none", trivial: "none",
    re: /\b(?:giving|gave|given|give|gives) (?:away )?(?:all |most |some )?(?:of )?(?:my|his|her|their) (?:favou?rite |old |best |prized |precious )?(?:things|stuff|belongings|possessions|tools|clothes|games|consoles?|xbox|playstation|ps\d|guitar|books|jewel(?:le)?ry|collection|pets?|cat|dog|savings|money|art|records|bike|car|laptop|plants|watch)(?= *(?:$|,|and\b|to\b|away\b))/,
    benignSentence: /\b(?:moving|move|charity|charities|declutter\w*|donat\w*|library|sale|selling|sold|new one|upgrad\w*|christmas|birthday|present|gift|lend\w*|borrow\w*|back|weekend|while (?:i|he|she|they) (?:am|is|are) away|holiday|vacation|trip|to (?:hold|look after|mind)|downsiz\w*|minimalis\w*|spring clean\w*|clear\w* out)\b/,
  },
  {
    id: "fr.be_gone", category: "suicidal_ideation", level: "low", hint: "be gone", subject: "first", role: "plan", joke: "none", trivial: "none",
    re: /\bi (?:will|am going to) be gone(?= *(?:$|,|forever|for good|soon|before|by|and (?:no one|nobody|you)))/,
    benignSentence: LEAVING,
  },
  {
    id: "fr.wont_need", category: "suicidal_ideation", level: "low", hint: "need", subject: "first", role: "plan", joke: "none", trivial: "none",
    // Not LEAVING: "games" or "books" are what is given away here, not a farewell to a game.
    re: /\b(?:will not|do not|would not|am not going to|no longer|will never) (?:be )?need(?:ing)? (?:it|them|any of (?:it|this|them)|my (?:[\w']+ )?(?:things|stuff|belongings|money|clothes|car|phone|savings|room|medication))(?: (?:anymore|any longer|where i am going|after (?:tonight|today|tomorrow|this week|the weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b| *$)/,
    benignSentence: NOT_NEEDED,
  },
  // --- someone else at risk: their farewell, their threat, their hidden means ---
  {
    id: "fr.third_threatens", category: "suicidal_ideation", level: "medium", hint: "threat", subject: "third", joke: "low",
    benignAfter: /^ (?:laughing|with laughter|in (?:the|a) (?:lake|pool|sea|river|water|shower)|on (?:the|a) (?:trampoline|bed)|out of (?:a|the) plane|if (?:we|i|you|they|he|she) (?:lost|lose|won|win|missed|miss|forgot|forget))/,
    benignSentence: /\b(?:bet|dare|wager|skydiv\w*|bungee)\b/,
    re: new RegExp(`\\b(?:he|she|they|my ${PERSON}) (?:[\\w']+ ){0,3}?(?:is |are |was |keeps |has been |been )?(?:threatening|threatened|threatens) to (?:jump|kill (?:himself|herself|themselves)|end (?:it|his life|her life|their life|it all)|overdose|hang (?:himself|herself|themselves)|take (?:his|her|their) (?:own )?life|hurt (?:himself|herself|themselves)|cut (?:himself|herself|themselves))\\b`),
  },
  {
    id: "fr.third_farewell", category: "suicidal_ideation", level: "medium", hint: ["bye", "farewell", "note", "message", "sorry"], subject: "third",
    re: new RegExp(`\\b(?:he|she|they|my ${PERSON}) (?:[\\w']+ ){0,2}?(?:posted|sent|texted|wrote|left|messaged|shared|put up|uploaded|is posting|has posted|has sent) (?:[\\w',']+ ){0,8}?(?:goodbye|goodbyes|bye|farewell|suicide note|final message|last message|note saying (?:goodbye|sorry)|sorry for everything)\\b`),
    benignAfter: /^ (?:and|then|before|as) (?:he |she |they |i )?(?:went|left|headed|drove|walked|got in|got on|hung up|logged off|ran|came|went back)\b/, benignSentence: LEAVING,
  },
  {
    id: "fr.third_means", category: "suicidal_ideation", level: "medium", hint: [...MEDS_HINTS, "blade", "razor", "rope", "noose", "gun", "bullet"], subject: "third", role: "means",
    re: new RegExp(`\\b(?:(?:he|she|they|my ${PERSON}) (?:[\\w']+ ){0,2}?(?:has|have|had|is|keeps|kept|been|was) (?:[\\w']+ ){0,2}?(?:hiding|hidden|stockpiling|saving|hoarding|stashing|collecting|counting) (?:up )?(?:[\\w']+ ){0,2}?(?:${MEDS}|blades|razors|razor blades|a rope|rope|a noose|a gun|bullets)|(?:${MEDS}|blades|razors|razor blades|rope|a noose|gun) (?:[\\w']+ )?(?:hidden|stashed|saved up|hoarded) (?:in|under|behind|inside) (?:his|her|their))\\b`),
  },
  // --- self-harm with a tool or on the body, in any word order the clause allows ---
  {
    id: "fr.sh_until", category: "self_harm", level: "high", hint: ["until", "till", "til"], subject: "first", joke: "low",
    re: new RegExp(`\\b${SELF_HARM_VERB} (?:myself|my ${BODY}|(?:the |a )?walls?|my head (?:against|on) (?:the |a )?(?:walls?|floor|desk|door))(?: [\\w']+){0,5}? (?:until|till|til) (?:[\\w']+ ){0,3}?(?:bled|bleed|bleeding|bleeds|blood|bloody|bruised|bruises|raw|numb|broke|broken|split|splits|cracked|busted|swollen|swelled|purple|black and blue|marks|scars?)\\b`),
    benignAfter: ACCIDENT_AFTER, benignSentence: ACCIDENT_SENTENCE,
  },
  {
    id: "fr.sh_onto", category: "self_harm", level: "high", hint: "my", subject: "first", joke: "low",
    // The body part after other words: "carved his name into my leg", "put out cigarettes on my arm".
    re: new RegExp(`\\b(?:${SELF_HARM_VERB} (?:[\\w']+ ){1,3}?(?:into|onto|on|across) my ${BODY}|(?:put|putting|stubbed|stubbing|stub) out (?:a |my |the |some )?(?:cigarettes?|fags?|cigs?|joints?) (?:on|into|against) (?:myself|my ${BODY}))\\b`),
    benignAfter: ACCIDENT_AFTER, benignSentence: ACCIDENT_SENTENCE,
  },
  {
    id: "fr.sh_need", category: "self_harm", level: "high", hint: "my", subject: "first", joke: "low",
    re: new RegExp(`\\b(?:want|wanted|need|needs|urge|urges|feel the need|tempted|going|about|planning|craving|itching)(?: [\\w']+){0,2}? to (?:hurt|harm|cut|burn|punish|injure|scratch|bruise|mark) (?:my (?:own )?${BODY}|my skin)\\b`),
    benignSentence: ACCIDENT_SENTENCE,
  },
  {
    id: "fr.fresh_cuts", category: "self_harm", level: "high", hint: ["cut", "burn", "wound", "scar", "slash"], joke: "low",
    re: /\b(?:fresh|new|deep|more|another|deeper) (?:cuts?|burns?|wounds?|scars?|slashes)(?= *(?:$|,|again|today|tonight|last night|this (?:morning|week)|on my|all over|on (?:both )?(?:arms?|legs?|thighs?|wrists?|stomach)))/,
    benignSentence: /\b(?:budget|funding|staff|jobs?|price|tax|rate|spending|service|hair|haircut|meat|butcher|film|movie|edit\w*|director|scene|song|album|remix|tree|branch|paper|fabric|cat|dog|kitten|puppy|garden|roses|bike|fell|crash|surgery|operation|stitches from)\b/,
  },
  {
    // Someone else harming their body: "one of my pupils has been scratching her arms with a compass".
    id: "fr.third_sh_act", category: "self_harm", level: "medium", hint: ["his", "her", "their"], subject: "third",
    re: new RegExp(`\\b(?:he|she|they|my ${PERSON}s?) (?:[\\w']+ ){0,3}?${SELF_HARM_VERB} (?:up )?(?:his|her|their) (?:own )?${BODY}\\b`),
    benignAfter: ACCIDENT_AFTER, benignSentence: ACCIDENT_SENTENCE,
  },
  {
    id: "fr.third_cuts", category: "self_harm", level: "medium", hint: ["cuts", "scars", "burns", "marks"], subject: "third",
    re: new RegExp(`\\b(?:cuts|scars|burns|marks|slashes) (?:all )?(?:on|across|up|down|over) (?:his|her|their|my ${PERSON}s?) ${BODY}\\b`),
    benignSentence: ACCIDENT_SENTENCE,
  },
  {
    id: "fr.sh_tool", category: "self_harm", level: "high", hint: ["my", "again"], subject: "first", joke: "low",
    re: new RegExp(`\\b(?:${verbs("use")}|took|grabbed|got|pressed|held) (?:a |the |my |some )?(?:[\\w']+ )?(?:razor|blade|razor blade|lighter|knife|scissors|compass|broken glass|glass|pencil sharpener|sharpener|sharpener blade|lit cigarette|cigarette|hot iron|hot spoon) (?:(?:on|to|against|into|across) (?:myself|my ${BODY})|again(?= *(?:$|,|last night|tonight|today|and))|to (?:cut|hurt|burn) (?:myself|my))\\b`),
    benignAfter: ACCIDENT_AFTER, benignSentence: ACCIDENT_SENTENCE,
  },
  {
    id: "fr.sh_body", category: "self_harm", level: "high", hint: "my", subject: "first", joke: "low",
    re: new RegExp(`\\b${verbs(["cut"], "carve", ["slash"], ["burn", "burnt"], "scratch", "scrape", ["slit"], ["stab"])} (?:up |into |open )?(?:both |the inside of |the back of |the top of |all over )?my (?:arms?|wrists?|legs?|thighs?|skin|stomach|hips?|ankles?|forearms?)\\b`),
    benignAfter: /^ (?:on|while|shaving|open on|in (?:the|a) (?:fall|accident|kitchen|sun)|with (?:a|the) (?:knife|saw|glass|paper|oven|iron|pan)|badly on|hair|by accident|accidentally)/, benignSentence: ACCIDENT_SENTENCE,
  },
];
