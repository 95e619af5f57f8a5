// The shared storage contract (test/contract/session-storage.ts) on the SQLite store, one fresh file per case.
import { join } from "node:path";
import { migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import { describeSessionStorage } from "../contract/session-storage.ts";
import { tempDir } from "../helpers.ts";

describeSessionStorage("sqlite", () => {
  const sqlite = openDatabase(join(tempDir(), "contract.db"));
  migrate(sqlite);
  const store = new SqliteSessionStore(sqlite);
  return {
    store,
    close: async () => {
      store.flush();
      await store.idle();
      sqlite.close();
    },
  };
});
