// A real local webhook receiver for tests (Bun.serve on 127.0.0.1): records every request, verifies it with the
// `standardwebhooks` package, and answers with whatever the test's `respond` returns.
import type { Server } from "bun";
import { Webhook } from "standardwebhooks";

export const WEBHOOK_TEST_SECRET = `whsec_${Buffer.from("sessiond-webhook-test-key-0123456789").toString("base64")}`;

export interface Received {
  path: string;
  id: string;
  timestamp: number;
  headers: Record<string, string>;
  raw: string;
  body: any;
  /** Whether `new Webhook(secret).verify(raw, headers)` accepted it. */
  verified: boolean;
  at: number;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Requests that were verified and answered 2xx. */
  delivered(): Received[];
  /** Resolves once `count` requests matching `match` arrived. */
  waitFor(match: (r: Received) => boolean, count?: number, timeoutMs?: number): Promise<Received[]>;
  stop(): void;
}

export type Respond = (r: Received, n: number) => Response | Promise<Response>;

export function startReceiver(opts: { port?: number; secret?: string; respond?: Respond } = {}): Receiver {
  const wh = new Webhook(opts.secret ?? WEBHOOK_TEST_SECRET);
  const received: Received[] = [];
  const ok = new Set<Received>();
  const respond = opts.respond ?? (() => new Response(null, { status: 204 }));
  const server: Server<unknown> = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    async fetch(req) {
      const raw = await req.text();
      const headers = Object.fromEntries(req.headers.entries());
      let verified = false;
      try {
        wh.verify(raw, headers);
        verified = true;
      } catch {
        verified = false;
      }
      let body: unknown = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const r: Received = {
        path: new URL(req.url).pathname,
        id: headers["webhook-id"] ?? "",
        timestamp: Number(headers["webhook-timestamp"] ?? 0),
        headers,
        raw,
        body,
        verified,
        at: Date.now(),
      };
      received.push(r);
      const res = await respond(r, received.length);
      if (verified && res.status >= 200 && res.status < 300) ok.add(r);
      return res;
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/hook`,
    port: server.port!,
    received,
    delivered: () => received.filter((r) => ok.has(r)),
    async waitFor(match, count = 1, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = received.filter(match);
        if (got.length >= count) return got;
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} webhook requests, got ${got.length}: ${JSON.stringify(received.map((r) => r.body?.type))}`);
        }
        await Bun.sleep(10);
      }
    },
    stop: () => server.stop(true),
  };
}
