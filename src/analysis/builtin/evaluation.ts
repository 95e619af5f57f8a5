// Evaluation of an analyzer against a labelled set (pure): parsing the JSONL set, the 4×4 confusion matrix,
// recall and precision per level, the acceptance targets, sentiment sign accuracy and per-message timing.
import { RISK_LEVELS, riskRank, type AnalysisCore, type RiskLevel } from "../types.ts";

export interface EvalCase {
  text: string;
  risk: RiskLevel;
  sentiment?: "positive" | "negative" | "neutral";
  note?: string;
  /** 1-based line in the file. */
  line: number;
}

/** The acceptance targets (fractions). */
export const TARGETS = {
  /** Labelled high detected as high, at least. */
  highAsHigh: 0.9,
  /** Labelled high detected as medium or high, at least. */
  highAtLeastMedium: 1,
  /** Labelled medium detected as medium or high, at least. */
  mediumAtLeastMedium: 0.9,
  /** Labelled none raised to medium or high, at most. */
  noneRaisedAtMost: 0.03,
  /** Sign of the sentiment score right on clearly positive/negative messages, at least. */
  sentimentSign: 0.85,
} as const;

export interface TargetCheck {
  name: string;
  value: number | null;
  target: string;
  pass: boolean;
  /** e.g. "27/28"; "no cases" when the set has none (the check then passes). */
  detail: string;
}

export interface EvalReport {
  total: number;
  /** confusion[labelled][detected], both indexed by RISK_LEVELS. */
  confusion: number[][];
  perLevel: Record<RiskLevel, { labelled: number; detected: number; recall: number | null; precision: number | null }>;
  sentiment: { labelled: number; signCorrect: number; labelCorrect: number };
  timing: { p50Ms: number; p99Ms: number; maxMs: number };
  checks: TargetCheck[];
  misses: Array<{ line: number; text: string; labelled: RiskLevel; detected: RiskLevel; note?: string }>;
  pass: boolean;
}

/** Parses a JSONL evaluation set; the error names the first bad line. */
export function parseEvalSet(content: string): { ok: true; cases: EvalCase[] } | { ok: false; error: string } {
  const cases: EvalCase[] = [];
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch {
      return { ok: false, error: `line ${i + 1} is not valid JSON` };
    }
    const o = v as Record<string, unknown>;
    if (typeof o !== "object" || o === null || Array.isArray(o)) return { ok: false, error: `line ${i + 1} is not a JSON object` };
    if (typeof o.text !== "string") return { ok: false, error: `line ${i + 1} has no "text" string` };
    if (typeof o.risk !== "string" || !(RISK_LEVELS as readonly string[]).includes(o.risk)) return { ok: false, error: `line ${i + 1}: "risk" must be one of ${RISK_LEVELS.join(", ")}` };
    if (o.sentiment !== undefined && !["positive", "negative", "neutral"].includes(o.sentiment as string)) return { ok: false, error: `line ${i + 1}: "sentiment" must be positive, negative or neutral` };
    if (o.note !== undefined && typeof o.note !== "string") return { ok: false, error: `line ${i + 1}: "note" must be a string` };
    cases.push({ text: o.text, risk: o.risk as RiskLevel, sentiment: o.sentiment as EvalCase["sentiment"], note: o.note as string | undefined, line: i + 1 });
  }
  if (cases.length === 0) return { ok: false, error: "the set has no cases" };
  return { ok: true, cases };
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

function ratio(num: number, den: number): number | null {
  return den === 0 ? null : num / den;
}

function check(name: string, num: number, den: number, op: ">=" | "<=", threshold: number): TargetCheck {
  const value = ratio(num, den);
  const pass = value === null || (op === ">=" ? value >= threshold - 1e-9 : value <= threshold + 1e-9);
  return { name, value, target: `${op} ${(threshold * 100).toFixed(0)} %`, pass, detail: den === 0 ? "no cases" : `${num}/${den}` };
}

/** Runs the analyzer on every case and measures it against TARGETS. */
export function evaluate(cases: EvalCase[], analyze: (text: string) => AnalysisCore, now: () => number = () => performance.now()): EvalReport {
  const confusion = RISK_LEVELS.map(() => RISK_LEVELS.map(() => 0));
  const times: number[] = [];
  const misses: EvalReport["misses"] = [];
  let sentLabelled = 0;
  let signCorrect = 0;
  let labelCorrect = 0;
  for (const c of cases) {
    const start = now();
    const result = analyze(c.text);
    times.push(now() - start);
    const detected = result.crisis.risk_level;
    confusion[riskRank(c.risk)]![riskRank(detected)]!++;
    if (detected !== c.risk) misses.push({ line: c.line, text: c.text, labelled: c.risk, detected, note: c.note });
    if (c.sentiment === "positive" || c.sentiment === "negative") {
      sentLabelled++;
      const s = result.sentiment.score;
      if ((c.sentiment === "positive" && s > 0) || (c.sentiment === "negative" && s < 0)) signCorrect++;
      if (result.sentiment.labels[0] === c.sentiment) labelCorrect++;
    }
  }
  const row = (l: RiskLevel) => confusion[riskRank(l)]!;
  const perLevel = {} as EvalReport["perLevel"];
  for (const l of RISK_LEVELS) {
    const labelled = row(l).reduce((a, b) => a + b, 0);
    const detected = confusion.reduce((a, r) => a + r[riskRank(l)]!, 0);
    perLevel[l] = { labelled, detected, recall: ratio(row(l)[riskRank(l)]!, labelled), precision: ratio(row(l)[riskRank(l)]!, detected) };
  }
  const high = row("high");
  const medium = row("medium");
  const none = row("none");
  const sum = (r: number[], from: RiskLevel) => r.slice(riskRank(from)).reduce((a, b) => a + b, 0);
  const checks: TargetCheck[] = [
    check("high detected as high", high[3]!, perLevel.high.labelled, ">=", TARGETS.highAsHigh),
    check("high detected as at least medium", sum(high, "medium"), perLevel.high.labelled, ">=", TARGETS.highAtLeastMedium),
    check("medium detected as at least medium", sum(medium, "medium"), perLevel.medium.labelled, ">=", TARGETS.mediumAtLeastMedium),
    check("none raised to medium or high", sum(none, "medium"), perLevel.none.labelled, "<=", TARGETS.noneRaisedAtMost),
    check("sentiment sign correct", signCorrect, sentLabelled, ">=", TARGETS.sentimentSign),
  ];
  const sorted = [...times].sort((a, b) => a - b);
  return {
    total: cases.length,
    confusion,
    perLevel,
    sentiment: { labelled: sentLabelled, signCorrect, labelCorrect },
    timing: { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] ?? 0 },
    checks,
    misses,
    pass: checks.every((c) => c.pass),
  };
}
