// The reconnect storm's writer (bench/storm.ts): another process that, right after the restart, writes N messages
// into each of the storm's sessions over a few pipelined admin connections; prints how long that took.
import { mintToken } from "../src/auth/tokens.ts";
import { SECRET } from "./servers.ts";

const { url, sessions, perSession } = JSON.parse(process.env.STORM_WRITER!) as { url: string; sessions: number; perSession: number };
const SOCKETS = 8;
const IN_FLIGHT = 256;
const token = await mintToken(SECRET, { userId: "storm-writer", ttlSeconds: 3600, admin: true });
const started = performance.now();
// A session's messages go out pipelined on one socket, which keeps their order (frames of one socket are applied
// in arrival order); several sessions are in flight on each socket.
let nextSession = 0;
const lanes = Array.from({ length: SOCKETS }, async () => {
  let ws: WebSocket;
  for (;;) {
    try {
      ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } } as unknown as string[]);
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error("connect failed"));
      });
      break;
    } catch {
      await Bun.sleep(20);
    }
  }
  const waiting = new Map<number, () => void>();
  ws.onmessage = (e) => {
    const f = JSON.parse(String(e.data));
    if (f.type === "ack") waiting.get(f.ref)?.();
    else if (f.type === "error") throw new Error(`refused: ${f.code} ${f.message}`);
  };
  let id = 0;
  const send = (session: string, k: number) =>
    new Promise<void>((resolve) => {
      const ref = ++id;
      waiting.set(ref, () => {
        waiting.delete(ref);
        resolve();
      });
      ws.send(JSON.stringify({ type: "message", session, content: `storm message ${k}`, id: ref }));
    });
  const worker = async () => {
    while (nextSession < sessions) {
      const session = `rs-${nextSession++}`;
      await Promise.all(Array.from({ length: perSession }, (_, k) => send(session, k + 1)));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.floor(IN_FLIGHT / perSession)) }, worker));
  ws.close();
});
await Promise.all(lanes);
console.log(JSON.stringify({ wrote: sessions * perSession, ms: Math.round(performance.now() - started) }));
