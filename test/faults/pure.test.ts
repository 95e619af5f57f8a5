// The pure parts behind fault handling: which errors are storage faults, the fault log's throttling, the stall
// window, and the JSON shape limits on stored values.
import { describe, expect, test } from "bun:test";
import { faultKind, guardWrite, storageFaultCode, StorageFaultMonitor, unavailableError } from "../../src/db/storage-faults.ts";
import { StallWindow } from "../../src/observability/event-loop.ts";
import { jsonShapeProblem, MAX_JSON_DEPTH } from "../../src/protocol/json-shape.ts";
import { statusOf } from "../../src/protocol/http-errors.ts";

const sqliteError = (code: string) => Object.assign(new Error("database problem"), { name: "SQLiteError", code });

describe("storage fault classification", () => {
  test("busy, locked, full and I/O errors are storage faults; constraints, SQL errors and plain errors are not", () => {
    expect(storageFaultCode(sqliteError("SQLITE_BUSY"))).toBe("SQLITE_BUSY");
    expect(storageFaultCode(sqliteError("SQLITE_LOCKED"))).toBe("SQLITE_LOCKED");
    expect(storageFaultCode(sqliteError("SQLITE_FULL"))).toBe("SQLITE_FULL");
    expect(storageFaultCode(sqliteError("SQLITE_IOERR_FSYNC"))).toBe("SQLITE_IOERR_FSYNC");
    expect(storageFaultCode(sqliteError("SQLITE_CONSTRAINT_UNIQUE"))).toBeNull();
    expect(storageFaultCode(sqliteError("SQLITE_ERROR"))).toBeNull();
    expect(storageFaultCode(new TypeError("x is undefined"))).toBeNull();
    expect(storageFaultCode("SQLITE_BUSY")).toBeNull();
  });

  test("a driver error wrapped by a query builder is found through its cause", () => {
    const wrapped = new Error("Failed query: insert into ...", { cause: sqliteError("SQLITE_FULL") });
    expect(storageFaultCode(wrapped)).toBe("SQLITE_FULL");
  });

  test("extended codes count as their primary code; a code merely named like a prototype property is no fault", () => {
    expect(faultKind("SQLITE_BUSY_RECOVERY")).toBe("busy");
    expect(faultKind("SQLITE_IOERR_WRITE")).toBe("io");
    expect(faultKind("SQLITE_FULL")).toBe("full");
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) expect(faultKind(name)).toBeNull();
  });

  test("a fault becomes `unavailable` with retryAfterMs, answered over HTTP as 503", () => {
    const busy = unavailableError("SQLITE_BUSY");
    expect(busy.code).toBe("unavailable");
    expect(busy.retryAfterMs).toBe(1000);
    expect(busy.message).toMatch(/busy.*nothing was saved/i);
    expect(busy.message).not.toContain("SQLITE");
    expect(unavailableError("SQLITE_FULL").retryAfterMs).toBe(5000);
    expect(unavailableError("SQLITE_FULL").message).toMatch(/disk is full/);
    expect(statusOf("unavailable")).toBe(503);
  });
});

function recorder() {
  const lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (event: string, fields: Record<string, unknown>) => lines.push({ level, event, fields });
  return { lines, log: { error: at("error"), warn: at("warn"), info: at("info") } };
}

describe("the storage fault monitor", () => {
  test("logs a fault once when it starts, at most one summary per 10 s while it lasts, and once when it ends", () => {
    let now = 1_000_000;
    const { lines, log } = recorder();
    const counted: string[] = [];
    const changes: boolean[] = [];
    const monitor = new StorageFaultMonitor({ log, count: (c) => counted.push(c), onChange: (f) => changes.push(f), now: () => now });
    monitor.succeeded();
    expect(lines).toHaveLength(0);
    // 25 s of failures, 10 a second.
    for (let i = 0; i < 250; i++) {
      monitor.failed(i % 50 === 49 ? "SQLITE_FULL" : "SQLITE_BUSY", "append");
      now += 100;
    }
    expect(monitor.faulted).toBe(true);
    expect(monitor.code).toBe("SQLITE_BUSY");
    monitor.succeeded();
    monitor.succeeded();
    expect(monitor.faulted).toBe(false);
    expect(lines.map((l) => l.event)).toEqual(["storage.fault_started", "storage.fault_ongoing", "storage.fault_ongoing", "storage.fault_ended"]);
    expect(lines[0]).toMatchObject({ level: "error", fields: { code: "SQLITE_BUSY", op: "append" } });
    expect(lines[1]!.fields).toMatchObject({ failures: 100, total: 101, durationMs: 10_000 });
    expect(lines[3]).toMatchObject({ level: "info", fields: { code: "SQLITE_BUSY", failures: 250, byCode: { SQLITE_BUSY: 245, SQLITE_FULL: 5 }, durationMs: 25_000 } });
    expect(counted).toHaveLength(250);
    expect(changes).toEqual([true, false]);
  });

  test("a write guarded by the monitor turns a fault into `unavailable` and a success into the fault's end", () => {
    const { lines, log } = recorder();
    const monitor = new StorageFaultMonitor({ log });
    expect(() => guardWrite(monitor, "insertSession", () => { throw sqliteError("SQLITE_FULL"); })).toThrow(/disk is full/);
    expect(() => guardWrite(monitor, "insertSession", () => { throw new RangeError("a bug"); })).toThrow(RangeError);
    expect(guardWrite(monitor, "insertSession", () => 42)).toBe(42);
    expect(lines.map((l) => [l.event, l.fields.code])).toEqual([["storage.fault_started", "SQLITE_FULL"], ["storage.fault_ended", "SQLITE_FULL"]]);
  });
});

describe("the stall window", () => {
  test("reports the worst stall of the current and previous 10 s, and forgets older ones", () => {
    const w = new StallWindow(0);
    w.record(3, 1000);
    w.record(42, 5000);
    w.record(7, 9000);
    expect(w.recentMaxMs(9500)).toBe(42);
    w.record(2, 12_000);
    expect(w.recentMaxMs(15_000)).toBe(42);
    expect(w.recentMaxMs(21_000)).toBe(2);
    expect(w.recentMaxMs(45_000)).toBe(0);
    expect(w.maxMs).toBe(42);
  });
});

describe("JSON shape limits for metadata and config", () => {
  test("ordinary values, and keys named like prototype properties other than __proto__, are fine", () => {
    expect(jsonShapeProblem({ lang: "en", tags: ["a", { b: [1, null] }] })).toBeNull();
    expect(jsonShapeProblem({ constructor: "x", toString: 1, hasOwnProperty: true, valueOf: {} })).toBeNull();
    expect(jsonShapeProblem("text")).toBeNull();
  });

  test('a "__proto__" key is refused at any depth', () => {
    expect(jsonShapeProblem(JSON.parse('{"__proto__":{"admin":true}}'))).toBe('no key named "__proto__"');
    expect(jsonShapeProblem(JSON.parse('{"a":[{"b":{"__proto__":1}}]}'))).toBe('no key named "__proto__"');
  });

  test("nesting deeper than the limit is refused without recursion, even 100,000 levels deep", () => {
    const deep = (n: number) => JSON.parse(`{"a":${"[".repeat(n - 1)}${"]".repeat(n - 1)}}`);
    expect(jsonShapeProblem(deep(MAX_JSON_DEPTH))).toBeNull();
    expect(jsonShapeProblem(deep(MAX_JSON_DEPTH + 1))).toBe(`at most ${MAX_JSON_DEPTH} levels of nested objects and arrays`);
    expect(jsonShapeProblem(deep(100_000))).toMatch(/^at most/);
  });
});
