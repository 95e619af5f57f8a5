// Storage: the SQLite file, its migrations, and the SessionStore over it.
export { openDatabase, closeDatabase, databasePath, DATABASE_FILE } from "./open.ts";
export { migrate, embeddedMigrations } from "./migrate.ts";
export { SqliteSessionStore } from "./session-store.ts";
