// combineAnalyses: how the builtin and LLM analyses merge in modes llm and both (pure).
import { describe, expect, test } from "bun:test";
import { combineAnalyses } from "../../src/analysis/combine.ts";
import type { AnalysisCore, RiskLevel } from "../../src/analysis/types.ts";

function analysis(analyzer: string, level: RiskLevel, triggers: string[], action: string, score: number, topic: string): AnalysisCore {
  return {
    sentiment: { score, labels: [score < 0 ? "negative" : "positive"], confidence: 0.8 },
    topics: { topics: [topic], relevance: [0.7], context: `about ${topic}` },
    crisis: { risk_level: level, triggers, recommended_action: action },
    analyzer,
  };
}
const builtin = (level: RiskLevel, triggers: string[] = []) => analysis("builtin/1", level, triggers, `builtin says ${level}`, -0.2, "builtin-topic");
const llm = (level: RiskLevel, triggers: string[] = []) => analysis("llm/qwen3", level, triggers, `llm says ${level}`, -0.9, "llm-topic");

describe("mode llm", () => {
  test("the LLM's result as it is", () => {
    const l = llm("low");
    expect(combineAnalyses(builtin("high"), l, "llm")).toEqual(l);
  });

  test("no LLM result: the builtin's, still named builtin/1", () => {
    const b = builtin("medium", ["self_harm: cut myself"]);
    const out = combineAnalyses(b, null, "llm");
    expect(out).toEqual(b);
    expect(out.analyzer).toBe("builtin/1");
  });
});

describe("mode both", () => {
  test("sentiment and topics come from the LLM, and the analyzer names both", () => {
    const out = combineAnalyses(builtin("none"), llm("none"), "both");
    expect(out.sentiment.score).toBe(-0.9);
    expect(out.topics.topics).toEqual(["llm-topic"]);
    expect(out.analyzer).toBe("builtin/1+llm/qwen3");
  });

  test("the model can raise the risk: level and recommended action are the LLM's", () => {
    const out = combineAnalyses(builtin("low"), llm("high"), "both");
    expect(out.crisis.risk_level).toBe("high");
    expect(out.crisis.recommended_action).toBe("llm says high");
  });

  test("the model can never lower the risk: level and recommended action stay the builtin's", () => {
    for (const lower of ["none", "low", "medium"] as const) {
      const out = combineAnalyses(builtin("high"), llm(lower), "both");
      expect(out.crisis.risk_level).toBe("high");
      expect(out.crisis.recommended_action).toBe("builtin says high");
    }
  });

  test("on equal levels the builtin's recommended action is kept", () => {
    expect(combineAnalyses(builtin("medium"), llm("medium"), "both").crisis.recommended_action).toBe("builtin says medium");
  });

  test("triggers are the union, builtin first, without duplicates", () => {
    const out = combineAnalyses(builtin("medium", ["a: x", "b: y"]), llm("high", ["b: y", "c: z"]), "both");
    expect(out.crisis.triggers).toEqual(["a: x", "b: y", "c: z"]);
  });

  test("no LLM result: the builtin's unchanged", () => {
    const b = builtin("high", ["suicidal_ideation: end it"]);
    expect(combineAnalyses(b, null, "both")).toEqual(b);
  });

  test("the inputs are not modified", () => {
    const b = builtin("low", ["a: x"]);
    const l = llm("high", ["c: z"]);
    const before = JSON.stringify([b, l]);
    combineAnalyses(b, l, "both");
    expect(JSON.stringify([b, l])).toBe(before);
  });
});
