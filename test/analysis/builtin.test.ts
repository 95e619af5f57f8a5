// The built-in analyzer "builtin/1": its contract, each safety rule of the crisis lexicon (on sentences that are NOT
// in the evaluation set), the topic taxonomy file, the bounds, and the acceptance targets on the evaluation set.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assessCrisis, BUILTIN_ANALYZER, createBuiltinAnalyzer, LEXICON_VERSION, MAX_CRISIS_CHARS, scoreSentiment } from "../../src/analysis/builtin/index.ts";
import { CRISIS_PATTERNS, hintPresent } from "../../src/analysis/builtin/crisis.ts";
import { evaluate, parseEvalSet, percentile, TARGETS } from "../../src/analysis/builtin/evaluation.ts";
import { MEDS, MEDS_HINTS } from "../../src/analysis/builtin/lexicon.ts";
import { normalizeText, repairShortKey, splitSentences, withinOneEdit } from "../../src/analysis/builtin/normalize.ts";
import { verbForms } from "../../src/analysis/builtin/word-classes.ts";
import { DEFAULT_TOPICS, loadTopicTaxonomy } from "../../src/analysis/topics.ts";
import { RISK_LEVELS, riskRank, type RiskLevel } from "../../src/analysis/types.ts";
import { ROOT } from "../helpers.ts";

const FIXTURE = join(ROOT, "test", "fixtures", "crisis-eval.jsonl");
const fixtureText = readFileSync(FIXTURE, "utf8");
const analyzer = createBuiltinAnalyzer();
const level = (text: string): RiskLevel => assessCrisis(text).risk_level;
const atLeast = (text: string, min: RiskLevel) => expect(riskRank(level(text))).toBeGreaterThanOrEqual(riskRank(min));

/** Every sentence the safety-rule tests use; a test below checks that none is in the evaluation set. */
const RULES: Record<string, { level: RiskLevel | "medium+"; texts: string[] }> = {
  "negation lowers a risk to low but never clears it": { level: "low", texts: ["I'd never take my own life, I promise you", "I am not planning to end my life", "i wont kill myself dont worry"] },
  "idioms and hyperbole about trivial things are not crises": { level: "none", texts: ["this commute is murdering me", "I could eat a horse, I'd murder a sandwich", "she's dying to meet your new puppy", "my knees are killing me after the hike", "I'll kill you if you eat the last cookie, haha", "he laughed so hard he nearly died", "I'll murder him if he forgets the milk again lol"] },
  "passive ideation is at least medium": { level: "medium+", texts: ["I don't want to wake up in the morning anymore", "my kids would be better off without me", "I wish I could vanish for good", "what is the point of life anymore"] },
  "a plan, means or time is high": { level: "high", texts: ["I have been saving my sleeping pills for a month", "Tomorrow night I'm going to end it", "I ordered a rope online to end it", "I've finished writing goodbye letters to my kids"] },
  "ideation with means escalates to high": { level: "high", texts: ["I want to die and I have a gun in the drawer"] },
  "self-harm disclosures are high": { level: "high", texts: ["I cut myself last night again", "I've been burning my arms with a lighter"] },
  "a third party at risk is at least medium": { level: "medium+", texts: ["my cousin says he wants to die", "my teammate keeps talking about killing herself"] },
  "typos, slang and missing apostrophes do not hide a risk": { level: "medium+", texts: ["i want to kil myselfff", "dont wanna live no more", "i wanna die rn", "kms fr"] },
  "past and recovery statements are low": { level: "low", texts: ["I self harmed as a teenager but I'm happy now"] },
  "quotes and lyrics are low": { level: "low", texts: ['she was humming "I want to die" all day, it\'s that song'] },
  "someone else's act in fiction is not a crisis": { level: "none", texts: ["in the novel the detective's wife kills herself"] },
  "ordinary negative feelings are not crises": { level: "none", texts: ["I'm gutted my team got knocked out", "deadlines are stressful this month"] },
  "abuse disclosures are at least medium": { level: "medium+", texts: ["my girlfriend slaps me when she's drunk", "my father hurts me and I'm afraid to go home"] },
  "medical emergencies are high": { level: "high", texts: ["I swallowed too many painkillers", "my chest is in pain and I can't breathe properly"] },
  "a threat to someone is medium, high with a plan": { level: "medium+", texts: ["I'm going to hurt my neighbour", "I'm going to stab my neighbour tonight, I've got the knife ready"] },
};

