// Every sealed column through its real store on a real file: nothing readable on disk, everything readable back,
// a ciphertext moved to another row refused, and the re-encryption job moving all values to a new key.
import { describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { SqliteAnalysisStore } from "../../src/db/analysis-store.ts";
import { SqliteAssistantStore } from "../../src/db/assistant-store.ts";
import { migrate } from "../../src/db/migrate.ts";
import { closeDatabase, openDatabase } from "../../src/db/open.ts";
import { SqliteOutboxStore } from "../../src/db/outbox-store.ts";
import { resealAll } from "../../src/db/reseal.ts";
import { SqliteSessionStore } from "../../src/db/session-store.ts";
import { envelopeHeader } from "../../src/privacy/crypto.ts";
import { KeyRingCipher, StoredValueError, type FieldCipher } from "../../src/privacy/field-cipher.ts";
import { ENCRYPTED_FIELDS } from "../../src/privacy/fields.ts";
import { keyRing } from "../../src/privacy/keys.ts";
import type { Analysis } from "../../src/protocol/analysis.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";
import { tempDir } from "../helpers.ts";
import { onDisk } from "./disk.ts";

const A = Buffer.alloc(32, 1);
const B = Buffer.alloc(32, 2);
const M = "STORE-MARKER-7f3a";

const analysis = (phrase: string): Analysis => ({
  sentiment: { score: -0.8, labels: ["negative"], confidence: 0.9 },
  topics: { topics: ["health"], relevance: [1], context: phrase },
  crisis: { risk_level: "high", triggers: [`suicidal_ideation: ${phrase}`], recommended_action: "Reach out now." },
  analyzer: "builtin/1",
  at: new Date().toISOString(),
});

/** Writes one value into every sealed column through the stores of the features that own them. */
async function fillAll(sqlite: Database, cipher: FieldCipher): Promise<void> {
  const sessions = new SqliteSessionStore(sqlite, { cipher, maxDelayMs: 0 });
  sessions.insertSession(newSessionRecord({ id: "s1", ownerId: "u", at: Date.now(), config: { secret: `${M}-config` } }));
  for (const content of [`${M} first`, `${M} second`]) {
    await new Promise<void>((resolve, reject) =>
      sessions.append({ id: crypto.randomUUID(), sessionId: "s1", userId: "u", role: "user", kind: "text", content, metadata: { m: `${M}-meta` }, createdAt: Date.now() }, (e) => (e ? reject(e) : resolve())),
    );
  }
  const alert = { id: "al-1", session: "s1", seq: 1, messageId: "m1", userId: "u", risk_level: "high" as const, triggers: [`${M}-trigger`], recommended_action: "call", status: "open" as const, createdAt: new Date().toISOString() };
  const analyses = new SqliteAnalysisStore(sqlite, {}, cipher);
  analyses.save([{ session: "s1", seq: 1, messageId: "m1", analysis: analysis(`${M}-phrase`), alert }]);
  analyses.updateAlert({ ...alert, status: "resolved", resolvedBy: "dr", resolvedAt: new Date().toISOString(), note: `${M}-note` });
  const streams = new SqliteAssistantStore(sqlite, cipher);
  streams.insert({ id: "st-1", sessionId: "s1", replyTo: 1, userId: "assistant", model: "m", startedAt: Date.now(), text: "", reasoning: "", savedAt: Date.now() });
  streams.save("st-1", `${M}-partial`, `${M}-thinking`, Date.now());
  new SqliteOutboxStore(sqlite, cipher).insertEventNow("ev-1", "message.created", "s1", JSON.stringify({ data: { message: { content: `${M}-webhook` } } }), Date.now());
}

function fresh(): { sqlite: Database; dir: string } {
  const dir = tempDir();
  const sqlite = openDatabase(join(dir, "sessiond.db"));
  migrate(sqlite);
  return { sqlite, dir };
}

describe("sealed columns", () => {
  test("every column that holds content is sealed on disk and reads back as written", async () => {
    const { sqlite, dir } = fresh();
    const cipher = new KeyRingCipher(keyRing(A), "on");
    await fillAll(sqlite, cipher);
    sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    expect(onDisk(dir, M)).toBe(false);
    // Each column of the list holds an envelope of the current key.
    for (const f of ENCRYPTED_FIELDS) {
      const values = sqlite.query<{ v: string | null }, []>(`SELECT ${f.column} AS v FROM ${f.table}`).all().map((r) => r.v).filter((v): v is string => v !== null);
      expect({ field: `${f.table}.${f.column}`, n: values.length > 0 }).toEqual({ field: `${f.table}.${f.column}`, n: true });
      for (const v of values) expect(envelopeHeader(v)?.keyId).toBe(cipher.keyId!);
    }
    const sessions = new SqliteSessionStore(sqlite, { cipher });
    expect(sessions.getSession("s1")!.config).toEqual({ secret: `${M}-config` });
    expect(sessions.lastMessages("s1", 10).map((m) => [m.content, m.metadata, m.analysis?.topics.context ?? null])).toEqual([
      [`${M} first`, { m: `${M}-meta` }, `${M}-phrase`],
      [`${M} second`, { m: `${M}-meta` }, null],
    ]);
    const analyses = new SqliteAnalysisStore(sqlite, {}, cipher);
    expect(analyses.getAlert("al-1")).toMatchObject({ triggers: [`${M}-trigger`], note: `${M}-note` });
    expect(analyses.unanalysed("s1", 0, 2, 10).map((w) => w.content)).toEqual([`${M} second`]);
    expect(new SqliteAssistantStore(sqlite, cipher).all()[0]).toMatchObject({ text: `${M}-partial`, reasoning: `${M}-thinking` });
    closeDatabase(sqlite);
  });

  test("a ciphertext copied into another row does not open there", async () => {
    const { sqlite } = fresh();
    const cipher = new KeyRingCipher(keyRing(A), "on");
    await fillAll(sqlite, cipher);
    sqlite.run("UPDATE messages SET content = (SELECT content FROM messages WHERE seq = 1) WHERE seq = 2");
    const sessions = new SqliteSessionStore(sqlite, { cipher });
    expect(() => sessions.messagesAfter("s1", 1, 10)).toThrow(StoredValueError);
    expect(() => sessions.messagesAfter("s1", 1, 10)).toThrow("a stored messages.content value failed authentication");
    expect(sessions.messagesAfter("s1", 0, 1)[0]!.content).toBe(`${M} first`);
    closeDatabase(sqlite);
  });
});

describe("re-encryption", () => {
  test("rotate: every value moves to the new key, resumably; afterwards the old key is not needed", async () => {
    const { sqlite } = fresh();
    await fillAll(sqlite, new KeyRingCipher(keyRing(A), "on"));
    const lines: string[] = [];
    const first = resealAll(sqlite, new KeyRingCipher(keyRing(B, [A]), "on"), { batch: 1, onProgress: (l) => lines.push(l) });
    expect(first.resealed).toBe(first.scanned);
    expect(first.byField["messages.content"]).toBe(2);
    expect(lines).toContain("messages.content: 1/2 checked, 1 re-encrypted");
    expect(lines).toContain("messages.content: done, 2 of 2 re-encrypted");
    // A second run (as after an interruption) finds nothing left.
    expect(resealAll(sqlite, new KeyRingCipher(keyRing(B, [A]), "on")).resealed).toBe(0);
    const onlyB = new KeyRingCipher(keyRing(B), "on");
    expect(new SqliteSessionStore(sqlite, { cipher: onlyB }).lastMessages("s1", 10).map((m) => m.content)).toEqual([`${M} first`, `${M} second`]);
    expect(new SqliteAssistantStore(sqlite, onlyB).all()[0]!.text).toBe(`${M}-partial`);
    closeDatabase(sqlite);
  });

  test("encrypt: plaintext values are sealed; a value sealed with a key that is not configured stops the run", async () => {
    const { sqlite, dir } = fresh();
    const { PLAINTEXT } = await import("../../src/privacy/field-cipher.ts");
    await fillAll(sqlite, PLAINTEXT);
    sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    expect(onDisk(dir, M)).toBe(true);
    const r = resealAll(sqlite, new KeyRingCipher(keyRing(A), "migrating"));
    expect(r.resealed).toBe(r.scanned);
    sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    expect(onDisk(dir, M)).toBe(false);
    expect(() => resealAll(sqlite, new KeyRingCipher(keyRing(B), "on"))).toThrow("which is not configured");
    closeDatabase(sqlite);
  });
});
