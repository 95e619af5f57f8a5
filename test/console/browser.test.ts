// The operator console in real Chromium against a real server: sign in with a pasted token, watch a session
// appear and a message arrive, see a crisis alert raised by a user's connection and acknowledge it, export a
// transcript, remove a user, end the session, replay a dead webhook; a moderator sees only what a moderator may;
// development mode signs in by itself. Each view is saved as a screenshot (CONSOLE_SHOTS names a folder to keep them).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startFakeOpenAI } from "../fixtures/fake-openai.ts";
import { api, eventually, moderatorToken, startServer, tempDir, token, WsClient, type ServerProcess } from "../helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const shots = process.env.CONSOLE_SHOTS ?? tempDir("sessiond-console-shots-");
mkdirSync(shots, { recursive: true });

let browser: Browser;
let server: ServerProcess;
let receiver: ReturnType<typeof Bun.serve>;
let receiverStatus = 500;
const received: string[] = [];

beforeAll(async () => {
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      received.push(((await req.json()) as { type: string }).type);
      return new Response(null, { status: receiverStatus });
    },
  });
  server = await startServer({
    env: {
      STATS_SAMPLE_SECONDS: "1",
      RATE_LIMIT_MESSAGES_PER_MINUTE: "10000",
      WEBHOOK_URLS: `http://127.0.0.1:${receiver.port}/hooks`,
      WEBHOOK_SECRET: `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`,
      WEBHOOK_RETRY_BASE_MS: "50",
      WEBHOOK_MAX_AGE_SECONDS: "1",
    },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"] });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  receiver?.stop(true);
});

/** A page that records script errors and CSP violations (either fails the test). */
async function openConsole(base: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("Failed to load resource")) problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${base}/console`);
  return { page, problems };
}

async function signIn(page: Page, jwt: string): Promise<void> {
  await page.fill("#token", jwt);
  await page.click('button[type="submit"]');
  await page.waitForSelector('#nav a[data-view="overview"][aria-current="page"]');
  await page.waitForSelector(".live-open");
}

const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: join(shots, `${name}.png`), fullPage });

test("an admin signs in, watches a session and a message arrive, acknowledges a crisis alert, exports, removes a user and ends the session", async () => {
  const { page, problems } = await openConsole(server.http);
  await page.waitForSelector("#token");
  await shot(page, "sign-in");
  await signIn(page, await token("ops", { admin: true }));
  // The token lives in this tab's sessionStorage, nowhere else.
  expect(await page.evaluate(() => sessionStorage.getItem("sessiond.console.credentials"))).toContain('"mode":"jwt"');
  expect(await page.evaluate(() => localStorage.length)).toBe(0);
  expect(await page.textContent("#who")).toContain("ops");

  await page.click('#nav a[data-view="sessions"]');
  await page.waitForSelector("table.sessions tbody");
  const alice = await WsClient.connect(server.ws, { token: await token("alice") });
  await alice.request({ type: "join", session: "care-1" });
  // The new session appears without a reload.
  await page.waitForSelector('tr[data-session="care-1"] >> text=alice');
  await alice.request({ type: "message", session: "care-1", content: "Hello, I had a rough week at work." });
  await page.waitForSelector('tr[data-session="care-1"] td.messages >> text=1');
  await shot(page, "sessions");

  await page.click('tr[data-session="care-1"] a');
  await page.waitForSelector("#msg-1 .content");
  expect(await page.textContent("#msg-1 .content")).toBe("Hello, I had a rough week at work.");
  // Who read this: the audit trail's outside reads of the session, this admin's own included.
  const reader = page.locator("ul.readers li", { hasText: "ops" });
  await reader.waitFor();
  expect(await reader.textContent()).toContain("(admin)");
  await alice.request({ type: "message", session: "care-1", content: "I can't sleep and everything feels heavy." });
  // Arrives live, then its analysis arrives and shows as badges.
  await page.waitForSelector("#msg-2 .content");
  await page.waitForSelector("#msg-2 .analysis .badge");
  await alice.request({ type: "message", session: "care-1", content: "I've saved up my pills and I'm going to end it tonight" });
  await page.waitForSelector(".toast >> text=New high-risk alert");
  await page.waitForSelector("#msg-3 .analysis .risk-high");
  expect(await page.textContent("#alert-count")).toBe("1");
  await page.waitForSelector("h2:has-text('Present (2)')");
  await shot(page, "session", true);

  // Export: the transcript downloads as Markdown with everything in it.
  await page.selectOption("#export-format", "markdown");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
  expect(download.suggestedFilename()).toBe("session-care-1.md");
  const markdown = readFileSync((await download.path())!, "utf8");
  expect(markdown.startsWith("# Session care-1")).toBe(true);
  expect(markdown).toContain("I've saved up my pills and I'm going to end it tonight");

  await page.click(".toast a:has-text('Open alerts')");
  const card = page.locator("li[data-alert]").first();
  await card.waitFor();
  expect(await card.getAttribute("class")).toContain("fresh");
  expect(await card.textContent()).toContain("Message #3 in session care-1");
  await shot(page, "alerts", true);
  const alertId = (await card.getAttribute("data-alert"))!;
  await page.fill(`#note-${alertId}`, "Called the user; safety plan in place.");
  await card.locator("button:has-text('Acknowledge')").click();
  await page.waitForSelector(`li[data-alert="${alertId}"]`, { state: "detached" });
  const acked = await api(server.http, "GET", "/api/alerts?status=acknowledged", { token: await token("ops", { admin: true }) });
  expect(acked.body.alerts.find((a: any) => a.id === alertId)).toEqual(expect.objectContaining({ status: "acknowledged", acknowledgedBy: "ops", note: "Called the user; safety plan in place." }));
  expect(await page.isHidden("#alert-count")).toBe(true);

  // The alert links to its message in the session.
  await page.selectOption("#alert-status", "acknowledged");
  await page.click(`li[data-alert="${alertId}"] a:has-text('Message #3')`);
  await page.waitForSelector("#msg-3.target");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("msg-3");

  await page.click("button[aria-label='Remove alice from this session']");
  const kicked = await alice.waitFor((f) => f.type === "error" && f.session === "care-1");
  expect(kicked.code).toBe("forbidden");
  await page.waitForSelector("h2:has-text('Present (1)')");

  await page.click("button:has-text('End session…')");
  await page.click("button:has-text('End now')");
  await page.waitForSelector("h1 .status-completed");
  expect((await api(server.http, "GET", "/api/sessions/care-1", { token: await token("ops", { admin: true }) })).body.status).toBe("completed");

  await page.click('#nav a[data-view="overview"]');
  await page.waitForSelector("#stat-active");
  await eventually(async () => (await page.locator(".chart polyline.series-messages").getAttribute("points"))!.split(" ").length >= 3, 10_000, "a few samples on the chart");
  await shot(page, "overview");
  expect(problems).toEqual([]);
  await alice.close();
  await page.close();
}, 90_000);

