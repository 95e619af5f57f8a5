// A link that silently stops forwarding (a stuck proxy) is detected by the SDK's heartbeat and recovered from.
import { afterAll, expect, test } from "bun:test";
import type { Socket } from "bun";
import type { Message } from "../../src/client/index.ts";
import { eventually, sdk, startServer, token } from "../helpers.ts";

interface Pair {
  upstream: Socket<undefined> | null;
  pending: Uint8Array[];
  frozen: boolean;
}

/** A TCP proxy in front of the server whose current links can be frozen: bytes stop flowing, sockets stay open. */
function startProxy(targetPort: number) {
  const pairs = new Set<Pair>();
  const listener = Bun.listen<Pair>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(client) {
        const pair: Pair = { upstream: null, pending: [], frozen: false };
        client.data = pair;
        pairs.add(pair);
        pair.upstream = await Bun.connect({
          hostname: "127.0.0.1",
          port: targetPort,
          socket: {
            data: (_, bytes) => void (pair.frozen || client.write(bytes)),
            close: () => void (pair.frozen || client.end()),
          },
        });
        for (const bytes of pair.pending.splice(0)) pair.upstream.write(bytes);
      },
      data(client, bytes) {
        const pair = client.data;
        if (pair.frozen) return;
        if (pair.upstream) pair.upstream.write(bytes);
        else pair.pending.push(new Uint8Array(bytes));
      },
      close(client) {
        if (!client.data.frozen) client.data.upstream?.end();
      },
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}`,
    freeze: () => pairs.forEach((p) => (p.frozen = true)),
    stop: () => listener.stop(true),
  };
}

const server = await startServer({ env: { RATE_LIMIT_MESSAGES_PER_MINUTE: "100000" } });
afterAll(() => server.stop());

test("a link that stops forwarding is detected within the heartbeat timeout, and the messages missed meanwhile arrive once", async () => {
  const proxy = startProxy(server.port);
  const heartbeat = { intervalMs: 300, timeoutMs: 600 };
  const grant = (user: string) => () => token(user, { sessions: ["stuck-link"] });
  const alice = sdk({ http: proxy.url }, "alice", { heartbeat, getToken: grant("alice") });
  const bob = sdk(server, "bob", { getToken: grant("bob") });
  const handle = await alice.join("stuck-link");
  await bob.join("stuck-link");
  const delivered: Message[] = [];
  handle.on("message", (m) => delivered.push(m));
  await bob.send("stuck-link", "before");
  await eventually(() => delivered.length === 1, 5000, "the first message");

  proxy.freeze();
  const frozenAt = Date.now();
  const detected = new Promise<{ code: number; at: number }>((resolve) => alice.on("reconnecting", ({ code }) => resolve({ code, at: Date.now() })));
  await bob.send("stuck-link", "while the link was stuck");
  const { code, at } = await detected;
  const elapsed = at - frozenAt;
  expect(code).toBe(4000);
  // The next ping goes out within one interval; silence for one timeout after it is the verdict.
  expect(elapsed).toBeGreaterThanOrEqual(heartbeat.timeoutMs - 50);
  expect(elapsed).toBeLessThanOrEqual(heartbeat.intervalMs + heartbeat.timeoutMs + 300);

  await eventually(() => alice.state === "open" && delivered.length === 2, 5000, "recovery through a fresh link");
  await bob.send("stuck-link", "after");
  await eventually(() => delivered.length === 3, 5000, "the live stream again");
  await Bun.sleep(100);
  expect(delivered.map((m) => m.content)).toEqual(["before", "while the link was stuck", "after"]);
  expect(delivered.map((m) => m.seq)).toEqual([1, 2, 3]);

  await Promise.all([alice.close(), bob.close()]);
  proxy.stop();
});
