// The audit trail's hash chain and the erasure/export rules: pure functions, tested directly.
import { describe, expect, test } from "bun:test";
import { chain, ChainVerifier, entryHash, GENESIS_HASH, unsafeDetailKey, type AuditEntry, type AuditRecord } from "../../src/privacy/audit-chain.ts";
import { DAY_MS, exportedMessages, isRetentionDue, isTombstone, planUserErasure, retentionDueAt, TOMBSTONE } from "../../src/privacy/erasure.ts";
import type { Message } from "../../src/protocol/types.ts";

const record = (i: number): AuditRecord => ({
  at: 1_700_000_000_000 + i,
  actorId: `staff${i % 3}`,
  actorRole: "moderator",
  action: "session.read",
  objectType: "session",
  objectId: `s${i}`,
  address: "127.0.0.1",
  detail: { via: "http" },
});

function verify(entries: AuditEntry[], head: { id: number; hash: string } | null = null) {
  const v = new ChainVerifier();
  for (const e of entries) v.push(e);
  return v.finish(head);
}

describe("the audit chain", () => {
  const entries = chain([1, 2, 3, 4, 5].map(record), 0, GENESIS_HASH);
  const head = { id: 5, hash: entries[4]!.hash };

  test("each entry's hash is H(previous hash + canonical entry); ids follow each other", () => {
    expect(entries.map((e) => e.id)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);
    expect(entries[2]!.hash).toBe(entryHash(entries[1]!.hash, 3, record(3)));
    // Detail key order does not change the hash.
    const a = entryHash(GENESIS_HASH, 1, { ...record(1), detail: { a: 1, b: 2 } });
    expect(entryHash(GENESIS_HASH, 1, { ...record(1), detail: { b: 2, a: 1 } })).toBe(a);
    // Continuing a chain gives the same entries as building it at once.
    expect(chain([record(4), record(5)], 3, entries[2]!.hash)).toEqual(entries.slice(3));
  });

  test("an intact chain verifies", () => {
    expect(verify(entries, head)).toEqual({ ok: true, entries: 5 });
  });

  test("an edited entry is found by its id", () => {
    const edited = entries.map((e) => (e.id === 3 ? { ...e, actorId: "someone-else" } : e));
    expect(verify(edited, head)).toEqual({ ok: false, break: { id: 3, reason: "entry 3 was edited: its content does not match its hash" } });
  });

  test("an entry edited together with its hash breaks the link to the next one", () => {
    const forged = { ...entries[2]!, objectId: "other" };
    forged.hash = entryHash(forged.prevHash, 3, forged);
    const r = verify(entries.map((e) => (e.id === 3 ? forged : e)), head);
    expect(r).toMatchObject({ ok: false, break: { id: 4 } });
  });

  test("a removed entry is found where the gap is; entries removed from the end are found against the head", () => {
    expect(verify(entries.filter((e) => e.id !== 2), head)).toEqual({ ok: false, break: { id: 3, reason: "entry 3 follows entry 1: 1 entry is missing before it" } });
    expect(verify(entries.slice(0, 3), head)).toEqual({
      ok: false,
      break: { id: 5, reason: "the trail ends at entry 3 but entry 5 was written: 2 entries were removed from the end" },
    });
    // Renumbering after a removal does not help: the chain no longer links.
    const renumbered = [entries[0]!, { ...entries[2]!, id: 2 }];
    expect(verify(renumbered)).toMatchObject({ ok: false, break: { id: 2 } });
  });

  test("details hold counts and short codes only, never text that could be content", () => {
    expect(unsafeDetailKey(null)).toBeNull();
    expect(unsafeDetailKey({ messages: 3, via: "ws", keyId: "ab12cd34", full: true })).toBeNull();
    expect(unsafeDetailKey({ note: "I feel sad today" })).toBe("note");
    expect(unsafeDetailKey({ x: "a".repeat(129) })).toBe("x");
    expect(unsafeDetailKey({ "bad key": 1 })).toBe("bad key");
  });
});

const msg = (seq: number, userId: string): Message => ({ id: `m${seq}`, seq, session: "s", userId, role: "user", kind: "text", content: `c${seq}`, createdAt: "2026-01-01T00:00:00.000Z" });

describe("erasure and export rules", () => {
  test("a user's own sessions are erased whole; elsewhere only their traces go", () => {
    expect(planUserErasure(["b", "a", "a"], ["c", "a", "d", "c"])).toEqual({ erase: ["a", "b"], tombstone: ["c", "d"] });
  });

  test("the tombstone is empty content with metadata {erased: true}", () => {
    expect(TOMBSTONE).toEqual({ content: "", metadata: { erased: true } });
    expect(isTombstone(TOMBSTONE)).toBe(true);
    expect(isTombstone({ content: "", metadata: undefined })).toBe(false);
  });

  test("retention: a session's own days win over the server's; active sessions are never due", () => {
    const ended = 10 * DAY_MS;
    expect(retentionDueAt({ status: "active", endedAt: null, retentionDays: 1 }, 1)).toBeNull();
    expect(retentionDueAt({ status: "completed", endedAt: ended, retentionDays: null }, undefined)).toBeNull();
    expect(retentionDueAt({ status: "completed", endedAt: ended, retentionDays: null }, 30)).toBe(40 * DAY_MS);
    expect(retentionDueAt({ status: "expired", endedAt: ended, retentionDays: 2 }, 30)).toBe(12 * DAY_MS);
    expect(retentionDueAt({ status: "cancelled", endedAt: ended, retentionDays: 90 }, 30)).toBe(100 * DAY_MS);
    expect(isRetentionDue({ status: "completed", endedAt: ended, retentionDays: 2 }, undefined, 12 * DAY_MS)).toBe(true);
    expect(isRetentionDue({ status: "completed", endedAt: ended, retentionDays: 2 }, undefined, 12 * DAY_MS - 1)).toBe(false);
  });

  test("an export holds every message of the user's own sessions and only their own messages elsewhere", () => {
    const all = [msg(1, "alice"), msg(2, "bob"), msg(3, "alice")];
    expect(exportedMessages("alice", "alice", all).map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(exportedMessages("alice", "bob", all).map((m) => m.seq)).toEqual([1, 3]);
    expect(exportedMessages("carol", "bob", all)).toEqual([]);
  });
});
