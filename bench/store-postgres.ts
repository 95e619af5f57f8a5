// PostgreSQL store benchmark: durable appends per second through PgSessionStore (synchronous_commit=on, fsync on)
// against SqliteSessionStore (synchronous=full and normal) in the same run, for N concurrent sessions with one
// append in flight each, and pipelined (several in flight per session). Each append counts once its callback
// reported the commit. Starts its own PostgreSQL server (Debian's binaries) on a free port, stops it after.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { migrate, openDatabase, SqliteSessionStore } from "../src/db/index.ts";
import { migratePostgres } from "../src/pg/migrate.ts";
import { PgSessionStore } from "../src/pg/session-store.ts";
import { newSessionRecord, type AppendInput, type SessionStorage } from "../src/sessions/store.ts";
import { startPostgres } from "../test/engines/postgres.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const content = "x".repeat(200);

/** Appends for SECONDS: `sessions` sessions, `inFlight` appends outstanding per session; acks per second. */
async function drive(store: SessionStorage, prefix: string, sessions: number, inFlight: number): Promise<number> {
  const ids = Array.from({ length: sessions }, (_, i) => `${prefix}-${i}`);
  const now = Date.now();
  for (const id of ids) await store.insertSession(newSessionRecord({ id, ownerId: "u", at: now }));
  let acked = 0;
  let failed = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const loop = async (sessionId: string, k: number) => {
    while (performance.now() < deadline) {
      const a: AppendInput = { id: Bun.randomUUIDv7(), sessionId, userId: `u${k}`, role: "user", kind: "text", content, clientMsgId: Bun.randomUUIDv7(), createdAt: Date.now() };
      await new Promise<void>((resolve) => store.append(a, (e) => (e ? failed++ : acked++, resolve())));
    }
  };
  const started = performance.now();
  await Promise.all(ids.flatMap((id) => Array.from({ length: inFlight }, (_, k) => loop(id, k))));
  if (failed > 0) console.error(`  ${failed} appends failed`);
  return acked / ((performance.now() - started) / 1000);
}

let runNo = 0;
async function runPg(url: string, sessions: number, inFlight: number): Promise<number> {
  const store = new PgSessionStore(new SQL({ url, max: 4 }));
  const rate = await drive(store, `pg${++runNo}`, sessions, inFlight);
  await store.close();
  return rate;
}

function runSqlite(synchronous: "full" | "normal", sessions: number, inFlight: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-bench-"));
  const sqlite = openDatabase(join(dir, "b.db"), { synchronous });
  migrate(sqlite);
  const store = new SqliteSessionStore(sqlite, { maxBatch: 1024, maxDelayMs: 0 });
  return drive(store, "sq", sessions, inFlight).finally(() => {
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (x: number) => Math.round(x).toLocaleString("en-US");

const pg = await startPostgres();
try {
  const admin = new SQL({ url: pg.url, max: 1 });
  await migratePostgres(admin);
  const [{ synchronous_commit }] = await admin.unsafe("SHOW synchronous_commit");
  const [{ fsync }] = await admin.unsafe("SHOW fsync");
  const [{ version }] = await admin.unsafe("SELECT version()");
  await admin.close();
  console.log(`PostgreSQL store benchmark: ${cpus().length} cores, Bun ${Bun.version}, ${String(version).split(" on ")[0]}, synchronous_commit=${synchronous_commit}, fsync=${fsync}`);
  console.log(`${SECONDS} s per run, median of ${ROUNDS}; durable acks per second (callback after COMMIT), 200-byte messages with a clientMsgId\n`);
  console.log("| sessions | in flight per session | PostgreSQL (sync commit on) | SQLite synchronous=full | SQLite synchronous=normal |");
  console.log("| ---: | ---: | ---: | ---: | ---: |");
  for (const [sessions, inFlight] of [[1, 1], [64, 1], [256, 1], [1024, 1], [64, 16], [256, 8]] as const) {
    const r = { pg: [] as number[], full: [] as number[], normal: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      r.pg.push(await runPg(pg.url, sessions, inFlight));
      r.full.push(await runSqlite("full", sessions, inFlight));
      r.normal.push(await runSqlite("normal", sessions, inFlight));
    }
    console.log(`| ${sessions} | ${inFlight} | ${f(median(r.pg))} | ${f(median(r.full))} | ${f(median(r.normal))} |`);
  }
} finally {
  await pg.stop();
}
