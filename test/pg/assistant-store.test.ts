// PgAssistantStore on a real PostgreSQL server: the shared AssistantStore contract, then the orphan rule when several
// nodes share the table. A reply is left behind only when its node stopped saving it for the orphan window; each
// such reply is claimed by exactly one node; a live node keeps its replies fresh even while the model is silent, so
// a node starting or sweeping beside it never commits them; a crashed node's reply is committed once as interrupted.
import { describe, expect, test } from "bun:test";
import type { SQL } from "bun";
import { ModelClient } from "../../src/ai/model-client.ts";
import type { StreamRow } from "../../src/assistant/store.ts";
import { AssistantSubscriber } from "../../src/assistant/subscriber.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { PgAssistantStore } from "../../src/pg/assistant-store.ts";
import { PgSessionStore } from "../../src/pg/session-store.ts";
import { principal } from "../../src/sessions/index.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";
import { describeAssistantStore, streamRow, T0 } from "../assistant/store-contract.ts";
import { gate, numberedPieces, startFakeOpenAI } from "../assistant/setup.ts";
import { eventually } from "../helpers.ts";
import { joinStored, serviceOn } from "../sessions/service-setup.ts";
import { freshDatabase, node, pool } from "./setup.ts";

describeAssistantStore("postgres", async (cipher) => {
  const url = await freshDatabase();
  const sessions = node(url);
  const sql = pool(url);
  return {
    store: new PgAssistantStore(sql, { cipher }),
    openSession: async (id) => {
      await sessions.insertSession(newSessionRecord({ id, ownerId: "owner", at: T0 }));
    },
    dropSession: async (id) => {
      await sql.unsafe("DELETE FROM sessions WHERE id = $1", [id]);
    },
    rawText: async (id) => ((await sql.unsafe("SELECT text FROM assistant_streams WHERE id = $1", [id])) as Array<{ text: string }>)[0]?.text ?? null,
    close: async () => {
      await sessions.close();
      await sql.close();
    },
  };
});

const WINDOW = 1000;
const ids = (rows: StreamRow[]) => rows.map((r) => r.id);

/** A fresh database with session `s1`, and `n` stores over their own pools (one per node). */
async function nodes(n: number, orphanAfterMs = WINDOW): Promise<{ url: string; stores: PgAssistantStore[] }> {
  const url = await freshDatabase();
  const sessions = node(url);
  await sessions.insertSession(newSessionRecord({ id: "s1", ownerId: "owner", at: T0 }));
  await sessions.close();
  return { url, stores: Array.from({ length: n }, () => new PgAssistantStore(pool(url), { orphanAfterMs })) };
}

describe("the orphan rule, two nodes on one table", () => {
  test("a node starting while another streams leaves its reply alone; once that node stops saving for the window, it is an orphan", async () => {
    const { stores: [a, b] } = await nodes(2);
    await a!.insert(streamRow("r1", "s1", { savedAt: T0 }));
    // A saves every 200 ms, with new text or without: B, starting at any moment, finds nothing to claim.
    for (let t = T0 + 200; t <= T0 + 3 * WINDOW; t += 200) {
      await a!.save("r1", `text at ${t}`, "", t);
      expect(await b!.claimOrphans(t + 100)).toEqual([]);
    }
    // A is gone after its save at T0 + 3000: exactly the window later, still not an orphan; a moment after, one.
    expect(await b!.claimOrphans(T0 + 4 * WINDOW)).toEqual([]);
    const claimed = await b!.claimOrphans(T0 + 4 * WINDOW + 1);
    expect(claimed).toEqual([streamRow("r1", "s1", { text: `text at ${T0 + 3 * WINDOW}`, savedAt: T0 + 3 * WINDOW })]);
  });

  test("nodes claiming at the same moment get each orphan exactly once between them", async () => {
    const { stores } = await nodes(4);
    const orphans = Array.from({ length: 60 }, (_, i) => `r${String(i).padStart(2, "0")}`);
    for (const [i, id] of orphans.entries()) await stores[i % 4]!.insert(streamRow(id, "s1", { startedAt: T0 + i, text: "", savedAt: T0 }));
    const now = T0 + WINDOW + 1;
    const claims = await Promise.all(stores.flatMap((s) => [s.claimOrphans(now), s.claimOrphans(now)]));
    const all = claims.flatMap(ids);
    expect(all.sort()).toEqual(orphans);
    for (const c of claims) expect(ids(c)).toEqual([...ids(c)].sort());
  });

  test("the claimer commits and deletes: a late save from the node that left the reply does not bring it back", async () => {
    const { stores: [a, b] } = await nodes(2);
    await a!.insert(streamRow("r1", "s1", { savedAt: T0 }));
    expect(ids(await b!.claimOrphans(T0 + WINDOW + 1))).toEqual(["r1"]);
    await b!.delete("r1");
    await a!.save("r1", "a stalled node wakes up", "", T0 + WINDOW + 2);
    expect(await a!.all()).toEqual([]);
    expect(await b!.claimOrphans(T0 + 10 * WINDOW)).toEqual([]);
  });

  test("a claimer that dies before committing leaves the reply to be claimed again after the window", async () => {
    const { stores: [a, b, c] } = await nodes(3);
    await a!.insert(streamRow("r1", "s1", { savedAt: T0 }));
    await a!.save("r1", "cut short", "", T0);
    const claimedAt = T0 + WINDOW + 1;
    expect(ids(await b!.claimOrphans(claimedAt))).toEqual(["r1"]);
    expect(await c!.claimOrphans(claimedAt + WINDOW)).toEqual([]);
    expect(await c!.claimOrphans(claimedAt + WINDOW + 1)).toMatchObject([{ id: "r1", text: "cut short" }]);
  });
});

