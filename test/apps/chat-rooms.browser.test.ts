// The example chat page in Chromium, two people in one room: after "End and start a new session" both pages follow
// the room to its new session and keep working (before, only the person who clicked moved on).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { eventually, startServer, type ServerProcess } from "../helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
let browser: Browser;
let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ env: { AUTH_MODE: "none", DEV_EXAMPLES: "true", RATE_LIMIT_MESSAGES_PER_MINUTE: "10000" } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"] });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function open(user: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => errors.push(`${user}: ${e.message}`));
  await page.goto(`${server.http}/examples/chat/?user=${user}&room=practice`);
  await page.waitForSelector('#state[data-state="open"]');
  return page;
}

const say = async (page: Page, text: string) => {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
};
const shown = (page: Page) => page.$$eval("#messages li", (lis) => lis.map((li) => li.textContent));

test("after End and start a new session, every page in the room is in the new session and can send", async () => {
  const errors: string[] = [];
  const alice = await open("alice", errors);
  // Alice owns the room's session and opens it to everyone; Bob comes in then.
  await eventually(async () => {
    const list = await (await fetch(`${server.http}/api/sessions?room=practice&status=active&user=alice`)).json();
    return list.sessions[0]?.access === "open";
  }, 10_000, "the room's session to be open");
  const bob = await open("bob", errors);
  await say(bob, "first round");
  await alice.waitForFunction(() => document.querySelector("#messages")!.textContent!.includes("first round"));
  await bob.waitForSelector('#participants li:has-text("alice")');

  await alice.click("#restart");
  // Both pages start over on the new session: the old messages are gone from the screen.
  for (const page of [alice, bob]) await page.waitForFunction(() => document.querySelectorAll("#messages li").length === 0);
  await say(bob, "second round from bob");
  await say(alice, "second round from alice");
  for (const page of [alice, bob]) {
    await page.waitForFunction(() => document.querySelectorAll("#messages li").length === 2);
    expect((await shown(page)).sort()).toEqual(["alicesecond round from alice", "bobsecond round from bob"]);
    expect(await page.$$eval("#outbox li", (lis) => lis.length)).toBe(0);
    expect(await page.$eval("#session-status", (el) => el.textContent)).toBe("");
  }
  await bob.waitForSelector('#participants li:has-text("alice")');
  await alice.waitForSelector('#participants li:has-text("bob")');
  // Seqs start again at 1 in the new session.
  expect(await alice.$$eval("#messages li", (lis) => lis.map((li) => Number((li as HTMLElement).dataset.seq)).sort())).toEqual([1, 2]);
  expect(errors).toEqual([]);
  await alice.close();
  await bob.close();
}, 60_000);
