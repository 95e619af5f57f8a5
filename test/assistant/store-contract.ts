// The contract every AssistantStore implementation must pass (SQLite, PostgreSQL), written against the asynchronous
// form: every answer is awaited, so the synchronous SQLite store passes the same cases. Run it from an
// implementation's own test file: describeAssistantStore("sqlite", async (cipher) => ({ store, ... })).
import { describe, expect, test } from "bun:test";
import type { AssistantStore, StreamRow } from "../../src/assistant/store.ts";
import { KeyRingCipher, type FieldCipher } from "../../src/privacy/field-cipher.ts";
import { keyRing } from "../../src/privacy/keys.ts";
import type { Awaitable } from "../../src/sessions/awaitable.ts";

/** One fresh, empty database per test; `close` releases it. */
export interface AssistantStoreUnderTest {
  store: AssistantStore & { all(): Awaitable<StreamRow[]> };
  /** Creates a session row the streams can belong to. */
  openSession(id: string): Awaitable<void>;
  /** Deletes a session row outright (as erasure does), without touching its streams. */
  dropSession(id: string): Awaitable<void>;
  /** The stored `text` column of a stream, exactly as it is at rest. */
  rawText(id: string): Awaitable<string | null>;
  close(): Awaitable<void>;
}

/** Epoch ms every case counts from. */
export const T0 = 1_700_000_000_000;

export const streamRow = (id: string, sessionId: string, over: Partial<StreamRow> = {}): StreamRow => ({
  id, sessionId, replyTo: 3, userId: "assistant", model: "fake-model", startedAt: T0, text: "", reasoning: "", savedAt: T0, ...over,
});

const MARKER = "PARTIAL-REPLY-MARKER-41c9";

