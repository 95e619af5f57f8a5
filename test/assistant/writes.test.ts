// The stream rows' writes nobody waits for (StreamWrites): in place for a store that answers at once, in issue order
// per stream for one that answers later, failures handed over and never unhandled.
import { describe, expect, test } from "bun:test";
import { StreamWrites, type StreamWriteOp } from "../../src/assistant/writes.ts";

/** A store that answers each write after `ms`, recording when each one ran and ended. */
function slowTable(ms: (op: string) => number) {
  const rows = new Map<string, string>();
  const log: string[] = [];
  const write = (op: StreamWriteOp, id: string, text = "") => async () => {
    log.push(`${op}:${id}:start`);
    await Bun.sleep(ms(op));
    if (op === "insert") rows.set(id, text);
    else if (op === "save" && rows.has(id)) rows.set(id, text);
    else if (op === "delete") rows.delete(id);
    log.push(`${op}:${id}:end`);
  };
  return { rows, log, write };
}

describe("stream writes", () => {
  test("a store that answers at once is written in place, in the caller's turn; a throw goes to the failure handler", () => {
    const failures: string[] = [];
    const writes = new StreamWrites((op, session, stream, e) => failures.push(`${op} ${session}/${stream}: ${(e as Error).message}`));
    const done: string[] = [];
    writes.run("s1", "a", "insert", () => void done.push("insert"));
    writes.run("s1", "a", "save", () => {
      throw new Error("disk full");
    }, () => done.push("save failed"));
    writes.run("s1", "a", "delete", () => void done.push("delete"));
    expect(done).toEqual(["insert", "save failed", "delete"]);
    expect(failures).toEqual(["save s1/a: disk full"]);
    expect(writes.pending("a")).toBe(false);
  });

  test("a store that answers later gets each stream's writes one after another: a save issued after the delete finds the row gone", async () => {
    // Saves are slow and deletes fast: without the ordering the delete would land first and the save bring the row back.
    const t = slowTable((op) => (op === "save" ? 30 : 1));
    const writes = new StreamWrites(() => {});
    writes.run("s1", "a", "insert", t.write("insert", "a"));
    writes.run("s1", "a", "save", t.write("save", "a", "so far"));
    writes.run("s1", "a", "delete", t.write("delete", "a"));
    writes.run("s1", "a", "save", t.write("save", "a", "late"));
    writes.run("s1", "b", "insert", t.write("insert", "b", "other stream"));
    expect(writes.pending("a")).toBe(true);
    await writes.idle();
    expect(t.log.filter((l) => l.includes(":a:"))).toEqual([
      "insert:a:start", "insert:a:end", "save:a:start", "save:a:end", "delete:a:start", "delete:a:end", "save:a:start", "save:a:end",
    ]);
    // Another stream's writes do not wait behind this one's.
    expect(t.log.indexOf("insert:b:end")).toBeLessThan(t.log.indexOf("save:a:end"));
    expect([...t.rows]).toEqual([["b", "other stream"]]);
    expect(writes.pending("a")).toBe(false);
  });

  test("a write that fails later is handed over, the next one still runs, and nothing is left unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const failures: string[] = [];
      const retried: string[] = [];
      const writes = new StreamWrites((op, _session, stream) => failures.push(`${op}:${stream}`));
      const ran: string[] = [];
      writes.run("s1", "a", "save", () => Promise.reject(new Error("connection lost")), () => retried.push("a"));
      writes.run("s1", "a", "delete", async () => void ran.push("delete"));
      await writes.idle();
      await Bun.sleep(10);
      expect(failures).toEqual(["save:a"]);
      expect(retried).toEqual(["a"]);
      expect(ran).toEqual(["delete"]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
