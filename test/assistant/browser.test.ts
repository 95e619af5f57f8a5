// The example chat page with the assistant, in Chromium: the owner turns it on, asks, the answer streams into two
// windows, one window reloaded mid-answer continues without a repeat, and the stop button cancels a reply.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { eventually, startServer, tempDir, type ServerProcess } from "../helpers.ts";
import { gate, numberedPieces, startFakeOpenAI, type FakeOpenAI } from "./setup.ts";

const CHROMIUM = "/usr/bin/chromium";
/** Where the screenshot goes (set SCREENSHOT_DIR to keep it). */
const SHOTS = process.env.SCREENSHOT_DIR ?? tempDir();

let fake: FakeOpenAI;
let server: ServerProcess;
let browser: Browser;
beforeAll(async () => {
  fake = startFakeOpenAI();
  server = await startServer({
    env: { AUTH_MODE: "none", DEV_EXAMPLES: "true", AI_BASE_URL: fake.url, AI_MODEL: "fake-model", RATE_LIMIT_MESSAGES_PER_MINUTE: "10000" },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"] });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await fake?.stop();
});

async function open(user: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 900, height: 560 } });
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.http}/examples/chat/?user=${user}&room=ai-room`);
  await page.waitForSelector('#state[data-state="open"]');
  return { page, errors };
}

/** The growing line of the reply in progress ("" when none). */
const streaming = (page: Page) => page.$eval("#streams", (ol) => ol.querySelector("li .text")?.textContent ?? "");
/** The assistant's committed messages as the page shows them. */
const answers = (page: Page) =>
  page.$$eval("#messages li", (lis) => lis.filter((li) => li.querySelector(".who")?.textContent === "assistant").map((li) => li.textContent!.replace(/^assistant/, "")));

test("assistant on, ask: the answer streams in two windows; a reload mid-answer continues without a repeat; stop cancels", async () => {
  const pieces = numberedPieces(70);
  const expected = pieces.join("");
  // The answer holds after 30 pieces until bob's window has reloaded, so the reload is surely mid-answer.
  const held = gate();
  const atGate = pieces.slice(0, 30).join("");
  fake.script({ pieces, delayMs: 20, gate: { after: 30, open: held.open } });
  const a = await open("alice");
  const b = await open("bob");
  await a.page.waitForSelector("#assistant-toggle:not([disabled])");
  expect(await b.page.$eval("#assistant-toggle", (el) => (el as HTMLButtonElement).disabled)).toBe(true);
  await a.page.click("#assistant-toggle");
  await a.page.waitForSelector('#assistant-toggle[data-enabled="true"]');
  await b.page.waitForSelector('#assistant-toggle[data-enabled="true"]');

  await a.page.fill("#input", "What does sessiond do?");
  await a.page.press("#input", "Enter");
  await eventually(async () => (await streaming(a.page)) === atGate && (await streaming(b.page)) === atGate, 10_000, "the answer growing in both windows");

  // Reload bob's window mid-answer: it joins again, shows the text so far and continues from it.
  await b.page.reload();
  await b.page.waitForSelector('#state[data-state="open"]');
  await eventually(async () => (await streaming(b.page)) === atGate, 10_000, "the text so far after the reload");
  held.release();
  const samples: string[] = [atGate];
  await eventually(async () => {
    samples.push(await streaming(b.page));
    return (await answers(b.page)).length === 1;
  }, 15_000, "the committed answer in bob's reloaded window");
  // Every sample is a beginning of the answer, from the text so far on: nothing shown twice, nothing skipped.
  for (const s of samples.filter((s) => s !== "")) {
    expect(expected.startsWith(s)).toBe(true);
    expect(s.startsWith(atGate)).toBe(true);
  }
  expect(await answers(b.page)).toEqual([expected]);
  await eventually(async () => (await answers(a.page)).length === 1, 5000, "the answer in alice's window");
  expect(await answers(a.page)).toEqual([expected]);
  expect(await streaming(a.page)).toBe("");

  // A second question, stopped by its author mid-answer (it holds after 20 pieces until then).
  const long = numberedPieces(300);
  fake.script({ pieces: long, delayMs: 20, gate: { after: 20, open: new Promise(() => {}) } });
  await a.page.fill("#input", "Now a very long answer, please.");
  await a.page.press("#input", "Enter");
  const shownAtStop = long.slice(0, 20).join("");
  await eventually(async () => (await streaming(a.page)) === shownAtStop, 10_000, "the second answer growing");
  await eventually(async () => (await streaming(b.page)) === shownAtStop, 10_000, "the second answer in bob's window");
  mkdirSync(SHOTS, { recursive: true });
  await a.page.screenshot({ path: join(SHOTS, "assistant-chat.png") });
  expect(await b.page.$eval("#streams .stop", (el) => (el as HTMLElement).hidden)).toBe(true);
  await a.page.click("#streams .stop");
  await fake.waitForAborts(1, 3000);
  await eventually(async () => (await answers(a.page)).length === 2 && (await streaming(a.page)) === "", 5000, "the stopped answer committed");
  const stopped = (await answers(a.page))[1]!;
  expect(stopped).toBe(shownAtStop);
  await eventually(async () => (await answers(b.page)).length === 2, 5000, "the stopped answer in bob's window");
  expect((await answers(b.page))[1]).toBe(stopped);

  expect([...a.errors, ...b.errors]).toEqual([]);
  await a.page.close();
  await b.page.close();
}, 60_000);
