// The archive writer in-process, with a real SQLite store and folder: a session erased while its file is being
// written leaves no file behind (the erasure removed the files there were; this one came after it).
import { expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDatabase } from "../../src/db/index.ts";
import { SqliteArchiveStore } from "../../src/db/archive-store.ts";
import { Archiver } from "../../src/integrations/archiver.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Counter } from "../../src/observability/metrics.ts";
import type { SessionInfo } from "../../src/protocol/types.ts";
import { tempDir } from "../helpers.ts";

test("a session erased while its archive file is written: the file is removed, the job is not retried", async () => {
  const sqlite = openDatabase(join(tempDir(), "a.db"));
  migrate(sqlite);
  sqlite.run("INSERT INTO sessions (id, owner_id, status, started_at, last_activity_at, last_seq) VALUES ('gone', 'ann', 'completed', 0, 0, 0)");
  const store = new SqliteArchiveStore(sqlite);
  store.enqueue("gone", 0);
  const root = tempDir();
  const lines: string[] = [];
  const session = { id: "gone", ownerId: "ann", startedAt: new Date(0).toISOString(), status: "completed", metrics: { messageCount: 0 } } as unknown as SessionInfo;
  const archiver = new Archiver({
    store,
    root,
    format: "json",
    // The transcript is read, then the session is erased (its job row goes with it) before the file is written.
    read: () => {
      sqlite.run("DELETE FROM sessions WHERE id = 'gone'");
      return { session, pages: [] };
    },
    logger: createLogger("info", (line) => lines.push(line)),
    metrics: { written: new Counter("w", "w"), failures: new Counter("f", "f") },
  });
  archiver.start();
  await Bun.sleep(200);
  await archiver.stop();
  const files = existsSync(root) ? (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith(".json")) : [];
  expect(files).toEqual([]);
  expect(lines.some((l) => l.includes('"archive.skipped"') && l.includes("erased"))).toBe(true);
  expect(lines.some((l) => l.includes('"archive.written"'))).toBe(false);
  expect(archiver.healthy()).toBe(true);
});
