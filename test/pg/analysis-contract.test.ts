// The shared analysis contract against PgAnalysisStore (with PgSessionStore beside it) on a real PostgreSQL server,
// a fresh database per case.
import { PgAnalysisStore } from "../../src/pg/analysis-store.ts";
import { describeAnalysisStorage } from "../contract/analysis-storage.ts";
import { freshDatabase, node, pool } from "./setup.ts";

describeAnalysisStorage("postgres", async () => {
  const url = await freshDatabase();
  const sessions = node(url);
  const analysesPool = pool(url);
  return {
    sessions,
    analyses: new PgAnalysisStore(analysesPool),
    close: async () => {
      await sessions.close();
      await analysesPool.close();
    },
  };
});
