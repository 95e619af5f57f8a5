// A Bun process that follows a room and appends every message to a JSON-lines transcript, exactly once, even
// across restarts of this process (it resumes from the last seq it wrote) and of the server.
//
//   JWT_SECRET=$(cat data/secret) bun examples/bun/transcript.ts standup transcript.jsonl
//
// data/secret is the signing secret the server generated on its first start (no JWT_SECRET set); if you started the
// server with your own JWT_SECRET, pass that one instead.
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { sign } from "hono/jwt";
import { connect } from "sessiond/client";

const [room = "standup", file = "transcript.jsonl"] = process.argv.slice(2);
const secret = process.env.JWT_SECRET;
if (!secret) throw new Error("set JWT_SECRET to the server's signing secret, e.g. JWT_SECRET=$(cat data/secret)");

// Tokens are short-lived; the client asks for a fresh one before expiry and on every reconnect.
const getToken = () => sign({ sub: "transcript-bot", sessions: [`room:${room}`], exp: Math.floor(Date.now() / 1000) + 600 }, secret, "HS256");

const written = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line)) : [];
const last = written.at(-1);

const client = connect({ url: process.env.SESSIOND_URL ?? "http://localhost:3000", getToken });
client.on("reconnecting", ({ attempt, delayMs }) => console.error(`reconnecting (attempt ${attempt}, in ${delayMs} ms)`));
client.on("open", ({ reconnected }) => console.error(reconnected ? "reconnected" : "connected"));

let handle = await client.join({ room }, { limit: 1000 });
if (last?.session === handle.id) {
  // The room is still in the session written before: follow it from the last line written instead.
  await handle.leave();
  handle = await client.join(last.session, { since: last.seq });
}

const write = (m: { seq: number; session: string; userId: string; content: string; createdAt: string }) =>
  appendFileSync(file, `${JSON.stringify({ session: m.session, seq: m.seq, userId: m.userId, content: m.content, at: m.createdAt })}\n`);
handle.history.forEach(write);
handle.on("message", write);
handle.on("status", (status) => {
  console.error(`session ${status}`);
  void client.close();
});

process.on("SIGINT", () => void client.close().then(() => process.exit(0)));
