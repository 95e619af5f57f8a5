// The shared analysis contract (test/contract/analysis-storage.ts) on the SQLite stores, one fresh file per case.
import { join } from "node:path";
import { SqliteAnalysisStore } from "../../src/db/analysis-store.ts";
import { migrate, openDatabase, SqliteSessionStore } from "../../src/db/index.ts";
import { describeAnalysisStorage } from "../contract/analysis-storage.ts";
import { tempDir } from "../helpers.ts";

describeAnalysisStorage("sqlite", () => {
  const sqlite = openDatabase(join(tempDir(), "analysis-contract.db"));
  migrate(sqlite);
  const sessions = new SqliteSessionStore(sqlite);
  return {
    sessions,
    analyses: new SqliteAnalysisStore(sqlite),
    close: async () => {
      sessions.flush();
      await sessions.idle();
      sqlite.close();
    },
  };
});
