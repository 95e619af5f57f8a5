// Generates a grown database for bench/growth.ts: N active sessions holding M messages (a few "big" sessions of
// 1,000 messages each for cold recoveries, the rest spread evenly), written straight into a migrated file.
// `bun bench/growth-data.ts <dir> [sessions] [messages]`. The generated sessions have analysis off (as if they
// predate it), so the analysis catch-up has nothing to do at start-up; sessions the benchmark opens use the default.
import { join } from "node:path";
import { migrate, openDatabase } from "../src/db/index.ts";
import { databasePath } from "../src/db/open.ts";

export interface GrowthShape {
  sessions: number;
  messages: number;
  /** Sessions of exactly `bigSize` messages, `big-0` ... (counted in `sessions` and `messages`). */
  big: number;
  bigSize: number;
  /** Last activity this long ago (ms): older than SESSION_EXPIRY_SECONDS makes every session idle. @default 0 */
  idleForMs?: number;
}

export const BIG_OWNER = "grow-owner";

/** Writes the shape into DATA_DIR `dir` (its sessiond.db); returns how long it took in ms. */
export function generate(dir: string, shape: GrowthShape): number {
  const started = performance.now();
  const sqlite = openDatabase(databasePath(dir), { walAutoCheckpoint: 10_000 });
  migrate(sqlite);
  sqlite.run("PRAGMA synchronous = OFF");
  const now = Date.now();
  const at = now - (shape.idleForMs ?? 0);
  const session = sqlite.prepare(
    `INSERT INTO sessions (id, owner_id, started_at, last_activity_at, last_seq, message_count, participant_count, analysis)
     VALUES (?, ?, ?, ?, ?, ?, 1, '{"enabled":false,"share":"staff"}')`,
  );
  const participant = sqlite.prepare("INSERT INTO session_participants (session_id, user_id, first_seen_at) VALUES (?, ?, ?)");
  const message = sqlite.prepare(
    "INSERT INTO messages (id, session_id, seq, user_id, role, kind, content, metadata, client_msg_id, created_at) VALUES (?, ?, ?, ?, 'user', 'text', ?, NULL, ?, ?)",
  );
  const small = shape.sessions - shape.big;
  const rest = shape.messages - shape.big * shape.bigSize;
  const writeSession = (id: string, owner: string, count: number) => {
    session.run(id, owner, at - count * 1000, at, count, count);
    participant.run(id, owner, at - count * 1000);
    for (let seq = 1; seq <= count; seq++) {
      message.run(Bun.randomUUIDv7(), id, seq, owner, `message ${seq} of ${id}: a line of ordinary chat of about eighty characters`, seq % 2 ? `c-${seq}` : null, at - (count - seq) * 1000);
    }
  };
  const batch = sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      if (i < shape.big) writeSession(`big-${i}`, BIG_OWNER, shape.bigSize);
      else {
        const k = i - shape.big;
        // Spread `rest` over the small sessions as evenly as whole numbers allow.
        const count = Math.floor(((k + 1) * rest) / small) - Math.floor((k * rest) / small);
        writeSession(`grown-${k}`, `user-${k % 5000}`, count);
      }
    }
  });
  for (let i = 0; i < shape.sessions; i += 2000) batch(i, Math.min(shape.sessions, i + 2000));
  sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite.run("ANALYZE");
  sqlite.close();
  return performance.now() - started;
}

if (import.meta.main) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: bun bench/growth-data.ts <dir> [sessions] [messages]");
  const ms = generate(dir, { sessions: Number(process.argv[3] ?? 100_000), messages: Number(process.argv[4] ?? 2_000_000), big: 50, bigSize: 1000 });
  console.log(`generated in ${(ms / 1000).toFixed(1)} s: ${join(dir, "sessiond.db")}`);
}
