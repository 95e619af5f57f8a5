// The SDK and `unavailable`: like `rate_limited`, it waits retryAfterMs, sends the same message again and keeps
// call order, so a client rides out a busy database without the app seeing an error.
import { expect, test } from "bun:test";
import { holdWriteLock, sdk, startServer, token } from "../helpers.ts";
import { TRIAL_ENV } from "./trials.ts";

test("sends during a 1.5 s foreign lock all resolve, in call order, each stored once, without hammering the server", async () => {
  // DB_RETRY_MS=0: the server refuses at the first busy commit, so every send meets `unavailable` at least once.
  const server = await startServer({ env: { ...TRIAL_ENV, DB_RETRY_MS: "0" } });
  const client = sdk(server, "ursula");
  try {
    const handle = await client.join("busy-1");
    await handle.send("before");
    const lock = holdWriteLock(server.dataDir);
    const released = Bun.sleep(1500).then(() => lock.release());
    const started = Date.now();
    const acks = await Promise.all(Array.from({ length: 10 }, (_, i) => handle.send(`during ${i}`, { clientMsgId: `busy-${i}` })));
    await released;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 2));
    expect(acks.map((a) => a.clientMsgId)).toEqual(Array.from({ length: 10 }, (_, i) => `busy-${i}`));
    const metrics = await (await fetch(`${server.http}/metrics`)).text();
    const refusals = Number(/^sessiond_errors_total\{code="unavailable"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    expect(refusals).toBeGreaterThan(0);
    // One message in flight, one wait of retryAfterMs (1 s) after each refusal: a handful, not a flood.
    expect(refusals).toBeLessThanOrEqual(4);
    const page = await fetch(`${server.http}/api/sessions/busy-1/messages`, { headers: { Authorization: `Bearer ${await token("ursula")}` } });
    const contents = ((await page.json()) as { messages: Array<{ content: string }> }).messages.map((m) => m.content);
    expect(contents).toEqual(["before", ...Array.from({ length: 10 }, (_, i) => `during ${i}`)]);
  } finally {
    await client.close();
    await server.stop();
  }
}, 30_000);
