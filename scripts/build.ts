// Builds the single binary dist/sessiond. The flags keep a stray bunfig.toml or .env in the folder the binary is
// started from from being loaded (a preload there would run foreign code; a .env would override settings).
// The operator console is bundled first and embedded with --asset, so the binary serves it from memory.
import { $ } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeConsoleBundle } from "../src/console/assets.ts";
import { buildConsole, gzippedSize } from "../src/console/build.ts";

const outfile = process.argv[2] ?? "dist/sessiond";
const target = process.env.SESSIOND_TARGET; // e.g. bun-linux-x64-baseline for CPUs without AVX2
const staging = mkdtempSync(join(tmpdir(), "sessiond-build-"));
try {
  const bundle = await buildConsole();
  const consoleDir = writeConsoleBundle(bundle, staging);
  console.log(`console: ${bundle.files.length} files, ${(gzippedSize(bundle) / 1024).toFixed(1)} KB gzipped`);
  // The analysis worker is a second entry point; `--root ./src` fixes its path in the binary (analysis/worker.js,
  // where src/analysis/worker-analyzer.ts looks for it).
  await $`bun build ./src/main.ts ./src/analysis/worker.ts --root ./src --compile --minify --no-compile-autoload-bunfig --no-compile-autoload-dotenv ${target ? ["--target", target] : []} --asset ${consoleDir} --outfile ${outfile}`;
} finally {
  rmSync(staging, { recursive: true, force: true });
}
console.log(`built ${outfile}`);