test("the Webhooks view lists the endpoint and dead letters, and a replay is delivered", async () => {
  // The receiver has refused every event so far; with a 1 s retry window they are dead letters now.
  const adminToken = await token("ops", { admin: true });
  await eventually(async () => (await api(server.http, "GET", "/api/admin/webhooks/deliveries?status=dead", { token: adminToken })).body.deliveries.length > 0, 15_000, "a dead letter");
  const { page, problems } = await openConsole(server.http);
  await signIn(page, adminToken);
  await page.click('#nav a[data-view="webhooks"]');
  await page.waitForSelector(`tr[data-endpoint] >> text=127.0.0.1:${receiver.port}`);
  await page.selectOption("#delivery-status", "dead");
  const dead = page.locator("tr[data-delivery]").first();
  await dead.waitFor();
  await shot(page, "webhooks");
  const id = await dead.getAttribute("data-delivery");
  receiverStatus = 200;
  await dead.locator("button:has-text('Replay')").click();
  await page.waitForSelector(".notice >> text=queued again");
  await eventually(async () => (await api(server.http, "GET", `/api/admin/webhooks/deliveries?status=delivered`, { token: adminToken })).body.deliveries.some((d: any) => String(d.id) === id), 10_000, "the replay delivered");
  expect(problems).toEqual([]);
  await page.close();
}, 60_000);

test("a moderator sees sessions and alerts but no Webhooks view, no End and no Remove", async () => {
  const alice = await WsClient.connect(server.ws, { token: await token("alice") });
  await alice.request({ type: "join", session: "care-2" });
  await alice.request({ type: "message", session: "care-2", content: "Just checking in." });
  const { page, problems } = await openConsole(server.http);
  await signIn(page, await moderatorToken("dr-lee"));
  expect(await page.locator('#nav a[data-view="webhooks"]').count()).toBe(0);
  expect(await page.textContent("#who")).toContain("moderator");
  await page.goto(`${server.http}/console#/sessions/care-2`);
  await page.waitForSelector("#msg-1 .content");
  expect(await page.locator("button:has-text('End session…')").count()).toBe(0);
  expect(await page.locator("button:has-text('Remove')").count()).toBe(0);
  expect(await page.locator("#export").count()).toBe(1);
  await page.waitForSelector("text=The audit trail needs an admin token.");
  // Asked for by hand, the webhooks route shows the overview instead.
  await page.goto(`${server.http}/console#/webhooks`);
  await page.waitForSelector("h1:has-text('Overview')");
  expect(problems).toEqual([]);
  await alice.close();
  await page.close();
}, 60_000);