describe("the analyzer's contract", () => {
  test('its id is "builtin/1" and it returns the AnalysisCore shape', () => {
    expect(BUILTIN_ANALYZER).toBe("builtin/1");
    const a = analyzer.analyze("I slept badly and the deadline is tomorrow.");
    expect(a.analyzer).toBe("builtin/1");
    expect(Object.keys(a).sort()).toEqual(["analyzer", "crisis", "sentiment", "topics"]);
    expect(Object.keys(a.sentiment).sort()).toEqual(["confidence", "labels", "score"]);
    expect(Object.keys(a.topics).sort()).toEqual(["context", "relevance", "topics"]);
    expect(Object.keys(a.crisis).sort()).toEqual(["recommended_action", "risk_level", "triggers"]);
  });

  const odd = ["", "   ", "😀🎉", "\u0000\u0001\ud800 broken \udfff", "x".repeat(70_000), "constructor __proto__ toString", "<script>alert(1)</script>", "a.b.c;d!e?f\n\n\n", Array.from({ length: 4000 }, (_, i) => String.fromCharCode(i % 0xd7ff)).join("")];
  test("never throws and stays in range on any string", () => {
    for (const text of odd) {
      const a = analyzer.analyze(text);
      expect(a.sentiment.score).toBeGreaterThanOrEqual(-1);
      expect(a.sentiment.score).toBeLessThanOrEqual(1);
      expect(a.sentiment.confidence).toBeGreaterThanOrEqual(0);
      expect(a.sentiment.confidence).toBeLessThanOrEqual(1);
      expect(["positive", "neutral", "negative"]).toContain(a.sentiment.labels[0]!);
      expect(a.topics.relevance.length).toBe(a.topics.topics.length);
      expect(RISK_LEVELS).toContain(a.crisis.risk_level);
    }
    expect(() => analyzer.analyze(undefined as unknown as string)).not.toThrow();
  });

  test("empty text is neutral with no topics and no risk", () => {
    const a = analyzer.analyze("");
    expect(a.sentiment).toEqual({ score: 0, labels: ["neutral"], confidence: 0 });
    expect(a.topics).toEqual({ topics: [], relevance: [], context: "" });
    expect(a.crisis).toEqual({ risk_level: "none", triggers: [], recommended_action: "No action needed." });
  });

  test("a 64 KiB message is analysed in bounded time, and a risk at its end is still found", () => {
    const filler = "The sprint review went fine and the release notes are ready for Friday. ".repeat(900);
    const text = `${filler.slice(0, MAX_CRISIS_CHARS - 40)} I want to kill myself.`;
    const start = performance.now();
    const a = analyzer.analyze(text);
    expect(performance.now() - start).toBeLessThan(2_000);
    expect(a.crisis.risk_level).toBe("high");
    for (const nasty of ["a".repeat(65_536), "bridge ".repeat(9_000), "i want to i want to ".repeat(3_000), "😭".repeat(30_000)]) {
      const t0 = performance.now();
      analyzer.analyze(nasty);
      expect(performance.now() - t0).toBeLessThan(2_000);
    }
  });
});

describe("sentiment", () => {
  test("score, polarity label first, then emotions", () => {
    const pos = scoreSentiment("Thank you so much, this made my week! 🎉");
    expect(pos.score).toBeGreaterThan(0.3);
    expect(pos.labels[0]).toBe("positive");
    const neg = scoreSentiment("I'm furious, they lost my luggage and nobody cares");
    expect(neg.score).toBeLessThan(-0.3);
    expect(neg.labels).toEqual(["negative", "anger"]);
    expect(scoreSentiment("The meeting is in room 4.").labels[0]).toBe("neutral");
  });

  test("chat idioms and negated harm words are read the way people mean them", () => {
    expect(scoreSentiment("you absolutely nailed it").score).toBeGreaterThan(0);
    expect(scoreSentiment("can't wait for the gig").score).toBeGreaterThan(0);
    expect(scoreSentiment("I don't want to hurt anyone, I feel empty").score).toBeLessThan(0);
    expect(scoreSentiment("oh great, the deploy failed again").score).toBeLessThan(0);
  });

  test("a medium or high risk makes the analysis negative even when the words look positive", () => {
    expect(scoreSentiment("they'd all be happier if I was gone").score).toBeGreaterThan(0);
    const a = analyzer.analyze("they'd all be happier if I was gone");
    expect(a.crisis.risk_level).toBe("medium");
    expect(a.sentiment.labels[0]).toBe("negative");
    expect(a.sentiment.labels).toContain("sadness");
  });
});

