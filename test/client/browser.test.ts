// The SDK in a real browser: the browser bundle builds, and the example chat page (served by sessiond in
// development mode) exchanges messages with a Bun client through the real server, across a server crash.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { connect, type SessionHandle } from "../../src/client/index.ts";
import { eventually, freePort, ROOT, startServer, tempDir, type ServerProcess } from "../helpers.ts";

const CHROMIUM = "/usr/bin/chromium";

test("the browser bundle builds with bun build --target=browser, imports nothing, and the README reports its size", async () => {
  const out = join(tempDir(), "sessiond-client.js");
  const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts", "build-client.ts"), out], { cwd: ROOT });
  expect(build.stderr.toString()).toBe("");
  expect(build.exitCode).toBe(0);
  const code = await Bun.file(out).text();
  expect(code).not.toMatch(/\bimport\s*[\w{*"']|\brequire\(/);
  expect(code).toMatch(/export\s*\{[^}]*\bconnect\b/);
  const gzippedKb = Bun.gzipSync(new TextEncoder().encode(code)).length / 1024;
  const stated = /client SDK's browser bundle is ([\d.]+) KB minified, ([\d.]+) KB gzipped/.exec(readFileSync(join(ROOT, "README.md"), "utf8"));
  expect(stated).not.toBeNull();
  // The README's figure stays within 10% of the bundle it describes.
  expect(Math.abs(Number(stated![2]) - gzippedKb) / gzippedKb).toBeLessThan(0.1);
});

let browser: Browser;
const port = freePort();
const env = { PORT: String(port), AUTH_MODE: "none", DEV_EXAMPLES: "true", RATE_LIMIT_MESSAGES_PER_MINUTE: "10000" };
let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ env });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

test("the example chat page runs the SDK in Chromium: messages both ways with a Bun client, each once and in order across a server crash", async () => {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await page.goto(`${server.http}/examples/chat/?user=alice&room=lobby`);
  await page.waitForSelector('#state[data-state="open"]');

  const bob = connect({ url: `${server.http}/?user=bob`, reconnect: { baseMs: 50, capMs: 500 } });
  let room: SessionHandle | undefined;
  // The page opens the room's session to everyone once it owns it.
  await eventually(async () => (room = await bob.join({ room: "lobby" }).catch(() => undefined)) !== undefined, 10_000, "bob in the room");
  const bobSaw: string[] = [];
  room!.on("message", (m) => bobSaw.push(m.content));
  const pageMessages = () => page.$$eval("#messages li", (lis) => lis.map((li) => ({ seq: Number((li as HTMLElement).dataset.seq), text: li.textContent })));
  const outboxSize = () => page.$$eval("#outbox li", (lis) => lis.length);

  await page.fill("#input", "hello from the browser");
  await page.press("#input", "Enter");
  await eventually(() => bobSaw.includes("hello from the browser"), 10_000, "bob to receive the browser's message");
  await room!.send("hello from bun");
  await page.waitForFunction(() => document.querySelector("#messages")!.textContent!.includes("hello from bun"));
  await page.waitForSelector('#participants li:has-text("bob")');

  await server.stop("SIGKILL");
  await page.waitForSelector('#state[data-state="reconnecting"]');
  await page.fill("#input", "sent while the server was down");
  await page.press("#input", "Enter");
  expect(await outboxSize()).toBe(1);
  server = await startServer({ dataDir: server.dataDir, env });
  await room!.send("after the restart");

  await eventually(async () => (await pageMessages()).length === 4 && (await outboxSize()) === 0, 15_000, "four messages on the page");
  const shown = await pageMessages();
  expect(shown.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  expect(shown.slice(0, 2).map((m) => m.text)).toEqual(["alicehello from the browser", "bobhello from bun"]);
  expect(shown.slice(2).map((m) => m.text).sort()).toEqual(["alicesent while the server was down", "bobafter the restart"]);
  await eventually(() => bobSaw.length === 4, 10_000, "bob to see all four");
  expect(pageErrors).toEqual([]);
  await bob.close();
  await page.close();
}, 60_000);
