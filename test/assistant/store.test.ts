// The AssistantStore contract (test/assistant/store-contract.ts) on SqliteAssistantStore, one fresh file per case.
import { join } from "node:path";
import { SqliteAssistantStore } from "../../src/db/assistant-store.ts";
import { migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import { newSessionRecord } from "../../src/sessions/store.ts";
import { tempDir } from "../helpers.ts";
import { describeAssistantStore, T0 } from "./store-contract.ts";

describeAssistantStore("sqlite", (cipher) => {
  const sqlite = openDatabase(join(tempDir(), "assistant-store.db"));
  migrate(sqlite);
  const sessions = new SqliteSessionStore(sqlite);
  return {
    store: new SqliteAssistantStore(sqlite, cipher),
    openSession: (id) => sessions.insertSession(newSessionRecord({ id, ownerId: "owner", at: T0 })),
    dropSession: (id) => void sqlite.run("DELETE FROM sessions WHERE id = ?", [id]),
    rawText: (id) => sqlite.query<{ text: string }, [string]>("SELECT text FROM assistant_streams WHERE id = ?").get(id)?.text ?? null,
    close: async () => {
      sessions.flush();
      await sessions.idle();
      sqlite.close();
    },
  };
});
