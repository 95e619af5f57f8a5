// The first "done means": a moderator and a user on two WebSockets, as a new user would set it up. The
// user's crisis message reaches the moderator as an `analysis` (high) and an `alert` within 100 ms of the ack;
// the user receives neither.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { MAIN, ROOT, startServer, TEST_SECRET, token, WsClient, type Frame, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

/** Records when each frame arrived, by reading the socket's messages alongside the client. */
function arrivals(client: WsClient): Array<{ frame: Frame; at: number }> {
  const seen: Array<{ frame: Frame; at: number }> = [];
  client.socket.addEventListener("message", (e) => seen.push({ frame: JSON.parse(String(e.data)), at: performance.now() }));
  return seen;
}

test("a moderator sees the analysis and the alert of a crisis message within 100 ms of the ack; the user sees neither", async () => {
  // The moderator token comes from the CLI, as the README tells a new user to do it.
  const minted = Bun.spawnSync([process.execPath, MAIN, "token", "--moderator", "--user", "dr-lee"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", JWT_SECRET: TEST_SECRET, DATA_DIR: server.dataDir },
  });
  expect(minted.exitCode).toBe(0);
  const moderator = await WsClient.connect(server.ws, { token: minted.stdout.toString().trim() });
  const user = await WsClient.connect(server.ws, { token: await token("sam") });
  const modFrames = arrivals(moderator);
  const userFrames = arrivals(user);
  await user.request({ type: "join", session: "support-1" });
  // The moderator watches without joining anything: alerts reach every staff connection.
  const delays: number[] = [];
  const texts = [
    "I don't want to be here anymore, I've been saving my pills",
    "tonight I'll end it, I have the rope ready",
    "I cut myself again last night",
  ];
  for (const content of texts) {
    const ack = await user.request({ type: "message", session: "support-1", content });
    const ackAt = userFrames.find((f) => f.frame.type === "ack" && f.frame.seq === ack.seq)!.at;
    const alert = await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === ack.seq, 5000);
    expect(alert.alert).toMatchObject({ session: "support-1", seq: ack.seq, messageId: ack.messageId, userId: "sam", risk_level: "high", status: "open" });
    delays.push(modFrames.find((f) => f.frame.type === "alert" && f.frame.alert.seq === ack.seq)!.at - ackAt);
  }
  expect(Math.max(...delays)).toBeLessThan(100);

  // Joined, the moderator also receives each analysis.
  await moderator.request({ type: "join", session: "support-1" });
  const ack = await user.request({ type: "message", session: "support-1", content: "I don't want to be here anymore, I've been saving my pills" });
  const ackAt = userFrames.find((f) => f.frame.type === "ack" && f.frame.seq === ack.seq)!.at;
  const analysis = await moderator.waitFor((f) => f.type === "analysis" && f.seq === ack.seq, 5000);
  expect(analysis).toMatchObject({ session: "support-1", seq: ack.seq, analysis: { crisis: { risk_level: "high" }, analyzer: "builtin/1" } });
  expect(analysis.analysis.crisis.triggers.length).toBeGreaterThan(0);
  await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === ack.seq, 5000);
  const analysisAt = modFrames.find((f) => f.frame.type === "analysis" && f.frame.seq === ack.seq)!.at;
  expect(analysisAt - ackAt).toBeLessThan(100);

  // The user got their acks and the messages, nothing of the analysis.
  await user.request({ type: "ping" });
  expect(user.frames.some((f) => f.type === "analysis" || f.type === "alert" || f.type === "alert.updated")).toBe(false);
  expect(JSON.stringify(user.frames)).not.toContain("risk_level");
  await moderator.close();
  await user.close();
});