/** One server process over its own pools: sessions and stream rows in PostgreSQL, the assistant on them. */
function assistantNode(url: string, modelURL: string, orphanAfterMs: number) {
  const sessions = new PgSessionStore(pool(url));
  const { service, events } = serviceOn(sessions, {
    assistantAvailable: true,
    defaults: { analysis: { enabled: false, share: "staff" }, assistant: { enabled: true, name: "assistant", trigger: "every" }, endOnDisconnect: { enabled: false, graceSeconds: 30 } },
  });
  const lines: string[] = [];
  const subscriber = new AssistantSubscriber({
    service,
    events,
    store: new PgAssistantStore(pool(url), { orphanAfterMs }),
    model: new ModelClient({ baseURL: modelURL, model: "fake-model", maxRetries: 0 }),
    logger: createLogger("info", (line) => lines.push(line)),
    options: { defaultModel: "fake-model", saveIntervalMs: 50 },
  });
  return { sessions, service, subscriber, lines };
}

const assistantMessages = async (sql: SQL, session: string) =>
  (await sql.unsafe("SELECT content, metadata FROM messages WHERE session_id = $1 AND role = 'assistant' ORDER BY seq", [session])) as Array<{ content: string; metadata: string }>;

describe("assistants on several nodes", () => {
  test("a reply waiting for the model stays with its live node while others start and sweep; a crashed node's reply is committed once, as interrupted", async () => {
    const fake = startFakeOpenAI();
    const window = 600;
    const url = await freshDatabase();
    const sql = pool(url, 1);
    const held = gate();
    const pieces = numberedPieces(6);
    fake.script({ pieces, gate: { after: 2, open: held.open } });
    const live = assistantNode(url, fake.url, window);
    await live.subscriber.start();
    await joinStored(live.service, "ann", "s1");
    await live.service.appendMessage(principal("ann"), "s1", { content: "tell me" });
    await eventually(async () => (await sql.unsafe("SELECT text FROM assistant_streams"))[0]?.text === pieces.slice(0, 2).join(""), 5000, "the first pieces saved");

    // A node that crashed mid-reply in another session: its row, last saved now, is never saved again.
    await joinStored(live.service, "bob", "s2");
    const crashed = new PgAssistantStore(pool(url), { orphanAfterMs: window });
    await crashed.insert(streamRow("crashed-1", "s2", { replyTo: 1, startedAt: Date.now(), savedAt: Date.now() }));
    await crashed.save("crashed-1", "half an ans", "", Date.now());

    // Two more nodes start beside the live one and keep sweeping, for several windows of model silence.
    const others = [assistantNode(url, fake.url, window), assistantNode(url, fake.url, window)];
    for (const n of others) await n.subscriber.start();
    await eventually(async () => (await assistantMessages(sql, "s2")).length > 0, 5000, "the crashed node's reply committed");
    await Bun.sleep(4 * window);
    const recovered = await assistantMessages(sql, "s2");
    expect(recovered.map((m) => [m.content, JSON.parse(m.metadata).status, JSON.parse(m.metadata).stream])).toEqual([["half an ans", "interrupted", "crashed-1"]]);
    expect(await assistantMessages(sql, "s1")).toEqual([]);
    expect(live.subscriber.registry.size).toBe(1);
    expect(((await sql.unsafe("SELECT id FROM assistant_streams")) as Array<{ id: string }>).length).toBe(1);

    // The model speaks again: the live node commits its reply, complete, once.
    held.release();
    await eventually(async () => (await assistantMessages(sql, "s1")).length > 0, 5000, "the live reply committed");
    const [reply] = await assistantMessages(sql, "s1");
    expect([reply!.content, JSON.parse(reply!.metadata).status]).toEqual([pieces.join(""), "complete"]);
    await eventually(async () => (await sql.unsafe("SELECT id FROM assistant_streams")).length === 0, 2000, "no rows left");
    for (const n of [live, ...others]) {
      await n.subscriber.stop();
      await n.sessions.close();
      expect(n.lines.filter((l) => l.includes("_failed"))).toEqual([]);
    }
    await fake.stop();
  }, 30_000);
});
