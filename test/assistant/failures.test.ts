// Upstream failures: each mode ends the reply as `failed` with a one-sentence system message, turns /health
// `checks.ai` false (degraded) until the next success, and is counted; no prompt or reply text reaches a log line.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { api, freePort, type ServerProcess } from "../helpers.ts";
import { numberedPieces, openWithAssistant, startAssistantServer, startFakeOpenAI, streamEnd, type FakeOpenAI } from "./setup.ts";
import type { FakeReply } from "../fixtures/fake-openai.ts";

const PROMPT = "prompt-text-4f1c-never-logged";
const SYSTEM_PROMPT = "system-prompt-9a7e-never-logged";
const REPLY = "reply-text-2b8d-never-logged ";

let fake: FakeOpenAI;
let server: ServerProcess;
beforeAll(async () => {
  fake = startFakeOpenAI();
  server = await startAssistantServer(fake, { env: { AI_TIMEOUT_SECONDS: "1", AI_MAX_DURATION_SECONDS: "2", LOG_LEVEL: "debug" } });
});
afterAll(async () => {
  await server?.stop();
  await fake?.stop();
});
beforeEach(() => fake.reset());

async function health(s: ServerProcess): Promise<{ status: string; checks: Record<string, boolean> }> {
  return (await api(s.http, "GET", "/health")).body;
}

function metric(text: string, line: string): number {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

async function metrics(s: ServerProcess): Promise<string> {
  return (await api(s.http, "GET", "/metrics")).body;
}

/** Asks once in a fresh session and returns the stream.end and the messages the reply left. */
async function ask(s: ServerProcess, session: string): Promise<{ end: any; messages: any[] }> {
  const alice = await openWithAssistant(s, "alice", session, { systemPrompt: SYSTEM_PROMPT });
  await alice.request({ type: "message", session, content: PROMPT });
  const end = await streamEnd(alice, undefined, 15_000);
  const messages = alice.messages(session).filter((m) => m.role !== "user");
  await alice.close();
  return { end, messages };
}

async function expectFailed(s: ServerProcess, session: string, kind: string, sentence: RegExp): Promise<any[]> {
  const before = await metrics(s);
  const { end, messages } = await ask(s, session);
  expect(end.status).toBe("failed");
  const notice = messages.find((m) => m.role === "system")!;
  expect(notice).toBeDefined();
  expect(end.seq).toBe(messages[0].seq);
  expect(notice.content).toMatch(sentence);
  expect(notice.content).toMatch(/^The assistant could not answer: [^.]+\. Please try again\.$/);
  expect(notice.content).not.toContain(PROMPT);
  expect(notice.content).not.toContain("fake error");
  expect(notice.metadata).toMatchObject({ stream: end.stream, status: "failed", error: kind });
  const h = await health(s);
  expect(h.checks.ai).toBe(false);
  expect(h.status).toBe("degraded");
  const after = await metrics(s);
  expect(metric(after, 'sessiond_ai_replies_total{status="failed"}')).toBe(metric(before, 'sessiond_ai_replies_total{status="failed"}') + 1);
  expect(metric(after, `sessiond_ai_failures_total{kind="${kind}"}`)).toBe(metric(before, `sessiond_ai_failures_total{kind="${kind}"}`) + 1);
  return messages;
}

async function expectRecovers(s: ServerProcess, session: string): Promise<void> {
  fake.script({ pieces: ["fine"] });
  const { end } = await ask(s, session);
  expect(end.status).toBe("complete");
  expect(await health(s)).toMatchObject({ status: "healthy", checks: { ai: true } });
}

describe("each upstream failure gives failed, the system message, the health change and the metric", () => {
  const cases: Array<[string, FakeReply, string, RegExp, number]> = [
    ["HTTP 500 (retried once, then failed)", { status: 500 }, "http", /refused the request/, 2],
    ["HTTP 400 (not retried)", { status: 400, errorBody: { error: { message: `fake error about ${PROMPT}` } } }, "http", /refused the request/, 1],
    ["no first token within AI_TIMEOUT_SECONDS", { pieces: ["late"], firstDelayMs: 3000 }, "timeout", /did not start answering in time/, 1],
  ];
  for (const [name, reply, kind, sentence, attempts] of cases) {
    test(name, async () => {
      const session = `fail-${kind}-${attempts}`;
      fake.script(reply);
      const messages = await expectFailed(server, session, kind, sentence);
      expect(messages.map((m) => m.role)).toEqual(["system"]);
      expect(fake.requests).toHaveLength(attempts);
      await expectRecovers(server, `${session}-ok`);
    });
  }

  test("a stream that breaks mid-reply: failed, the text it had committed, then the system message; never retried", async () => {
    fake.script({ pieces: [REPLY, "more ", "and more"], breakAfter: 2, delayMs: 20 });
    const messages = await expectFailed(server, "fail-broken", "broken_stream", /broke off/);
    expect(messages.map((m) => [m.role, m.metadata.status])).toEqual([["assistant", "failed"], ["system", "failed"]]);
    expect(messages[0].content).toBe(`${REPLY}more `);
    expect(fake.requests).toHaveLength(1);
    await expectRecovers(server, "fail-broken-ok");
  });

  test("a reply still streaming after AI_MAX_DURATION_SECONDS is stopped: failed with the text so far", async () => {
    fake.script({ pieces: numberedPieces(100), delayMs: 50 });
    const t0 = Date.now();
    const messages = await expectFailed(server, "fail-duration", "max_duration", /took longer than the time allowed/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(messages[0].role).toBe("assistant");
    expect(numberedPieces(100).join("").startsWith(messages[0].content)).toBe(true);
    expect(messages[0].content.length).toBeGreaterThan(0);
    await fake.waitForAborts(1, 1000);
    await expectRecovers(server, "fail-duration-ok");
  });

  test("a model server that refuses connections", async () => {
    const unreachable = await startAssistantServer(fake, { env: { AI_BASE_URL: `http://127.0.0.1:${freePort()}/v1` } });
    try {
      const messages = await expectFailed(unreachable, "fail-refused", "unreachable", /could not be reached/);
      expect(messages.map((m) => m.role)).toEqual(["system"]);
    } finally {
      await unreachable.stop();
    }
  });
});

test("no prompt, system prompt, reply or upstream body appears in any log line (stdout and stderr, at debug level)", async () => {
  fake.script({ pieces: [REPLY, REPLY] });
  await ask(server, "privacy-ok");
  fake.script({ status: 400, errorBody: { error: { message: `echo: ${PROMPT} ${SYSTEM_PROMPT}` } } });
  await ask(server, "privacy-fail");
  expect(fake.requests.some((r) => JSON.stringify(r.body).includes(PROMPT) && JSON.stringify(r.body).includes(SYSTEM_PROMPT))).toBe(true);
  expect((await metrics(server)).includes(PROMPT)).toBe(false);
  // Stopped here (last test) so that everything it wrote, stderr included, can be read.
  expect(await server.stop()).toBe(0);
  const output = [...server.logs, ...(await server.stderr()).split("\n")];
  expect(server.logs.some((l) => l.includes('"assistant.reply_failed"') && l.includes('"kind":"http"'))).toBe(true);
  expect(server.logs.some((l) => l.includes('"assistant.reply"') && l.includes('"status":"complete"'))).toBe(true);
  for (const line of output) {
    expect(line).not.toContain(PROMPT);
    expect(line).not.toContain(SYSTEM_PROMPT);
    expect(line).not.toContain(REPLY.trim());
  }
});