describe("topics", () => {
  test("lemmas and stems match inflections, most relevant first, with a short context", () => {
    const a = analyzer.analyze("I haven't slept properly in days. Sleeping pills don't help with the insomnia. Work is fine.");
    expect(a.topics.topics[0]).toBe("sleep");
    expect(a.topics.topics).toContain("work");
    expect(a.topics.relevance[0]!).toBeGreaterThan(a.topics.relevance[a.topics.topics.indexOf("work")]!);
    for (const r of a.topics.relevance) expect(r >= 0 && r <= 1).toBe(true);
    expect([...a.topics.relevance].sort((x, y) => y - x)).toEqual(a.topics.relevance);
    expect(a.topics.context).toContain("Sleeping pills");
    const long = analyzer.analyze(`The flaky test keeps failing on the build pipeline ${"and again ".repeat(30)}.`);
    expect(long.topics.topics[0]).toBe("bugs");
    expect(long.topics.context.length).toBeLessThanOrEqual(100);
    expect(long.topics.context.endsWith("…")).toBe(true);
    expect(analyzer.analyze("ok").topics).toEqual({ topics: [], relevance: [], context: "" });
  });

  test("the default taxonomy covers the users' subjects", () => {
    for (const name of ["mental_health", "mood", "sleep", "work", "family", "relationships", "grief", "substance_use", "self_esteem", "health", "money", "school", "planning", "bugs", "deadlines"]) expect(DEFAULT_TOPICS.topics[name]).toBeDefined();
  });

  test("a taxonomy file replaces the default", () => {
    const dir = mkdtempSync(join(tmpdir(), "sessiond-topics-"));
    const file = join(dir, "topics.json");
    writeFileSync(file, JSON.stringify({ topics: { gardening: ["garden", "Tomato", "pull weeds"] } }));
    const loaded = loadTopicTaxonomy(file);
    expect(loaded).toEqual({ ok: true, taxonomy: { topics: { gardening: ["garden", "tomato", "pull weeds"] } } });
    if (!loaded.ok) return;
    const custom = createBuiltinAnalyzer({ topics: loaded.taxonomy });
    const a = custom.analyze("Pulling weeds in the gardens, the tomatoes are growing");
    expect(a.topics.topics).toEqual(["gardening"]);
    expect(a.topics.relevance[0]!).toBeGreaterThan(0.8);
  });

  test("a bad taxonomy file gives one sentence that says what is wrong", () => {
    const dir = mkdtempSync(join(tmpdir(), "sessiond-topics-"));
    const write = (name: string, content: string) => { const f = join(dir, name); writeFileSync(f, content); return f; };
    const cases: Array<[string, RegExp]> = [
      [join(dir, "missing.json"), /does not exist\.$/],
      [dir, /is a directory/],
      [write("bad.json", "{topics:"), /is not valid JSON/],
      [write("array.json", "[]"), /"topics" object/],
      [write("notopics.json", '{"sleep": ["bed"]}'), /"topics" must be an object/],
      [write("empty.json", '{"topics": {}}'), /"topics" is empty/],
      [write("name.json", '{"topics": {"Bad Name!": ["x"]}}'), /topic name "Bad Name!"/],
      [write("list.json", '{"topics": {"sleep": "bed"}}'), /topic "sleep" must map to a list of words/],
      [write("word.json", '{"topics": {"sleep": ["bed", 3]}}'), /word 2 of topic "sleep" must be a non-empty string/],
      [write("none.json", '{"topics": {"sleep": []}}'), /topic "sleep" has no words/],
    ];
    for (const [path, message] of cases) {
      const r = loadTopicTaxonomy(path);
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.error).toMatch(message);
      expect(r.error.split(/\.\s/).length).toBe(1);
      expect(r.error.startsWith(`The topics file ${path}`)).toBe(true);
    }
  });
});

describe("crisis: the safety rules", () => {
  for (const [rule, { level: expected, texts }] of Object.entries(RULES)) {
    test(rule, () => {
      for (const text of texts) {
        const got = level(text);
        if (expected === "medium+") expect({ text, got: riskRank(got) >= riskRank("medium") }).toEqual({ text, got: true });
        else expect({ text, got }).toEqual({ text, got: expected });
      }
    });
  }

  test("an ideation combined with a plan, means or time escalates; the same ideation alone does not", () => {
    expect(level("I don't want to exist anymore")).toBe("medium");
    expect(level("I don't want to exist anymore, I've counted out the tablets")).toBe("high");
    expect(level("I don't want to exist anymore and tonight I'll make sure of it")).toBe("high");
  });

  test("a hyperbolic death wish with a joke marker is low, never none", () => {
    expect(level("lol I want to die, my code won't compile")).toBe("low");
    expect(level("lol I want to die, my code won't compile, not joking")).toBe("medium");
  });

  test("triggers name the category and the phrase; the action is graded by level", () => {
    const high = assessCrisis("I've saved up all my tablets and tonight I'll use them");
    expect(high.risk_level).toBe("high");
    for (const t of high.triggers) expect(t).toMatch(/^(suicidal_ideation|self_harm|harm_to_others|abuse|medical_emergency): \S/);
    expect(high.triggers[0]).toBe("suicidal_ideation: saved up all my tablets");
    expect(high.recommended_action).toMatch(/^Act now: contact the person/);
    expect(assessCrisis("he hits me").recommended_action).toMatch(/^Reach out soon/);
    expect(assessCrisis("I'm not going to hurt myself").recommended_action).toMatch(/^Monitor/);
    expect(assessCrisis("lunch at noon?")).toEqual({ risk_level: "none", triggers: [], recommended_action: "No action needed." });
    expect(assessCrisis("my brother says he wants to die").recommended_action).toContain("about someone else");
    expect(assessCrisis("I'm having chest pain").recommended_action).toContain("emergency services");
  });
});

