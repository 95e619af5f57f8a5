// close() leaves nothing behind: a process that used the SDK exits on its own.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { freePort, ROOT, startServer, token } from "../helpers.ts";

const server = await startServer();
afterAll(() => server.stop());

test("after close() the process exits by itself: no timer, listener or socket is left", async () => {
  const child = Bun.spawn([process.execPath, join(ROOT, "test", "fixtures", "client-lifecycle.ts"), server.http, await token("alice"), `http://127.0.0.1:${freePort()}`], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => child.kill(), 10_000);
  let reportedAt = 0;
  let output = "";
  for await (const chunk of child.stdout) {
    output += new TextDecoder().decode(chunk);
    if (output.includes("\n") && reportedAt === 0) reportedAt = Date.now();
  }
  const exitCode = await child.exited;
  clearTimeout(killer);
  const exitedAfterMs = Date.now() - reportedAt;
  expect(await new Response(child.stderr).text()).toBe("");
  expect(exitCode).toBe(0);
  expect(reportedAt).toBeGreaterThan(0);
  expect(exitedAfterMs).toBeLessThan(1000);
  expect(JSON.parse(output)).toEqual({ received: ["one", "two"], state: "closed", queued: "closed" });
});
