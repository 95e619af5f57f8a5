// Webhook outbox cost on the hot path: the group-commit transaction with no hooks, with the lifecycle events only
// (message.created off: the default), and with message.created on (one outbox row per message, same transaction).
// Prints the transaction time per message and what the outbox adds. `bun bench/outbox.ts` (BENCH_SECONDS × BENCH_ROUNDS).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from "../src/config/index.ts";
import { migrate, openDatabase, SqliteSessionStore } from "../src/db/index.ts";
import { SqliteOutboxStore } from "../src/db/outbox-store.ts";
import { OutboxWriter } from "../src/integrations/webhook-outbox.ts";
import { newSessionRecord } from "../src/sessions/store.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

type Variant = "no webhooks" | "lifecycle only" | "message.created on";

const BATCH = 64;

interface Bench {
  /** Commits one batch of BATCH appends and returns its time in ms. */
  batch(): number;
  close(): void;
}

function open(variant: Variant): Bench {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-bench-"));
  const sqlite = openDatabase(join(dir, "b.db"));
  migrate(sqlite);
  const events: WebhookEventType[] =
    variant === "message.created on" ? [...WEBHOOK_EVENT_TYPES] : WEBHOOK_EVENT_TYPES.filter((t) => t !== "message.created");
  const hooks = variant === "no webhooks" ? undefined : new OutboxWriter({ store: new SqliteOutboxStore(sqlite), events: new Set(events) }).hooks();
  // A huge delay: nothing commits on its own; each batch is committed by flush() while the clock runs.
  const store = new SqliteSessionStore(sqlite, { maxBatch: 100_000, maxDelayMs: 100, hooks });
  const sessions = Array.from({ length: 16 }, (_, i) => `bench-${i}`);
  for (const id of sessions) store.insertSession(newSessionRecord({ id, ownerId: "u", at: Date.now() }));
  const content = "x".repeat(200);
  return {
    batch() {
      for (let k = 0; k < BATCH; k++) {
        store.append(
          { id: Bun.randomUUIDv7(), sessionId: sessions[k % sessions.length]!, userId: `u${k}`, role: "user", kind: "text", content, createdAt: Date.now() },
          (e) => {
            if (e) throw e;
          },
        );
      }
      const t = performance.now();
      store.flush();
      return performance.now() - t;
    },
    close() {
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const variants: Variant[] = ["no webhooks", "lifecycle only", "message.created on"];
const benches = new Map(variants.map((v) => [v, open(v)] as const));
const times = new Map<Variant, number[]>(variants.map((v) => [v, []]));
const deadline = performance.now() + SECONDS * ROUNDS * 1000;
// Interleaved so that other load on the machine hits every variant alike; medians resist the outliers.
while (performance.now() < deadline) for (const v of variants) times.get(v)!.push(benches.get(v)!.batch());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const perMessageUs = (v: Variant) => (median(times.get(v)!) * 1000) / BATCH;
const base = perMessageUs("no webhooks");
console.log(`group-commit transaction time per message (batches of ${BATCH}, synchronous=normal, median of ${times.get("no webhooks")!.length} batches each)`);
for (const v of variants) {
  const us = perMessageUs(v);
  console.log(`${v.padEnd(20)} ${us.toFixed(2).padStart(7)} µs/message${v === "no webhooks" ? "" : `  ${us - base >= 0 ? "+" : ""}${(us - base).toFixed(2)} µs (${(((us - base) / base) * 100).toFixed(0)} %)`}`);
}
for (const b of benches.values()) b.close();