test("keyboard and labels: the skip link and the navigation work without a mouse; every control in every view has a label", async () => {
  const { page, problems } = await openConsole(server.http);
  await signIn(page, await token("ops", { admin: true }));
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press("Tab");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("skip");
  await page.keyboard.press("Enter");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
  await page.focus('#nav a[data-view="alerts"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector("h1:has-text('Alerts')");
  // The view's heading takes the focus, so a screen reader announces where you are.
  expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("H1");
  const unlabelled = () =>
    page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => {
          const id = el.id;
          const named = (el.getAttribute("aria-label") ?? "").trim() || (el.tagName === "BUTTON" ? (el.textContent ?? "").trim() : "");
          return !named && !(id && document.querySelector(`label[for="${id}"]`)) && !el.closest("label");
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
  for (const hash of ["#/overview", "#/sessions", "#/sessions/care-2", "#/alerts", "#/alerts?status=all", "#/webhooks"]) {
    await page.goto(`${server.http}/console${hash}`);
    await page.waitForSelector("main h1");
    await page.waitForTimeout(300);
    expect({ hash, unlabelled: await unlabelled() }).toEqual({ hash, unlabelled: [] });
  }
  expect(problems).toEqual([]);
  await page.close();
}, 60_000);

test("a user token is refused at sign-in with a sentence, and nothing is stored", async () => {
  const { page } = await openConsole(server.http);
  await page.fill("#token", await token("alice"));
  await page.click('button[type="submit"]');
  await page.waitForSelector(".notice-error >> text=admin or moderator token");
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  await page.fill("#token", "not-a-token");
  await page.click('button[type="submit"]');
  await page.waitForSelector(".notice-error >> text=did not accept this token");
  await page.close();
}, 30_000);

test("in development mode (AUTH_MODE=none) the console signs in by itself", async () => {
  const dev = await startServer({ env: { AUTH_MODE: "none" } });
  try {
    const { page, problems } = await openConsole(dev.http);
    await page.waitForSelector(".live-open");
    expect(await page.textContent("#who")).toContain("console");
    expect(await page.textContent("#who")).toContain("dev mode");
    expect(problems).toEqual([]);
    await page.close();
  } finally {
    await dev.stop();
  }
}, 30_000);

test("an assistant reply streams into the Session view and is replaced by the committed message", async () => {
  const fake = startFakeOpenAI({ script: { pieces: ["Let's ", "take ", "this ", "one ", "step ", "at ", "a ", "time."], delayMs: 250 } });
  const ai = await startServer({ env: { AI_BASE_URL: fake.url, AI_MODEL: "fake-model", RATE_LIMIT_MESSAGES_PER_MINUTE: "10000" } });
  try {
    const alice = await WsClient.connect(ai.ws, { token: await token("alice") });
    await alice.request({ type: "join", session: "coach-1" });
    await alice.request({ type: "configure", session: "coach-1", assistant: { enabled: true } });
    const { page, problems } = await openConsole(ai.http);
    await signIn(page, await token("ops", { admin: true }));
    await page.goto(`${ai.http}/console#/sessions/coach-1`);
    await page.waitForSelector("h2:has-text('Transcript')");
    await page.waitForSelector("h2:has-text('Present (2)')");
    await alice.request({ type: "message", session: "coach-1", content: "How do I get through this week?" });
    const stream = page.locator("li.stream");
    await stream.waitFor();
    await page.waitForFunction(() => (document.querySelector("li.stream .content")?.textContent ?? "").length > 6);
    const partial = (await stream.locator(".content").textContent())!;
    expect("Let's take this one step at a time.".startsWith(partial)).toBe(true);
    expect(partial.length).toBeLessThan("Let's take this one step at a time.".length);
    await shot(page, "session-streaming");
    await page.waitForSelector("#msg-2.role-assistant");
    expect(await page.textContent("#msg-2 .content")).toBe("Let's take this one step at a time.");
    await stream.waitFor({ state: "detached" });
    expect(problems).toEqual([]);
    await alice.close();
    await page.close();
  } finally {
    await ai.stop();
    await fake.stop();
  }
}, 60_000);