export function describeAssistantStore(name: string, make: (cipher?: FieldCipher) => Awaitable<AssistantStoreUnderTest>): void {
  async function withStore(body: (t: AssistantStoreUnderTest) => Promise<void>, cipher?: FieldCipher): Promise<void> {
    const t = await make(cipher);
    try {
      await t.openSession("s1");
      await body(t);
    } finally {
      await t.close();
    }
  }

  describe(`AssistantStore contract: ${name}`, () => {
    test("a started reply is stored with empty text; saves replace its text, reasoning and save time", async () => {
      await withStore(async ({ store }) => {
        await store.insert(streamRow("a", "s1", { replyTo: 2 ** 40, startedAt: T0 + 1, savedAt: T0 + 1 }));
        expect(await store.all()).toEqual([streamRow("a", "s1", { replyTo: 2 ** 40, startedAt: T0 + 1, savedAt: T0 + 1 })]);
        await store.save("a", "Hello", "", T0 + 200);
        await store.save("a", "Hello wörld 😀", "thinking…", T0 + 400);
        expect(await store.all()).toEqual([streamRow("a", "s1", { replyTo: 2 ** 40, startedAt: T0 + 1, text: "Hello wörld 😀", reasoning: "thinking…", savedAt: T0 + 400 })]);
      });
    });

    test("large text (a megabyte and more) is saved and read back whole", async () => {
      await withStore(async ({ store }) => {
        const text = "x".repeat(600_000) + "é".repeat(300_000) + "end";
        const reasoning = "r".repeat(400_000);
        await store.insert(streamRow("big", "s1"));
        await store.save("big", text, reasoning, T0 + 1);
        const [row] = await store.all();
        expect(row!.text.length).toBe(text.length);
        expect(row!.text === text && row!.reasoning === reasoning).toBe(true);
      });
    });

    test("a deleted reply is gone, and a save after the delete does not bring it back", async () => {
      await withStore(async ({ store }) => {
        await store.insert(streamRow("a", "s1"));
        await store.insert(streamRow("b", "s1", { startedAt: T0 + 5 }));
        await store.delete("a");
        await store.save("a", "late text", "", T0 + 1000);
        await store.save("never-inserted", "text", "", T0 + 1000);
        await store.delete("never-inserted");
        expect((await store.all()).map((r) => r.id)).toEqual(["b"]);
      });
    });

    test("rows come oldest first (ties by id)", async () => {
      await withStore(async ({ store }) => {
        await store.insert(streamRow("c", "s1", { startedAt: T0 + 20 }));
        await store.insert(streamRow("b", "s1", { startedAt: T0 + 10 }));
        await store.insert(streamRow("a", "s1", { startedAt: T0 + 20 }));
        expect((await store.all()).map((r) => r.id)).toEqual(["b", "a", "c"]);
      });
    });

    test("a reply belongs to an existing session and goes with it when the session row is deleted", async () => {
      await withStore(async (t) => {
        await t.openSession("s2");
        await t.store.insert(streamRow("a", "s1"));
        await t.store.insert(streamRow("b", "s2"));
        await expect(Promise.resolve().then(() => t.store.insert(streamRow("c", "no-such-session")))).rejects.toThrow();
        await t.dropSession("s1");
        expect((await t.store.all()).map((r) => r.id)).toEqual(["b"]);
      });
    });

    test("a row not saved for longer than the orphan window (any row, on a store alone) is claimed with its own text and save time, once", async () => {
      await withStore(async ({ store }) => {
        const window = store.orphanAfterMs ?? 0;
        await store.insert(streamRow("old", "s1", { startedAt: T0, savedAt: T0 }));
        await store.save("old", "half a rep", "hmm", T0 + 100);
        await store.insert(streamRow("empty", "s1", { startedAt: T0 + 1, savedAt: T0 + 1 }));
        const now = T0 + 100 + window + 1;
        const claimed = await store.claimOrphans(now);
        expect(claimed).toEqual([
          streamRow("old", "s1", { text: "half a rep", reasoning: "hmm", savedAt: T0 + 100 }),
          streamRow("empty", "s1", { startedAt: T0 + 1, savedAt: T0 + 1 }),
        ]);
        // The claimer commits each, then deletes it.
        for (const row of claimed) await store.delete(row.id);
        expect(await store.claimOrphans(now + 1)).toEqual([]);
        expect(await store.all()).toEqual([]);
      });
    });

    test("with a shared store, a reply saved within the window is not an orphan, and a claimed one is not handed over again within it", async () => {
      await withStore(async ({ store }) => {
        const window = store.orphanAfterMs;
        if (window === undefined) return; // alone on its database: every row at start is an orphan
        await store.insert(streamRow("live", "s1", { savedAt: T0 }));
        await store.insert(streamRow("gone", "s1", { startedAt: T0 + 1, savedAt: T0 }));
        await store.save("live", "still streaming", "", T0 + window);
        const now = T0 + window + 1;
        expect((await store.claimOrphans(now)).map((r) => r.id)).toEqual(["gone"]);
        expect(await store.claimOrphans(now + window - 1)).toEqual([]);
        // Claimed but never deleted (the claimer died): an orphan again once the window has passed since the claim.
        await store.save("live", "still streaming on", "", now + window);
        expect((await store.claimOrphans(now + window + 1)).map((r) => [r.id, r.savedAt])).toEqual([["gone", now]]);
      });
    });

    test("with a cipher, text and reasoning are sealed at rest and read back", async () => {
      const cipher = new KeyRingCipher(keyRing(Buffer.alloc(32, 7)), "on");
      await withStore(async ({ store, rawText }) => {
        await store.insert(streamRow("a", "s1"));
        await store.save("a", `${MARKER} so far`, `${MARKER} thinking`, T0 + 1);
        expect(await rawText("a")).not.toContain(MARKER);
        expect(await store.all()).toEqual([streamRow("a", "s1", { text: `${MARKER} so far`, reasoning: `${MARKER} thinking`, savedAt: T0 + 1 })]);
        expect(await store.claimOrphans(T0 + 1 + (store.orphanAfterMs ?? 0) + 1)).toMatchObject([{ text: `${MARKER} so far`, reasoning: `${MARKER} thinking` }]);
      }, cipher);
    });
  });
}
