// Where the server's time goes under one load: runs sessiond with Bun's sampling profiler (--cpu-prof) through one
// scenario, stops it, and prints sample counts by function (self and inclusive) and by module.
// `bun bench/profile.ts pairs|storm|fanout|join [dir]`; BENCH_ENV='{"ANALYSIS_DEFAULT":"off"}' sets server variables.
// Counts samples, not the profile's times: on a busy machine a sample that spans a descheduled gap is charged the
// whole gap, so times mislead while counts stay proportional to CPU spent.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { connectStorm, fanout, joinLatency, pairs } from "./load.ts";
import { ROOT, startSessiond } from "./servers.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const scenario = process.argv[2] ?? "pairs";
const dir = process.argv[3] ?? mkdtempSync(join(tmpdir(), "sessiond-profile-"));
const top = Number(process.env.PROFILE_TOP ?? 40);
const t = await startSessiond(JSON.parse(process.env.BENCH_ENV ?? "{}"), { bunFlags: ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=250"] });
try {
  if (scenario === "pairs") console.log(await pairs(t, { sessions: 500, inFlight: 4, users: true }));
  else if (scenario === "storm") console.log(await connectStorm(t, { clients: 5000, prefix: "storm" }));
  else if (scenario === "fanout") console.log(await fanout(t, { session: "fan", subscribers: 200, inFlight: 64, users: true }));
  else if (scenario === "join") console.log(await joinLatency(t));
  else throw new Error(`unknown scenario ${scenario}: pairs, storm, fanout or join`);
} finally {
  t.stop();
  await t.exited;
}
const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
if (!file) throw new Error(`no profile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const urlOf = (n: ProfileNode) => n.callFrame.url.replace(/^file:\/\//, "");
const where = (n: ProfileNode) => {
  const url = urlOf(n);
  const { lineNumber } = n.callFrame;
  if (!url || url === "[native code]") return "native";
  return url.startsWith("/") ? `${relative(ROOT, url)}:${lineNumber + 1}` : url;
};
const name = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${where(n)}`;
const moduleOf = (n: ProfileNode) => {
  const url = urlOf(n);
  if (!url || url === "[native code]") return "(native)";
  if (!url.startsWith("/")) return url.split(":")[0]!;
  const rel = relative(ROOT, url);
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel);
  return m ? m[1]! : rel;
};
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const modules = new Map<string, number>();
let idle = 0;
for (const id of profile.samples) {
  const leaf = byId.get(id)!;
  if (leaf.callFrame.functionName === "(idle)" || leaf.callFrame.functionName === "(program)") {
    idle++;
    continue;
  }
  self.set(name(leaf), (self.get(name(leaf)) ?? 0) + 1);
  // Charged to the nearest frame of our own code or a package, so native leaves land where they were called from.
  let owner: ProfileNode | undefined = leaf;
  while (owner && moduleOf(owner) === "(native)" && parent.has(owner.id)) owner = byId.get(parent.get(owner.id)!);
  const mod = owner ? moduleOf(owner) : "(native)";
  modules.set(mod, (modules.get(mod) ?? 0) + 1);
  const seen = new Set<string>();
  for (let n: ProfileNode | undefined = leaf; n; n = parent.has(n.id) ? byId.get(parent.get(n.id)!) : undefined) {
    const key = name(n);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
  }
}
const busy = profile.samples.length - idle;
const table = (title: string, m: Map<string, number>, n: number) => {
  console.log(`\n${title} (of ${busy} busy samples; ${idle} idle)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((v / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
};
table("self, by module (native code charged to its caller)", modules, top);
table("self, by function", self, top);
table("inclusive, by function", inclusive, top * 2);
console.log(`\nfull profile: ${join(dir, file)}`);
