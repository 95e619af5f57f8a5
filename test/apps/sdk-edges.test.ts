// SDK edge cases: calls after the client stopped for good reject at once with `closed`; a join with `since` of a
// session already followed is refused with `bad_request` rather than silently ignoring `since`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type SessiondClientError } from "../../src/client/index.ts";
import { eventually, freePort, sdk, startServer, token, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "10000" } });
});
afterAll(() => server.stop());

/** Resolves with the rejection and how long it took. */
async function rejection(p: Promise<unknown>): Promise<{ error: SessiondClientError; ms: number }> {
  const started = performance.now();
  try {
    await p;
  } catch (e) {
    return { error: e as SessiondClientError, ms: performance.now() - started };
  }
  throw new Error("expected a rejection");
}

describe("after a terminal state, join and send reject at once with closed", () => {
  test("a fixed token that expired (the server closed with 4001)", async () => {
    const client = connect({ url: server.http, token: await token("ann", { ttlSeconds: 3 }), reconnect: { baseMs: 50, capMs: 100 }, timeoutMs: 20_000 });
    await client.join("edge-expired");
    let closedWith: number | undefined;
    client.on("closed", ({ code }) => (closedWith = code));
    await eventually(() => client.state === "closed", 10_000, "the client to stop");
    expect(closedWith).toBe(4001);
    const join = await rejection(client.join("edge-other"));
    const send = await rejection(client.send("edge-expired", "hello?"));
    for (const r of [join, send]) {
      expect(r.error.code).toBe("closed");
      expect(r.error.message).toContain("reconnect()");
      expect(r.ms).toBeLessThan(100);
    }
    await client.close();
  });

  test("after close()", async () => {
    const client = sdk(server, "bea");
    await client.join("edge-close");
    await client.close();
    for (const p of [client.join("edge-close"), client.send("edge-close", "x"), client.end("edge-close")]) {
      const r = await rejection(p);
      expect(r.error.code).toBe("closed");
      expect(r.ms).toBeLessThan(100);
    }
  });

  test("after giving up reconnecting (maxAttempts), until reconnect() starts again", async () => {
    const port = freePort();
    let own = await startServer({ env: { PORT: String(port) } });
    const client = connect({ url: own.http, getToken: () => token("cal"), reconnect: { baseMs: 10, capMs: 20, maxAttempts: 1 }, timeoutMs: 20_000 });
    await client.join("edge-gone");
    await own.stop();
    await eventually(() => client.state === "closed", 8000, "the client to give up");
    const r = await rejection(client.join("edge-gone"));
    expect(r.error.code).toBe("closed");
    expect(r.ms).toBeLessThan(100);
    own = await startServer({ env: { PORT: String(port) }, dataDir: own.dataDir });
    client.reconnect();
    expect((await client.join("edge-gone")).id).toBe("edge-gone");
    await client.close();
    await own.stop();
  });
});

describe("join with since on a session already followed", () => {
  test("rejects with bad_request saying it is already joined; without since it returns the same handle", async () => {
    const client = sdk(server, "dee");
    const handle = await client.join("edge-since");
    await handle.send("one");
    await handle.send("two");
    const r = await rejection(client.join("edge-since", { since: 0 }));
    expect(r.error.code).toBe("bad_request");
    expect(r.error.message).toContain("Already joined");
    expect(await client.join("edge-since")).toBe(handle);
    // After leaving, since re-delivers from there.
    await handle.leave();
    const again = await client.join("edge-since", { since: 1 });
    expect(again.history.map((m) => m.content)).toEqual(["two"]);
    await client.close();
  });

  test("the same for a room already followed", async () => {
    const client = sdk(server, "eli");
    await client.join({ room: "edge-room" });
    const r = await rejection(client.join({ room: "edge-room" }, { since: 0 }));
    expect(r.error.code).toBe("bad_request");
    expect(r.error.message).toContain('room "edge-room"');
    await client.close();
  });
});
