// Evaluates the built-in analyzer on a labelled JSONL set (default test/fixtures/crisis-eval.jsonl, or argv[2]):
// recall/precision per level, the confusion matrix, target checks, sentiment sign accuracy, per-message time.
// Exit code 0 when every target passes, 1 otherwise (or when the set cannot be read).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createBuiltinAnalyzer, LEXICON_VERSION, MAX_CRISIS_CHARS, nlpLoadMs } from "../src/analysis/builtin/index.ts";
import { evaluate, parseEvalSet, type EvalReport } from "../src/analysis/builtin/evaluation.ts";
import { RISK_LEVELS } from "../src/analysis/types.ts";

// Usage: bun run eval:analysis [set.jsonl] [--misses]   (--misses lists every message detected at another level)
const args = process.argv.slice(2);
const path = args.find((a) => !a.startsWith("--")) ?? join(import.meta.dir, "..", "test", "fixtures", "crisis-eval.jsonl");
const verbose = args.includes("--misses");

function pct(v: number | null): string {
  return v === null ? "   n/a" : `${(v * 100).toFixed(1).padStart(5)} %`;
}

function print(report: EvalReport): void {
  console.log(`\nPer level (${report.total} messages)`);
  console.log("  level    labelled  detected  recall    precision");
  for (const l of RISK_LEVELS) {
    const p = report.perLevel[l];
    console.log(`  ${l.padEnd(8)} ${String(p.labelled).padStart(8)}  ${String(p.detected).padStart(8)}  ${pct(p.recall)}   ${pct(p.precision)}`);
  }
  console.log("\nConfusion matrix (rows: labelled, columns: detected)");
  console.log(`  ${"".padEnd(8)} ${RISK_LEVELS.map((l) => l.padStart(7)).join("")}`);
  report.confusion.forEach((row, i) => console.log(`  ${RISK_LEVELS[i]!.padEnd(8)} ${row.map((n) => String(n).padStart(7)).join("")}`));
  const s = report.sentiment;
  console.log(`\nSentiment on ${s.labelled} clearly positive/negative messages: sign ${s.signCorrect}/${s.labelled}, label ${s.labelCorrect}/${s.labelled}`);
  console.log(`Per-message time: p50 ${report.timing.p50Ms.toFixed(3)} ms, p99 ${report.timing.p99Ms.toFixed(3)} ms, max ${report.timing.maxMs.toFixed(3)} ms`);
  console.log("\nTargets");
  for (const c of report.checks) console.log(`  ${c.pass ? "PASS" : "FAIL"}  ${c.name.padEnd(36)} ${pct(c.value)}  (${c.detail}; target ${c.target})`);
  if (verbose && report.misses.length > 0) {
    console.log("\nMessages detected at another level");
    for (const m of report.misses) console.log(`  line ${m.line}: labelled ${m.labelled}, detected ${m.detected}${m.note ? ` [${m.note}]` : ""}: ${m.text.slice(0, 100)}`);
  }
}

let content: string;
try {
  content = readFileSync(path, "utf8");
} catch {
  console.error(`Cannot read the evaluation set ${path}.`);
  process.exit(1);
}
const parsed = parseEvalSet(content);
if (!parsed.ok) {
  console.error(`The evaluation set ${path} is not valid: ${parsed.error}.`);
  process.exit(1);
}

const loadStart = performance.now();
const rssBefore = process.memoryUsage().rss;
const analyzer = createBuiltinAnalyzer();
analyzer.analyze("warm up: load the model once before timing");
console.log(`builtin/1 (lexicon v${LEXICON_VERSION}) on ${path}`);
console.log(`Model load: ${nlpLoadMs().toFixed(0)} ms, first analysis ${(performance.now() - loadStart).toFixed(0)} ms, RSS +${((process.memoryUsage().rss - rssBefore) / 1e6).toFixed(0)} MB`);

const report = evaluate(parsed.cases, (t) => analyzer.analyze(t));
print(report);

// The bound: a message of the largest size, prose and risk-dense, measured the same way.
const big = "I slept badly and work is stressful, but the team shipped the release, and honestly I want to disappear. ".repeat(700).slice(0, MAX_CRISIS_CHARS);
const times: number[] = [];
for (let i = 0; i < 5; i++) {
  const start = performance.now();
  analyzer.analyze(big);
  times.push(performance.now() - start);
}
console.log(`\n64 KiB message: median ${times.sort((a, b) => a - b)[2]!.toFixed(1)} ms over 5 runs`);
console.log(report.pass ? "\nAll targets pass." : "\nSome targets FAIL.");
process.exit(report.pass ? 0 : 1);
