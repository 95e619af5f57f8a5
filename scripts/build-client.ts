// Builds the browser bundle of the client SDK (one dependency-free ES module) and reports its size.
import { $ } from "bun";

const outfile = process.argv[2] ?? "dist/sessiond-client.js";
await $`bun build ./src/client/index.ts --target=browser --format=esm --minify --outfile ${outfile}`.quiet();
const bytes = await Bun.file(outfile).bytes();
console.log(`built ${outfile}: ${bytes.length} bytes minified, ${Bun.gzipSync(bytes).length} bytes gzipped`);
