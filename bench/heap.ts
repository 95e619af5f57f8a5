// What an idle joined connection costs the server: runs a node in this process, opens N connections (each joined to
// its own fresh session) from a child process, and prints the heap's growth by object type after a full GC, with
// RSS. `bun bench/heap.ts [N]` (default 5000). Pure measurement; nothing is written outside a temporary folder.
import { heapStats } from "bun:jsc";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mintToken } from "../src/auth/tokens.ts";
import { loadConfig } from "../src/config/index.ts";
import { startNode } from "../src/server/node.ts";
import { SECRET, SERVER_ENV } from "./servers.ts";

const n = Number(process.argv[2] ?? 5000);
// The client side, run in its own process so its sockets do not count here.
const CLIENTS = `
const sockets = [];
for (let i = 0; i < Number(process.env.N); i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, Number(process.env.N) - i) }, (_, j) => new Promise((resolve, reject) => {
    const ws = new WebSocket(process.env.URL, { headers: { Authorization: "Bearer " + process.env.TOKEN } });
    ws.onopen = () => ws.send(JSON.stringify({ type: "join", session: "mem-" + (i + j), id: 1 }));
    ws.onmessage = (e) => { if (JSON.parse(e.data).type === "joined") { sockets.push(ws); resolve(); } };
    ws.onerror = reject;
  })));
}
console.log("ready");
setInterval(() => {}, 1000);
`;
const dir = mkdtempSync(join(tmpdir(), "sessiond-heap-"));
const loaded = loadConfig({ ...SERVER_ENV, DATA_DIR: dir, PORT: "0", HOST: "127.0.0.1", JWT_SECRET: SECRET, LOG_LEVEL: "warn", ...JSON.parse(process.env.BENCH_ENV ?? "{}") });
if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
const node = await startNode(loaded.config, { version: "bench" });
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    Bun.gc(true);
    await Bun.sleep(100);
  }
};
const snapshot = () => {
  const h = heapStats();
  return { counts: { ...h.objectTypeCounts } as Record<string, number>, heap: h.heapSize, extra: h.extraMemorySize, rss: rss() };
};

await settle();
const before = snapshot();
const sizesBefore = process.env.HEAP_SNAPSHOT ? new Map(sizesByName()) : null;
const token = await mintToken(SECRET, { userId: "mem", ttlSeconds: 3600, admin: true });
const clients = Bun.spawn([process.execPath, "-e", CLIENTS], {
  env: { ...process.env, URL: `ws://127.0.0.1:${node.port}/ws`, TOKEN: token, N: String(n) },
  stdout: "pipe",
  stderr: "inherit",
});
const reader = clients.stdout.getReader();
for (let text = ""; !text.includes("ready"); ) text += new TextDecoder().decode((await reader.read()).value);
await Bun.sleep(500);
await settle();
const after = snapshot();
// Bytes by what the heap snapshot calls each node (constructor or type), for the kinds there are many of.
const bySize = process.env.HEAP_SNAPSHOT ? sizesByName() : null;
const rows = Object.keys(after.counts)
  .map((type) => [type, (after.counts[type] ?? 0) - (before.counts[type] ?? 0)] as const)
  .filter(([, d]) => Math.abs(d) >= n / 10)
  .sort((a, b) => b[1] - a[1]);
console.log(`${n} idle joined connections: per connection, after a full GC`);
console.log(`  heap      ${((after.heap - before.heap) / n).toFixed(0)} B   (extra memory ${((after.extra - before.extra) / n).toFixed(0)} B)`);
console.log(`  RSS       ${((after.rss - before.rss) / n).toFixed(0)} B`);
console.log("  objects per connection, by type:");
for (const [type, d] of rows) console.log(`    ${(d / n).toFixed(2).padStart(6)}  ${type}`);
if (bySize) {
  console.log("  heap snapshot growth, bytes per connection by node name (kinds that grew by at least N/10 nodes):");
  const grown = bySize
    .map(([name, { count, bytes }]) => [name, count - (sizesBefore!.get(name)?.count ?? 0), bytes - (sizesBefore!.get(name)?.bytes ?? 0)] as const)
    .filter(([, count]) => count >= n / 10)
    .sort((a, b) => b[2] - a[2]);
  for (const [name, count, bytes] of grown) console.log(`    ${(bytes / n).toFixed(0).padStart(6)} B  ${(count / n).toFixed(2).padStart(5)}×  ${name}`);
}
clients.kill();
await clients.exited;
await node.shutdown("bench");
rmSync(dir, { recursive: true, force: true });
process.exit(0);

function sizesByName(): Array<[string, { count: number; bytes: number }]> {
  const snap = JSON.parse(Bun.generateHeapSnapshot("v8") as unknown as string) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[]; strings: string[] };
  const fields = snap.snapshot.meta.node_fields.length;
  const nameAt = snap.snapshot.meta.node_fields.indexOf("name");
  const sizeAt = snap.snapshot.meta.node_fields.indexOf("self_size");
  const totals = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields) {
    const name = snap.strings[snap.nodes[i + nameAt]!]!;
    const t = totals.get(name) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += snap.nodes[i + sizeAt]!;
    totals.set(name, t);
  }
  return [...totals].sort((a, b) => b[1].bytes - a[1].bytes);
}
