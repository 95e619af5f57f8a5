// Erasure across nodes sharing one PostgreSQL database: an id erased on one node is never opened again by any node
// (those holding it hear the erasure through the broker; a node started later learns it from the database), and
// retention run on two nodes at once erases each expired session once, with one audit entry.
import { beforeAll, describe, expect, test } from "bun:test";
import { createLogger } from "../../src/observability/logger.ts";
import { AuditRecorder } from "../../src/privacy/audit-recorder.ts";
import { DAY_MS } from "../../src/privacy/erasure.ts";
import { SharedPrivacyService } from "../../src/privacy/shared-privacy-service.ts";
import { PgAuditStore } from "../../src/pg/audit-store.ts";
import { PgPrivacyStore } from "../../src/pg/privacy-store.ts";
import { Fanout } from "../../src/realtime/fanout.ts";
import { Hub } from "../../src/realtime/hub.ts";
import { relayToBroker, type BrokerHandler } from "../../src/sessions/broker.ts";
import { ManualClock, SessionEvents, SessionService } from "../../src/sessions/index.ts";
import { join, LinkedBrokers, post } from "../sessions/cluster-setup.ts";
import { freshDatabase, node, pool, server } from "./setup.ts";

beforeAll(async () => void (await server()), 60_000);

const ADMIN = { userId: "root", role: "admin", address: "local" };

/** One node: a SessionService over its own pool, its privacy service, its broker link (as node.ts wires them). */
async function pgNode(nodeId: string, url: string, links: LinkedBrokers, now = () => Date.now()) {
  const store = node(url);
  const events = new SessionEvents();
  let ids = 0;
  const service: SessionService = new SessionService({
    store,
    events,
    clock: new ManualClock(),
    limiter: { take: () => 0, refund: () => {} },
    newMessageId: () => `${nodeId}-m${++ids}`,
    wasErased: (id) => privacy.wasErased(id),
    rules: {
      expiryMs: 60_000, windowSize: 100, cacheMaxSessions: 1000, maxRecoveryMessages: 1000, maxMessageBytes: 65_536,
      createOnJoin: true, assistantAvailable: false,
      defaults: { analysis: { enabled: false, share: "staff" }, assistant: { enabled: false, name: "assistant", trigger: "every" }, endOnDisconnect: { enabled: false, graceSeconds: 30 } },
    },
  });
  const audit = new AuditRecorder(new PgAuditStore(pool(url)), { flushMs: 5 });
  const privacy: SharedPrivacyService = new SharedPrivacyService({
    service, store: new PgPrivacyStore(pool(url)), events, audit, logger: createLogger("silent"),
    messagesAfter: (id, after, limit) => store.messagesAfter(id, after, limit), sessionInfo: () => null, retentionDays: 30, now,
  });
  await privacy.load();
  const fanout = new Fanout(new Hub(), service, { slowConsumerBytes: 1 << 20, publish: () => 0, fill: (id, after, limit) => store.messagesAfter(id, after, limit), nodeId });
  const broker = links.broker(nodeId);
  relayToBroker(events, broker);
  const handler: BrokerHandler = {
    deliver: (event, origin) => {
      fanout.deliver(event, origin);
      // Another node's erasure: this node never opens the id again either.
      if (event.type === "session" && event.change === "erased" && origin !== nodeId) privacy.noteErased(event.sessionId);
    },
  };
  await broker.start(handler);
  return { service, privacy, store, audit };
}

describe("erased ids across nodes", () => {
  test("a session erased on one node answers not_found on another that held it and on one started later", async () => {
    const url = await freshDatabase();
    const links = new LinkedBrokers();
    const a = await pgNode("a", url, links);
    const b = await pgNode("b", url, links);
    await join(a.service, "alice", "talk");
    await post(a.service, "alice", "talk", "first words");
    await join(b.service, "alice", "talk");

    const erased = await a.privacy.eraseSession(ADMIN, "talk");
    expect(erased).toMatchObject({ session: "talk", erased: true, messages: 1 });
    await links.settled();
    expect(b.privacy.wasErased("talk")).toBe(true);
    await expect(join(b.service, "alice", "talk")).rejects.toMatchObject({ code: "not_found" });
    await expect(join(a.service, "alice", "talk")).rejects.toMatchObject({ code: "not_found" });

    const c = await pgNode("c", url, links);
    expect(c.privacy.wasErased("talk")).toBe(true);
    await expect(join(c.service, "carol", "talk")).rejects.toMatchObject({ code: "not_found" });
    expect(await new PgAuditStore(pool(url)).verify()).toEqual({ ok: true, entries: 1 });
  });

  test("a user's erasure on one node: their session gone, tombstones elsewhere, one user.erase entry, chain intact", async () => {
    const url = await freshDatabase();
    const links = new LinkedBrokers();
    const a = await pgNode("a", url, links);
    await join(a.service, "alice", "hers");
    await post(a.service, "alice", "hers", "mine");
    await join(a.service, "bob", "his");
    await a.service.flush();
    await pool(url, 1).unsafe("UPDATE sessions SET access = 'open' WHERE id = 'his'");
    const b = await pgNode("b", url, links);
    await join(b.service, "alice", "his");
    await post(b.service, "alice", "his", "hello bob");
    await b.service.flush();

    const result = await b.privacy.eraseUser(ADMIN, "alice");
    expect(result).toMatchObject({ userId: "alice", sessionsErased: 1, messagesErased: 1, messagesTombstoned: 1 });
    const audit = new PgAuditStore(pool(url));
    expect((await audit.list()).map((e) => e.action)).toEqual(["session.erase", "user.erase"]);
    expect(await audit.verify()).toEqual({ ok: true, entries: 2 });
    const lines: string[] = [];
    for await (const line of b.privacy.exportUser(ADMIN, "bob")) lines.push(line);
    b.audit.flush();
    await b.audit.settled();
    expect((await audit.list({ action: "user.export" })).map((e) => e.objectId)).toEqual(["bob"]);
  });
});

describe("retention on two nodes", () => {
  test("an expired ended session is erased once, with one retention.erase entry", async () => {
    const url = await freshDatabase();
    const links = new LinkedBrokers();
    const later = () => Date.now() + 31 * DAY_MS;
    const a = await pgNode("a", url, links, later);
    const b = await pgNode("b", url, links, later);
    await join(a.service, "alice", "old");
    await post(a.service, "alice", "old", "long ago");
    await a.service.flush();
    await pool(url, 1).unsafe("UPDATE sessions SET status = 'completed', ended_at = $1 WHERE id = 'old'", [Date.now()]);

    const [ra, rb] = await Promise.all([a.privacy.applyRetention(), b.privacy.applyRetention()]);
    expect(ra.sessions + rb.sessions).toBe(1);
    const audit = new PgAuditStore(pool(url));
    expect((await audit.list({ action: "retention.erase" })).map((e) => e.objectId)).toEqual(["old"]);
    expect(await audit.verify()).toEqual({ ok: true, entries: 1 });
    await links.settled();
    expect(a.privacy.wasErased("old") && b.privacy.wasErased("old")).toBe(true);
  });
});