describe("the lexicon", () => {
  test("is versioned and every pattern is well-formed", () => {
    expect(LEXICON_VERSION).toBe(3);
    const ids = CRISIS_PATTERNS.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of CRISIS_PATTERNS) expect({ id: p.id, global: p.re.global || p.re.sticky }).toEqual({ id: p.id, global: false });
  });

  test("no pattern's hint gate hides a match on any evaluation or rule sentence", () => {
    const texts = [...fixtureText.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text), ...Object.values(RULES).flatMap((r) => r.texts)];
    for (const text of texts) {
      for (const sentence of splitSentences(normalizeText(text))) {
        for (const p of CRISIS_PATTERNS) if (p.re.test(sentence)) expect({ id: p.id, sentence, gated: hintPresent(p.hint, sentence) }).toEqual({ id: p.id, sentence, gated: true });
      }
    }
  });

  test("every medicine word contains one of the medicine hints", () => {
    const words = MEDS.slice(3, -1).split("|").map((w) => w.replace(/\\w\*|\?|s\?$/g, ""));
    for (const w of words) expect({ w, hinted: MEDS_HINTS.some((h) => w.includes(h)) }).toEqual({ w, hinted: true });
  });

  test("normalisation undoes chat spelling", () => {
    expect(normalizeText("I’m gonna kms, dont care")).toBe("i am going to kill myself, do not care");
    expect(normalizeText("i wanna d!e 2nite")).toBe("i want to die tonight");
    expect(normalizeText("su1c1de myslef k*ll")).toBe("suicide myself kill");
    expect(normalizeText("I can't, he'll, she's been")).toBe("i can not, he will, she has been");
    expect(normalizeText("constructor toString")).toBe("constructor tostring");
    expect(withinOneEdit("myslef", "myself")).toBe(true);
    expect(normalizeText("i am willing myself on")).toBe("i am willing myself on"); // "killing" is one edit away, so it is no fuzzy key
    expect(withinOneEdit("mysterious", "myself")).toBe(false);
  });
});

