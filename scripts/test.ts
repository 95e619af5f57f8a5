// `npm test`: the whole suite on single nodes, then a second pass of the protocol and SDK tests, unchanged, against
// two-node clusters (SESSIOND_TEST_TOPOLOGY=cluster: each server a test starts is PostgreSQL, Redis and two nodes
// behind a round-robin balancer; see test/helpers.ts). Arguments go to both passes; a JUnit outfile gets a
// `.cluster` twin for the second. Given test paths or filters, only the first pass runs, on those.

/** The existing protocol, HTTP and SDK tests that run again on a cluster. */
export const CLUSTER_PASS = [
  "test/realtime/message-frame.test.ts",
  "test/realtime/recovery.test.ts",
  "test/realtime/bad-input.test.ts",
  "test/http/api.test.ts",
  "test/client/client.test.ts",
];

/** The two passes' argument lists (pure). */
export function passes(args: readonly string[]): { single: string[]; cluster: string[] | null } {
  const single = ["test", "--timeout", "30000", ...args];
  const filtered = args.some((a) => !a.startsWith("-"));
  if (filtered) return { single, cluster: null };
  const cluster = args.map((a) => (a.startsWith("--reporter-outfile=") ? a.replace(/(\.xml)?$/, (ext) => `.cluster${ext || ""}`) : a));
  return { single, cluster: ["test", "--timeout", "60000", ...cluster, ...CLUSTER_PASS] };
}

if (import.meta.main) {
  const { single, cluster } = passes(process.argv.slice(2));
  const run = (argv: string[], env: Record<string, string> = {}) =>
    Bun.spawn([process.execPath, ...argv], { stdio: ["inherit", "inherit", "inherit"], env: { ...process.env, ...env } }).exited;
  const first = await run(single);
  let second = 0;
  if (cluster) {
    console.log("\n== the protocol and SDK tests again, each server a two-node cluster (PostgreSQL + Redis)\n");
    second = await run(cluster, { SESSIOND_TEST_TOPOLOGY: "cluster" });
  }
  process.exit(first !== 0 ? first : second);
}
