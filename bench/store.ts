// Store benchmark: durable appends per second, one transaction per append vs group commit, for 1, 64 and 1024
// concurrent appenders, with synchronous=normal and full. Each appender awaits its commit before the next append.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { migrate, openDatabase, SqliteSessionStore } from "../src/db/index.ts";
import { newSessionRecord } from "../src/sessions/store.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function run(synchronous: "normal" | "full", mode: "per-append" | "group" | "group-immediate", appenders: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-bench-"));
  const sqlite = openDatabase(join(dir, "b.db"), { synchronous });
  migrate(sqlite);
  const store = new SqliteSessionStore(sqlite, mode === "per-append" ? { maxBatch: 1 } : { maxBatch: 1024, maxDelayMs: mode === "group" ? 1 : 0 });
  const sessions = Array.from({ length: 16 }, (_, i) => `bench-${i}`);
  const now = Date.now();
  for (const id of sessions) {
    store.insertSession(newSessionRecord({ id, ownerId: "u", at: now }));
  }
  const content = "x".repeat(200);
  let committed = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const loop = async (k: number) => {
    while (performance.now() < deadline) {
      await new Promise<void>((resolve, reject) =>
        store.append({ id: Bun.randomUUIDv7(), sessionId: sessions[k % sessions.length]!, userId: `u${k}`, role: "user", kind: "text", content, createdAt: Date.now() }, (e) => (e ? reject(e) : resolve())),
      );
      committed++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: appenders }, (_, k) => loop(k)));
  const rate = committed / ((performance.now() - started) / 1000);
  sqlite.close();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`store benchmark: ${cpus().length} cores, Bun ${Bun.version}, ${SECONDS} s per run, median of ${ROUNDS}\n`);
console.log("| synchronous | appenders | one tx per append | group commit (1 ms) | group commit (next tick) | ratio (default next tick / per-append) |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const synchronous of ["normal", "full"] as const) {
  for (const appenders of [1, 64, 1024]) {
    const result: Record<string, number> = {};
    for (const mode of ["per-append", "group", "group-immediate"] as const) {
      const rates: number[] = [];
      for (let r = 0; r < ROUNDS; r++) rates.push(await run(synchronous, mode, appenders));
      result[mode] = median(rates);
    }
    const f = (n: number) => Math.round(n).toLocaleString("en-US");
    console.log(`| ${synchronous} | ${appenders} | ${f(result["per-append"]!)} | ${f(result.group!)} | ${f(result["group-immediate"]!)} | ${(result["group-immediate"]! / result["per-append"]!).toFixed(1)}× |`);
  }
}
