// The webhook sender in-process, over real SQLite with an injected fetch: concurrency per endpoint, timeouts,
// an attempt cut short by shutdown (left due, not counted), and the live change feed the console listens to.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { WEBHOOK_EVENT_TYPES } from "../../src/config/index.ts";
import { migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import { SqliteOutboxStore } from "../../src/db/outbox-store.ts";
import { WebhookAdmin, type WebhookChange } from "../../src/integrations/webhook-admin.ts";
import { webhookEndpoints } from "../../src/integrations/webhook-endpoints.ts";
import { OutboxWriter } from "../../src/integrations/webhook-outbox.ts";
import { WebhookSender } from "../../src/integrations/webhook-sender.ts";
import { webhookKey } from "../../src/integrations/webhook-signing.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";
import { eventually, tempDir } from "../helpers.ts";
import { WEBHOOK_TEST_SECRET } from "./receiver.ts";

function setup(fetchImpl: typeof fetch, opts: { timeoutMs?: number } = {}) {
  const sqlite = openDatabase(join(tempDir(), "w.db"));
  migrate(sqlite);
  const outbox = new SqliteOutboxStore(sqlite);
  const endpoints = webhookEndpoints(["http://127.0.0.1:9/hook"]);
  const metrics = new Metrics();
  const lines: string[] = [];
  const sender = new WebhookSender({
    store: outbox,
    endpoints,
    key: webhookKey(WEBHOOK_TEST_SECRET),
    retry: { baseMs: 10, maxAgeMs: 60_000 },
    timeoutMs: opts.timeoutMs ?? 10_000,
    logger: createLogger("debug", (l) => lines.push(l)),
    metrics: { deliveries: metrics.counter("d_total", "d"), latency: metrics.histogram("l_seconds", "l") },
    userAgent: "sessiond/test",
    fetch: fetchImpl,
  });
  const writer = new OutboxWriter({ store: outbox, events: new Set(WEBHOOK_EVENT_TYPES), onRecorded: () => sender.wake() });
  const store = new SqliteSessionStore(sqlite, { hooks: writer.hooks() });
  const admin = new WebhookAdmin(outbox, endpoints, sender);
  return { sqlite, outbox, sender, store, admin, lines };
}

describe("the sender", () => {
  test("at most 4 requests per endpoint at once, one per session lane", async () => {
    let inFlight = 0;
    let most = 0;
    const sessionsInFlight = new Set<string>();
    let overlapInLane = false;
    const { sender, store, outbox } = setup((async (_url: string, init: RequestInit) => {
      const sid = JSON.parse(String(init.body)).data.session.id as string;
      if (sessionsInFlight.has(sid)) overlapInLane = true;
      sessionsInFlight.add(sid);
      most = Math.max(most, ++inFlight);
      await Bun.sleep(20);
      inFlight--;
      sessionsInFlight.delete(sid);
      return new Response(null, { status: 204 });
    }) as typeof fetch);
    sender.start();
    for (let i = 0; i < 10; i++) {
      store.insertSession(newSessionRecord({ id: `s${i}`, ownerId: "o", at: Date.now() }));
      store.endSession(`s${i}`, "completed", Date.now());
    }
    await eventually(() => outbox.list({ status: "delivered", limit: 100 }).length === 20, 10_000, "20 deliveries");
    expect(most).toBe(4);
    expect(overlapInLane).toBe(false);
    await sender.stop();
  });

  test("a receiver slower than the timeout is a failed attempt named timeout", async () => {
    const { sender, store, outbox } = setup(
      ((_u: string, init: RequestInit) =>
        new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(new Error("aborted"))))) as typeof fetch,
      { timeoutMs: 50 },
    );
    sender.start();
    store.insertSession(newSessionRecord({ id: "slow", ownerId: "o", at: Date.now() }));
    await eventually(() => outbox.list({ limit: 1 })[0]?.last_error === "timeout", 5000, "a timed-out attempt");
    expect(outbox.list({ limit: 1 })[0]!.status).toBe("failed");
    await sender.stop();
  });

  test("shutdown cuts an attempt short: it is not counted and stays due for the restart", async () => {
    let started = false;
    const { sender, store, outbox } = setup(((_u: string, init: RequestInit) => {
      started = true;
      return new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(new Error("aborted"))));
    }) as typeof fetch);
    sender.start();
    store.insertSession(newSessionRecord({ id: "cut", ownerId: "o", at: Date.now() }));
    await eventually(() => started, 5000, "the attempt");
    await sender.stop();
    expect(outbox.list({ limit: 1 })[0]).toMatchObject({ status: "pending", attempts: 0, last_error: null });
  });

  test("the change feed reports each attempt's outcome as a delivery view", async () => {
    let fail = true;
    const { sender, store, admin } = setup((async () => new Response(null, { status: fail ? 500 : 200 })) as unknown as typeof fetch);
    const changes: WebhookChange[] = [];
    admin.onChange((c) => changes.push(c));
    sender.start();
    store.insertSession(newSessionRecord({ id: "feed", ownerId: "o", at: Date.now() }));
    await eventually(() => changes.some((c) => "delivery" in c && c.delivery.status === "failed"), 5000, "a failed attempt in the feed");
    fail = false;
    await eventually(() => changes.some((c) => "delivery" in c && c.delivery.status === "delivered"), 5000, "the delivery in the feed");
    const delivered = changes.find((c) => "delivery" in c && c.delivery.status === "delivered") as { delivery: { type: string; session: string } };
    expect(delivered.delivery).toMatchObject({ type: "session.started", session: "feed" });
    await sender.stop();
  });
});
