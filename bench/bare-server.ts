// The ceiling of this stack: a bare Bun.serve pub/sub server with no persistence, no auth and no validation.
// It speaks just enough of protocol v1 (join, message -> ack + publish) for the same load generator to drive it.
let seq = 0;
/** Each session's recent messages in memory, in the shape sessiond stores them, for joins with history. */
const history = new Map<string, object[]>();
const streams: Array<{ session: string; pieces: number }> = [];
/** One stream at a time, in order (as sessiond answers one reply per session at a time). */
async function pump(): Promise<void> {
  while (streams.length > 0) {
    const { session, pieces } = streams[0]!;
    const id = String(++seq);
    let offset = 0;
    for (let i = 0; i < pieces; i++) {
      const text = `tok${i} `;
      server.publish(session, JSON.stringify({ type: "stream.delta", session, stream: id, offset, text }));
      offset += text.length;
      // Let the sockets drain now and then, as a reply arriving over the network would.
      if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
    }
    server.publish(session, JSON.stringify({ type: "stream.end", session, stream: id, status: "complete" }));
    streams.shift();
  }
}
const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: "127.0.0.1",
  fetch(req, srv) {
    return srv.upgrade(req) ? undefined : new Response("bare");
  },
  websocket: {
    maxPayloadLength: 64 * 1024 + 32 * 1024,
    backpressureLimit: 8 * 1024 * 1024,
    closeOnBackpressureLimit: true,
    message(ws, raw) {
      const f = JSON.parse(String(raw));
      if (f.type === "join") {
        ws.subscribe(f.session);
        const messages = history.get(f.session)?.slice(-(f.limit ?? 100)) ?? [];
        ws.send(JSON.stringify({ type: "joined", ref: f.id, session: { id: f.session }, messages, participants: [] }));
      } else if (f.type === "stream") {
        // The stream benchmark's ceiling: `pieces` stream.delta frames published as fast as the loop allows.
        streams.push(f);
        if (streams.length === 1) void pump();
      } else if (f.type === "message") {
        const s = ++seq;
        const now = Date.now();
        let kept = history.get(f.session);
        if (!kept) history.set(f.session, (kept = []));
        kept.push({ id: String(s), seq: s, session: f.session, userId: "u", role: "user", kind: "text", content: f.content, createdAt: new Date(now).toISOString() });
        if (kept.length > 2000) kept.splice(0, 1000);
        ws.send(JSON.stringify({ type: "ack", ref: f.id, session: f.session, seq: s, messageId: String(s), ts: now }));
        server.publish(f.session, JSON.stringify({ type: "message", session: f.session, message: { seq: s, content: f.content } }));
      }
    },
  },
});
console.log(JSON.stringify({ event: "server.started", port: server.port }));

// A module, so its top-level names do not clash with the other bench scripts under tsc.
export {};
