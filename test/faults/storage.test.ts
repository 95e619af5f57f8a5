// Storage faults against a real server: a foreign write lock (the event loop stays responsive, messages are retried
// and then refused with `unavailable`, other write paths answer at once, the fault is logged once and ends), and a
// full disk on a small tmpfs when the tests run as root.
import { describe, expect, test } from "bun:test";
import { lockTrial } from "./trials.ts";
import { canMountTmpfs, fullDiskTrial } from "./full-disk.ts";

describe("another process holds the database's write lock", () => {
  test("for 3 s: unavailable after DB_RETRY_MS, pings answered throughout, health unhealthy then healthy, logged once", async () => {
    const r = await lockTrial({ lockMs: 3000, retryMs: 1000 });
    // Messages sent in the first 2 s waited 1 s and were refused; the last second's were committed after the release.
    expect(r.unavailable).toBeGreaterThan(5);
    expect(r.ackedAfterRelease).toBeGreaterThan(3);
    expect(r.otherErrors).toEqual([]);
    expect(r.retryAfterMs).toEqual([1000]);
    expect(r.inOrder).toBe(true);
    expect(r.recovered).toBe(true);
    // The event loop never waited for the lock.
    expect(r.pings).toBeGreaterThan(30);
    expect(r.stallsOver20ms).toBe(0);
    expect(r.healthDuring).toBe(503);
    expect(r.healthAfter).toBe(200);
    // Writes that are not appends answer at once with 503 + Retry-After; an append waits DB_RETRY_MS first.
    const byPath = Object.fromEntries(r.writePaths.map((w) => [w.path, w]));
    for (const path of ["POST /api/sessions", "PATCH /api/sessions/lock-s0", "POST /api/sessions/lock-s0/end", "join of a new participant"]) {
      expect(byPath[path]).toMatchObject({ status: 503, code: "unavailable" });
      expect(byPath[path]!.ms).toBeLessThan(300);
    }
    expect(byPath["POST /api/sessions"]!.retryAfter).toBe("1");
    expect(byPath["POST /api/sessions/lock-s0/messages"]).toMatchObject({ status: 503, code: "unavailable", retryAfter: "1" });
    expect(r.logEvents[0]).toBe("storage.fault_started");
    expect(r.logEvents.filter((e) => e === "storage.fault_started")).toHaveLength(1);
    expect(r.logEvents.filter((e) => e === "storage.fault_ended")).toHaveLength(1);
    expect(r.logEvents.at(-1)).toBe("storage.fault_ended");
    expect(r.storageErrors).toBeGreaterThan(0);
    // The expiry sweep and activity save were skipped while it lasted, and nothing counted as a bug.
    expect(r.maintenanceSkipped).toBeGreaterThan(0);
    expect(r.internalErrors).toEqual([]);
  }, 30_000);
});

describe("the disk is full", () => {
  const reason = canMountTmpfs();
  if (reason !== null) console.log(`full disk trial skipped: ${reason}`);
  test.skipIf(reason !== null)("unavailable at once, health unhealthy, recovery when space returns with no gap in seq, SIGTERM exits 0, integrity ok", async () => {
    const r = await fullDiskTrial();
    expect(r.firstRefusal).toMatchObject({ code: "unavailable", retryAfterMs: 5000 });
    expect(r.refusalMs).toBeLessThan(500);
    expect(r.healthWhileFull).toEqual({ health: 503, ready: 503, status: "unhealthy" });
    expect(r.logged).toContain("SQLITE_FULL");
    expect(r.healthAfterSpace).toEqual({ health: 200, ready: 200, status: "healthy" });
    expect(r.ackedAfterSpace).toBe(true);
    expect(r.sigtermWhileFull).toEqual({ exitCode: 0, closeCode: 1001 });
    expect(r.integrity).toBe("ok");
    expect(r.ackedLost).toBe(0);
    expect(r.seqGaps).toBe(0);
  }, 60_000);
});
