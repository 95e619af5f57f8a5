// Builds the single binary dist/sessiond. The flags keep a stray bunfig.toml or .env in the folder the binary is
// started from from being loaded (a preload there would run foreign code; a .env would override settings).
import { $ } from "bun";

const outfile = process.argv[2] ?? "dist/sessiond";
const target = process.env.SESSIOND_TARGET; // e.g. bun-linux-x64-baseline for CPUs without AVX2
await $`bun build ./src/main.ts --compile --minify --no-compile-autoload-bunfig --no-compile-autoload-dotenv ${target ? ["--target", target] : []} --outfile ${outfile}`;
console.log(`built ${outfile}`);
