import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

describe("a session with three clients", () => {
  test("each receives every message exactly once, in seq order, the sender included; acks carry the committed seq", async () => {
    const [a, b, c] = await Promise.all(["alice", "bob", "carol"].map(async (u) => WsClient.connect(server.ws, { token: await token(u) })));
    const joinedA = await a!.request({ type: "join", session: "trio" });
    expect(joinedA.type).toBe("joined");
    expect(joinedA.session.ownerId).toBe("alice");
    await a!.request({ type: "configure", session: "trio", members: ["bob", "carol"] });
    await b!.request({ type: "join", session: "trio" });
    const joinedC = await c!.request({ type: "join", session: "trio" });
    expect(joinedC.participants.sort()).toEqual(["alice", "bob", "carol"]);

    const acks = await Promise.all(
      Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]!.request({ type: "message", session: "trio", content: `m${i}` })),
    );
    for (const ack of acks) expect(ack.type).toBe("ack");
    const seqs = acks.map((x) => x.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));

    for (const client of [a, b, c]) {
      await client!.waitForCount((f) => f.type === "message" && f.session === "trio", 30);
      const got = client!.messages("trio");
      expect(got.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    }
    // Each ack's seq names the message that was committed for that request.
    const all = a!.messages("trio");
    for (const ack of acks) expect(all.find((m) => m.seq === ack.seq)!.id).toBe(ack.messageId);
    await Promise.all([a, b, c].map((x) => x!.close()));
  });
});

describe("idempotency", () => {
  test("the same clientMsgId from two connections of one user gives one row, one broadcast and two equal acks", async () => {
    const t = await token("dana");
    const one = await WsClient.connect(server.ws, { token: t });
    const two = await WsClient.connect(server.ws, { token: t });
    await one.request({ type: "join", session: "idem" });
    await two.request({ type: "join", session: "idem" });
    const [ack1, ack2] = await Promise.all([
      one.request({ type: "message", session: "idem", content: "hello", clientMsgId: "c-1" }),
      two.request({ type: "message", session: "idem", content: "hello", clientMsgId: "c-1" }),
    ]);
    const ack3 = await one.request({ type: "message", session: "idem", content: "hello", clientMsgId: "c-1" });
    expect(ack1.seq).toBe(1);
    expect({ ...ack2, ref: 0 }).toEqual({ ...ack1, ref: 0 });
    expect({ ...ack3, ref: 0 }).toEqual({ ...ack1, ref: 0 });
    expect(ack1.clientMsgId).toBe("c-1");
    await one.request({ type: "ping" });
    expect(one.messages("idem")).toHaveLength(1);
    expect(two.messages("idem")).toHaveLength(1);
    const page = await api(server.http, "GET", "/api/sessions/idem/messages", { token: t });
    expect(page.body.messages).toHaveLength(1);
    await one.close();
    await two.close();
  });
});
