// The analysis of one message by the configured analyzers (ANALYZER): the built-in one (in its worker), and with
// `llm`/`both` the operator's model as well, combined by combineAnalyses. Never rejects: a failure falls back.
import type { ModelErrorKind } from "../ai/errors.ts";
import { combineAnalyses } from "./combine.ts";
import type { LlmAnalysisOutcome } from "./llm.ts";
import { WorkerAnalysisError, type WorkerResult } from "./worker-analyzer.ts";
import type { AnalysisCore } from "./types.ts";

/** Why a result is not the configured analyzer's own: the model's failure kind, or the worker's. */
export type FallbackReason = ModelErrorKind | "worker_timeout" | "worker_failed";

export interface PipelineResult {
  core: AnalysisCore;
  /** Time to analyse: the built-in's compute time; with a model, until the combined result was there. */
  seconds: number;
}

export interface PipelineDeps {
  builtin: { analyze(text: string): Promise<WorkerResult> };
  llm?: { analyzer: { analyzeOrReason(text: string): Promise<LlmAnalysisOutcome> }; mode: "llm" | "both" };
  /** Told of every fallback, for `sessiond_analysis_fallbacks_total{reason}`. */
  onFallback?: (reason: FallbackReason) => void;
  /** Told of every model outcome (true: a usable reply), for the health check. */
  onModelOutcome?: (ok: boolean, reason?: ModelErrorKind) => void;
  /** Further worker attempts after a timeout or crash (the worker is restarted in between). @default 1 */
  workerRetries?: number;
}

/**
 * The analyzer named when none could produce a result: builtin/BUILTIN_ANALYZER's value, written out because
 * importing the built-in analyzer here would load its NLP model (~60 MB) into the main thread as well.
 */
export const FAILED_ANALYZER = "builtin/1";

/**
 * What is stored when neither analyzer produced a result (the worker failed twice and no model answered): a
 * neutral sentiment with no confidence and a `medium` risk naming `analysis_failed`, so a person reads the
 * message instead of it passing as harmless. Pure.
 */
export function failedAnalysis(): AnalysisCore {
  return {
    sentiment: { score: 0, labels: ["neutral"], confidence: 0 },
    topics: { topics: [], relevance: [], context: "" },
    crisis: {
      risk_level: "medium",
      triggers: ["analysis_failed"],
      recommended_action: "Automatic analysis could not complete for this message; read it and judge the risk yourself.",
    },
    analyzer: FAILED_ANALYZER,
  };
}

export function createPipeline(deps: PipelineDeps): (text: string) => Promise<PipelineResult> {
  const retries = deps.workerRetries ?? 1;

  const builtin = async (text: string): Promise<WorkerResult | null> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await deps.builtin.analyze(text);
      } catch (e) {
        const stopped = e instanceof WorkerAnalysisError && e.reason === "stopped";
        if (stopped) throw e;
        if (attempt >= retries) {
          deps.onFallback?.(e instanceof WorkerAnalysisError && e.reason === "timeout" ? "worker_timeout" : "worker_failed");
          return null;
        }
      }
    }
  };

  return async (text) => {
    const started = performance.now();
    if (!deps.llm) {
      const result = await builtin(text);
      return result ? { core: result.core, seconds: result.ms / 1000 } : { core: failedAnalysis(), seconds: (performance.now() - started) / 1000 };
    }
    const [own, model] = await Promise.all([builtin(text), deps.llm.analyzer.analyzeOrReason(text)]);
    deps.onModelOutcome?.(model.ok, model.ok ? undefined : model.reason);
    if (!model.ok) deps.onFallback?.(model.reason);
    const llmCore = model.ok ? model.analysis : null;
    let core: AnalysisCore;
    if (own) core = combineAnalyses(own.core, llmCore, deps.llm.mode);
    else core = llmCore ?? failedAnalysis();
    return { core, seconds: (performance.now() - started) / 1000 };
  };
}
