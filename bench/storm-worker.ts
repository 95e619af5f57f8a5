// One generator process of the reconnect storm (bench/storm.ts): its share of clients, each joined to its own session,
// reconnecting as soon as the server is back and recovering with `since`; checks that every message arrives once
// and in order, and reports when its clients have them all.
import { mintToken } from "../src/auth/tokens.ts";
import { clock } from "./load.ts";
import { SECRET } from "./servers.ts";

interface Client {
  session: string;
  token: string;
  ws: WebSocket | null;
  lastSeq: number;
  /** When it was joined again after the restart (0: not yet). */
  rejoinedAt: number;
  doneAt: number;
  joinedOnce: boolean;
}

const { url, indexes, expect: expected } = JSON.parse(process.env.STORM!) as { url: string; indexes: number[]; expect: number };
const clients: Client[] = await Promise.all(
  indexes.map(async (i) => ({ session: `rs-${i}`, token: await mintToken(SECRET, { userId: `rs${i}`, ttlSeconds: 3600 }), ws: null, lastSeq: 0, rejoinedAt: 0, doneAt: 0, joinedOnce: false })),
);
let restarted = false;
let readySent = false;
let doneSent = false;
const problems = { lost: 0, doubled: 0 };

function accept(c: Client, seq: number): void {
  if (seq <= c.lastSeq) problems.doubled++;
  else if (seq !== c.lastSeq + 1) problems.lost += seq - c.lastSeq - 1;
  if (seq > c.lastSeq) c.lastSeq = seq;
  settle(c);
}

/** Done once it is back after the restart and has every message written since. */
function settle(c: Client): void {
  if (restarted && c.rejoinedAt > 0 && c.lastSeq >= expected && c.doneAt === 0) c.doneAt = clock();
}

function open(c: Client): void {
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${c.token}` } } as unknown as string[]);
  c.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "join", session: c.session, since: c.lastSeq, id: 1 }));
  ws.onmessage = (e) => {
    const f = JSON.parse(String(e.data));
    if (f.type === "joined") {
      if (restarted && c.rejoinedAt === 0) c.rejoinedAt = clock();
      c.joinedOnce = true;
      for (const m of f.messages) accept(c, m.seq);
      settle(c);
      // A recovery page: ask for the next one.
      if (f.truncated) ws.send(JSON.stringify({ type: "join", session: c.session, since: c.lastSeq, id: 1 }));
      report();
    } else if (f.type === "message" && f.session === c.session) {
      accept(c, f.message.seq);
      report();
    }
  };
  ws.onclose = () => {
    if (c.ws !== ws) return;
    c.ws = null;
    // Straight back, as a client does when the server restarts; while it is down every attempt is refused at once.
    setTimeout(() => open(c), 20);
  };
}

function report(): void {
  if (!readySent && clients.every((c) => c.joinedOnce)) {
    readySent = true;
    process.send!({ type: "ready" });
  }
  if (restarted && !doneSent && clients.every((c) => c.doneAt > 0)) {
    doneSent = true;
    process.send!({
      type: "done",
      rejoinedAt: Math.max(...clients.map((c) => c.rejoinedAt)),
      firstRejoinAt: Math.min(...clients.map((c) => c.rejoinedAt)),
      recoveredAt: Math.max(...clients.map((c) => c.doneAt)),
      ...problems,
      wrong: clients.filter((c) => c.lastSeq !== expected).length,
    });
  }
}

process.on("message", (m: any) => {
  // From here on, a join counts as a rejoin after the restart.
  if (m.type === "restarting") restarted = true;
});
for (let k = 0; k < clients.length; k += 50) {
  for (const c of clients.slice(k, k + 50)) open(c);
  await Bun.sleep(5);
}