describe("crisis: the compositional frames generalise", () => {
  // Sentences in no evaluation part: each one exercises a class or an engine rule, not a listed phrase.
  const FRAMES: Array<[string, RiskLevel | "medium+", string[]]> = [
    ["a desire and a death state with words between", "medium+", ["honestly i would love to just never wake up", "some nights i am ready to stop breathing"]],
    ["a lethal verb with myself, coded or slang", "high", ["thinking about topping myself tbh", "might self delete later", "im going to unalive myself"]],
    ["a bare coded verb takes the subject of its sentence", "medium+", ["my cousin keeps saying he wants to unalive"]],
    ["indifference to dying", "medium+", ["i would not even be sad if a lorry ran me over"]],
    ["a means named before its keeping", "high", ["there are 25 painkillers stashed in my pencil case"]],
    ["a stated purpose outweighs the accident reading", "high", ["burned my wrist on the oven on purpose"]],
    ["a dropped subject still states an intent", "medium+", ["gonna stab my flatmate when he gets in"]],
    ["a third party who cannot be reached escalates", "high", ["my girlfriend said she wants to die and now her phone is off"]],
    ["two different symptoms add up", "medium+", ["i feel so dizzy and my left side went numb"]],
    ["a double negative is no negation", "medium+", ["i would be lying if i said i do not want to die"]],
    ["a farewell that says it is the last", "high", ["nobody is going to hear from me again after tonight"]],
    // Lexicon v3 (rounds H4 and H5): engine rules and classes, each on a sentence in no part of the set.
    ["distress next to a lethal means is ideation", "high", ["i give up. my mums sleeping tablets are in the kitchen drawer"]],
    ["two weak signs of a plan add up", "high", ["giving my guitar to my brother, i will not be needing it after sunday"]],
    ["an abuse disclosure with a medical sign is high", "high", ["my boyfriend kicks me and last week i passed out"]],
    ["someone else at a height with a farewell", "high", ["my cousin messaged that he is on the bridge and said goodbye"]],
    ["every escalator match counts, not only the first", "high", ["my daughter has locked herself in her room with a razor and is not replying"]],
    ["a medicine by name, and a typed overdose", "high", ["i think i od'd on my meds", "going to down all my citalopram tonight"]],
    ["the agent of a wished-for death may be God or an illness", "medium+", ["i keep praying that god takes me in my sleep"]],
    ["a possessive s still names the person", "medium+", ["i am going to smash that guys face in"]],
    ["a group can be the abuser", "medium+", ["some older boys at school beat me up every day"]],
    ["symptoms that add up, new ones included", "medium+", ["my jaw hurts and i feel faint"]],
  ];
  for (const [rule, expected, texts] of FRAMES) {
    test(rule, () => {
      for (const text of texts) {
        const got = level(text);
        if (expected === "medium+") expect({ text, got: riskRank(got) >= riskRank("medium") }).toEqual({ text, got: true });
        else expect({ text, got }).toEqual({ text, got: expected });
      }
    });
  }

  test("hyperbole keyed on the object of the phrase stays below medium", () => {
    for (const text of ["i would be happy to not wake up early on saturday", "finish the quarter with a win and end it all on a high note", "the rope is ready for the climbing trip", "my little brother punched me for taking his controller", "the belt is tied to the gate so it stays shut", "set a date for the party yet", "he said bye and went home", "our cat tried to jump off the balcony again"]) {
      expect({ text, got: riskRank(level(text)) < riskRank("medium") }).toEqual({ text, got: true });
    }
  });

  test("a question put to the writer is not a disclosure", () => {
    expect(level("the nurse asked whether i had ever wanted to kill myself")).toBe("low");
  });

  test("none of these sentences is in the evaluation set", () => {
    const inSet = new Set(fixtureText.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { text: string }).text));
    expect(FRAMES.flatMap(([, , texts]) => texts).filter((t) => inSet.has(t))).toEqual([]);
  });

  test("word classes and repairs", () => {
    expect(verbForms("stab")).toEqual(["stab", "stabs", "stabbed", "stabbing"]);
    expect(verbForms("overdose")).toEqual(["overdose", "overdoses", "overdosed", "overdosing"]);
    expect(repairShortKey("wnat")).toBe("want");
    expect(repairShortKey("kiill")).toBe("kill");
    expect(repairShortKey("went")).toBe(null);
    expect(normalizeText("she wants to unalive")).toBe("she wants to kill herself");
    expect(normalizeText("i wish id never been born")).toBe("i wish i had never been born");
    expect(normalizeText("took all my 💊")).toContain("took all my pills");
  });
});

describe("evaluation", () => {
  const parsed = parseEvalSet(fixtureText);
  if (!parsed.ok) throw new Error(parsed.error);
  const report = evaluate(parsed.cases, (t) => analyzer.analyze(t));

  test("the set is large enough and covers every level and a sentiment subset", () => {
    expect(parsed.cases.length).toBeGreaterThanOrEqual(200);
    for (const l of RISK_LEVELS) expect(report.perLevel[l].labelled).toBeGreaterThan(20);
    expect(report.sentiment.labelled).toBeGreaterThanOrEqual(60);
  });

  test("the built-in analyzer meets every target on it", () => {
    expect(report.checks.map((c) => ({ name: c.name, pass: c.pass, detail: c.detail }))).toEqual(report.checks.map((c) => ({ name: c.name, pass: true, detail: c.detail })));
    expect(TARGETS.highAsHigh).toBe(0.9);
  });

  test("no rule sentence is in the evaluation set (the rules are tested on unseen text)", () => {
    const inSet = new Set(parsed.cases.map((c) => c.text));
    expect(Object.values(RULES).flatMap((r) => r.texts).filter((t) => inSet.has(t))).toEqual([]);
  });

  test("a bad set is refused with the line that is wrong", () => {
    expect(parseEvalSet('{"text": "a", "risk": "none"}\n{"text": "b", "risk": "severe"}')).toEqual({ ok: false, error: 'line 2: "risk" must be one of none, low, medium, high' });
    expect(parseEvalSet("not json")).toEqual({ ok: false, error: "line 1 is not valid JSON" });
    expect(parseEvalSet("\n\n")).toEqual({ ok: false, error: "the set has no cases" });
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
  });
});
