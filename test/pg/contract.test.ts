// The shared SessionStorage contract against PgSessionStore on a real PostgreSQL server (a fresh database per case).
import { describeSessionStorage } from "../contract/session-storage.ts";
import { freshDatabase, node } from "./setup.ts";

describeSessionStorage("postgres", async () => {
  const store = node(await freshDatabase());
  return { store, close: () => store.close() };
});
