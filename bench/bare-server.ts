// The ceiling of this stack: a bare Bun.serve pub/sub server with no persistence, no auth and no validation.
// It speaks just enough of protocol v1 (join, message -> ack + publish) for the same load generator to drive it.
let seq = 0;
const server = Bun.serve({
  port: 0,
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
        ws.send(JSON.stringify({ type: "joined", ref: f.id, session: { id: f.session }, messages: [], participants: [] }));
      } else if (f.type === "message") {
        const s = ++seq;
        ws.send(JSON.stringify({ type: "ack", ref: f.id, session: f.session, seq: s, messageId: String(s), ts: Date.now() }));
        server.publish(f.session, JSON.stringify({ type: "message", session: f.session, message: { seq: s, content: f.content } }));
      }
    },
  },
});
console.log(JSON.stringify({ event: "server.started", port: server.port }));
