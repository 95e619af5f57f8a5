// combineAnalyses: merges the builtin analyzer's result with the LLM's by the ANALYZER mode (pure).
import { higherRisk, riskRank, type AnalysisCore } from "./types.ts";

/**
 * - `llm`: the LLM's analysis; when there is none (it failed), the builtin one unchanged (analyzer "builtin/1").
 * - `both`: sentiment and topics from the LLM; the crisis `risk_level` is the higher of the two (a model can raise
 *   a risk, never lower it), triggers are the union (builtin first), and `recommended_action` comes from
 *   whichever side's level won (the builtin's on a tie); analyzer "<builtin>+<llm>", e.g. "builtin/1+llm/qwen3".
 *   When there is no LLM analysis, the builtin one unchanged.
 */
export function combineAnalyses(builtin: AnalysisCore, llm: AnalysisCore | null, mode: "llm" | "both"): AnalysisCore {
  if (llm === null) return builtin;
  if (mode === "llm") return llm;
  const level = higherRisk(builtin.crisis.risk_level, llm.crisis.risk_level);
  const llmWon = riskRank(llm.crisis.risk_level) > riskRank(builtin.crisis.risk_level);
  return {
    sentiment: llm.sentiment,
    topics: llm.topics,
    crisis: {
      risk_level: level,
      triggers: [...new Set([...builtin.crisis.triggers, ...llm.crisis.triggers])],
      recommended_action: llmWon ? llm.crisis.recommended_action : builtin.crisis.recommended_action,
    },
    analyzer: `${builtin.analyzer}+${llm.analyzer}`,
  };
}
