// A node is assembled by src/server/node.ts, not by the CLI: tests can start several in one process (what the
// cluster tests build on), each with its own storage, and shut each down in order.
import { expect, test } from "bun:test";
import { loadConfig } from "../../src/config/index.ts";
import { startNode } from "../../src/server/node.ts";
import { tempDir, token, WsClient, TEST_SECRET } from "../helpers.ts";

test("two nodes start in one process, each commits and delivers on its own, and each shuts down cleanly", async () => {
  const nodes = [];
  for (const name of ["a", "b"]) {
    const loaded = loadConfig({ DATA_DIR: tempDir(`sessiond-node-${name}-`), PORT: "0", HOST: "127.0.0.1", JWT_SECRET: TEST_SECRET, LOG_LEVEL: "error" });
    if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
    nodes.push(await startNode(loaded.config, { version: "test" }));
  }
  try {
    for (const [i, node] of nodes.entries()) {
      const url = `ws://127.0.0.1:${node.port}/ws`;
      const writer = await WsClient.connect(url, { token: await token("ann") });
      const reader = await WsClient.connect(url, { token: await token("ann") });
      await writer.request({ type: "join", session: "shared-name" });
      await reader.request({ type: "join", session: "shared-name" });
      const ack = await writer.request({ type: "message", session: "shared-name", content: `on node ${i}` });
      expect(ack).toMatchObject({ type: "ack", seq: 1 });
      const live = await reader.waitFor((f) => f.type === "message");
      expect(live.message).toMatchObject({ seq: 1, content: `on node ${i}` });
      await writer.close();
      await reader.close();
    }
  } finally {
    for (const node of nodes) await node.shutdown("test");
  }
});
