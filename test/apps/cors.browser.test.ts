// Browser apps on another origin, in real Chromium: a page served from one origin (a small Bun.serve here) uses the
// HTTP API, SSE and the SDK against sessiond on another origin when ALLOWED_ORIGINS lists it, and is refused when
// it does not. Plus the headers themselves, checked without a browser: preflights before authentication, `*`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { api, ROOT, startServer, token, type ServerProcess } from "../helpers.ts";

const CHROMIUM = "/usr/bin/chromium";

let browser: Browser;
let pageServer: ReturnType<typeof Bun.serve>;
let pageOrigin: string;
let allowed: ServerProcess;
let refusing: ServerProcess;

beforeAll(async () => {
  const build = await Bun.build({ entrypoints: [join(ROOT, "src", "client", "index.ts")], target: "browser", format: "esm" });
  const bundle = await build.outputs[0]!.text();
  pageServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/sessiond-client.js") return new Response(bundle, { headers: { "Content-Type": "text/javascript" } });
      return new Response("<!doctype html><meta charset=utf-8><title>app</title><p>app on its own origin</p>", { headers: { "Content-Type": "text/html" } });
    },
  });
  pageOrigin = `http://127.0.0.1:${pageServer.port}`;
  allowed = await startServer({ env: { ALLOWED_ORIGINS: `https://other.example,${pageOrigin}`, RATE_LIMIT_MESSAGES_PER_MINUTE: "3" } });
  refusing = await startServer({ env: { ALLOWED_ORIGINS: "https://other.example" } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"] });
});
afterAll(async () => {
  await browser?.close();
  await allowed?.stop();
  await refusing?.stop();
  pageServer?.stop(true);
});

async function appPage(): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${pageOrigin}/`);
  return page;
}

test("an allowed origin uses fetch (preflighted, with a token), EventSource and the SDK against sessiond", async () => {
  const page = await appPage();
  const t = await token("alice");
  const result = await page.evaluate(
    async ({ base, t }) => {
      const headers = { Authorization: `Bearer ${t}`, "Content-Type": "application/json" };
      const created = await fetch(`${base}/api/sessions`, { method: "POST", headers, body: JSON.stringify({ access: "open" }) });
      const session = await created.json();
      // SSE from the other origin: a message posted over HTTP arrives as an event.
      const es = new EventSource(`${base}/api/sessions/${session.id}/events?token=${t}`);
      const opened = new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = () => reject(new Error("EventSource failed"));
      });
      await opened;
      const eventData = new Promise<string>((resolve) => es.addEventListener("message", (e) => resolve((e as MessageEvent).data)));
      const posted = await fetch(`${base}/api/sessions/${session.id}/messages`, {
        method: "POST",
        headers: { ...headers, "Idempotency-Key": "k-1" },
        body: JSON.stringify({ content: "over http" }),
      });
      const fromSse = JSON.parse(await eventData).message.content;
      es.close();
      // The SDK, loaded by the page from its own origin, over WebSocket to sessiond's.
      const { connect } = await import(`${location.origin}/sessiond-client.js`);
      const client = connect({ url: base, token: t, reconnect: { maxAttempts: 2 } });
      const handle = await client.join(session.id);
      const ack = await handle.send("over the sdk");
      await client.close();
      // Rate limited (3 a minute): the app can read Retry-After, which CORS exposes.
      let retryAfter: string | null = null;
      for (let i = 0; i < 3 && retryAfter === null; i++) {
        const r = await fetch(`${base}/api/sessions/${session.id}/messages`, { method: "POST", headers, body: JSON.stringify({ content: `n${i}` }) });
        if (r.status === 429) retryAfter = r.headers.get("Retry-After");
      }
      return { created: created.status, owner: session.ownerId, posted: posted.status, fromSse, ackSeq: ack.seq, history: handle.history.length, retryAfter };
    },
    { base: allowed.http, t },
  );
  expect(result).toMatchObject({ created: 201, owner: "alice", posted: 201, fromSse: "over http", ackSeq: 2, history: 1 });
  expect(Number(result.retryAfter)).toBeGreaterThan(0);
  await page.close();
}, 30_000);

test("an origin not in ALLOWED_ORIGINS gets nothing: fetch, EventSource and the SDK all fail", async () => {
  const page = await appPage();
  const t = await token("bob");
  const id = (await api(refusing.http, "POST", "/api/sessions", { token: t, body: {} })).body.id;
  const result = await page.evaluate(
    async ({ base, t, id }) => {
      const fetchError = await fetch(`${base}/api/sessions`, { headers: { Authorization: `Bearer ${t}` } }).then(
        () => "read",
        (e) => (e as Error).name,
      );
      const sse = await new Promise<number>((resolve) => {
        const es = new EventSource(`${base}/api/sessions/${id}/events?token=${t}`);
        es.onopen = () => resolve(-1);
        es.onerror = () => {
          resolve(es.readyState);
          es.close();
        };
      });
      const { connect } = await import(`${location.origin}/sessiond-client.js`);
      const client = connect({ url: base, token: t, reconnect: { baseMs: 10, capMs: 20, maxAttempts: 1 } });
      const sdk = await client.join(id, { timeoutMs: 10_000 }).then(
        () => "joined",
        (e: { code: string }) => e.code,
      );
      await client.close();
      return { fetchError, sse, sdk };
    },
    { base: refusing.http, t, id },
  );
  // A CORS refusal: fetch rejects with TypeError; EventSource fails for good (CLOSED = 2); the SDK never connects.
  expect(result).toEqual({ fetchError: "TypeError", sse: 2, sdk: "closed" });
  await page.close();
}, 30_000);

describe("the CORS headers, without a browser", () => {
  test("a preflight is answered before authentication, with the allowed headers and methods", async () => {
    const res = await fetch(`${allowed.http}/api/sessions/abc/messages`, {
      method: "OPTIONS",
      headers: { Origin: pageOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type,idempotency-key" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(pageOrigin);
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-allow-headers")!.split(",")).toEqual(["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"]);
    // Every method of the HTTP API, erasure's DELETE included.
    expect(res.headers.get("access-control-allow-methods")!.split(",")).toEqual(["GET", "HEAD", "POST", "PATCH", "DELETE"]);
    expect(res.headers.get("vary")).toContain("Origin");
  });

  test("errors carry the headers too, so the app can read a 401 or 429; other origins get none", async () => {
    const unauthorized = await fetch(`${allowed.http}/api/sessions`, { headers: { Origin: pageOrigin } });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("access-control-allow-origin")).toBe(pageOrigin);
    expect(unauthorized.headers.get("access-control-expose-headers")).toBe("Retry-After");
    const other = await fetch(`${allowed.http}/api/sessions`, { headers: { Origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await fetch(`${refusing.http}/api/sessions`, { method: "OPTIONS", headers: { Origin: pageOrigin, "Access-Control-Request-Method": "GET" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("ALLOWED_ORIGINS=* allows any origin, without credentials; unset sends no CORS headers", async () => {
    const any = await startServer({ env: { ALLOWED_ORIGINS: "*" } });
    const res = await fetch(`${any.http}/api/sessions`, { method: "OPTIONS", headers: { Origin: "https://anywhere.example", "Access-Control-Request-Method": "GET" } });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    await any.stop();
    const unset = await startServer();
    const none = await fetch(`${unset.http}/api/sessions`, { method: "OPTIONS", headers: { Origin: "https://anywhere.example", "Access-Control-Request-Method": "GET" } });
    expect(none.status).toBe(204);
    expect(none.headers.get("access-control-allow-origin")).toBeNull();
    await unset.stop();
  });
});
