// The stream benchmark's model server: any chat-completions request gets a stream of PIECES pieces (default 1000),
// written 64 chunks at a time as the socket takes them. Run as its own process, pinned beside the server it feeds.
const PIECES = Number(process.env.PIECES ?? 1000);
const encoder = new TextEncoder();
const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 0, model: "bench", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  async fetch(req) {
    await req.text();
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        let out = i === 0 ? chunk({ role: "assistant", content: "" }) : "";
        for (const end = Math.min(PIECES, i + 64); i < end; i++) out += chunk({ content: `tok${i} ` });
        if (i >= PIECES) out += `${chunk({}, "stop")}data: [DONE]\n\n`;
        controller.enqueue(encoder.encode(out));
        if (i >= PIECES) controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  },
});
console.log(JSON.stringify({ event: "server.started", port: server.port }));

// A module, so its top-level names do not clash with the other bench scripts under tsc.
export {};
