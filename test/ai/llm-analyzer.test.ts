// LlmAnalyzer against the fake model server, and the pure parsing of its replies.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { ModelClient } from "../../src/ai/model-client.ts";
import { LLM_ANALYSIS_MAX_INPUT_CHARS, LlmAnalyzer, parseLlmAnalysis } from "../../src/analysis/llm.ts";
import { analysisJson, startFakeOpenAI } from "../fixtures/fake-openai.ts";

const fake = startFakeOpenAI();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const client = new ModelClient({ baseURL: fake.url, model: "default-model", maxRetries: 0 });
const analyzer = new LlmAnalyzer(client, { model: "qwen3:8b", timeoutMs: 300 });

const valid = analysisJson({
  sentiment: { score: -0.7, labels: ["negative", "sadness"], confidence: 0.9 },
  topics: { topics: ["work", "sleep"], relevance: [0.9, 0.4], context: "stress at work" },
  crisis: { risk_level: "medium", triggers: ["self_harm: hurt myself"], recommended_action: "Check in with the person soon." },
});

describe("LlmAnalyzer over HTTP", () => {
  test("a valid JSON reply becomes the analysis, named llm/<model>", async () => {
    fake.next({ content: valid });
    const outcome = await analyzer.analyzeOrReason("I can't sleep and work is awful");
    expect(outcome).toEqual({
      ok: true,
      analysis: {
        sentiment: { score: -0.7, labels: ["negative", "sadness"], confidence: 0.9 },
        topics: { topics: ["work", "sleep"], relevance: [0.9, 0.4], context: "stress at work" },
        crisis: { risk_level: "medium", triggers: ["self_harm: hurt myself"], recommended_action: "Check in with the person soon." },
        analyzer: "llm/qwen3:8b",
      },
    });
  });

  test("it asks the named model in JSON mode at temperature 0, with the exact shape in the system prompt", async () => {
    fake.next({ content: valid });
    await analyzer.analyze("hello");
    const body = fake.requests[0]!.body;
    expect(body).toMatchObject({ model: "qwen3:8b", temperature: 0, response_format: { type: "json_object" }, stream: false });
    expect(body.messages[0].role).toBe("system");
    for (const field of ["sentiment", "score", "labels", "confidence", "topics", "relevance", "context", "crisis", "risk_level", "triggers", "recommended_action"]) {
      expect(body.messages[0].content).toContain(`"${field}"`);
    }
    expect(body.messages[1]).toEqual({ role: "user", content: "hello" });
  });

  test("a very long message is cut to the documented cap, keeping its start and its end", async () => {
    fake.next({ content: valid });
    const long = `START ${"x".repeat(20_000)} END`;
    await analyzer.analyze(long);
    const sent: string = fake.requests[0]!.body.messages[1].content;
    expect(sent.length).toBeLessThanOrEqual(LLM_ANALYSIS_MAX_INPUT_CHARS);
    expect(sent.startsWith("START")).toBe(true);
    expect(sent.endsWith("END")).toBe(true);
  });

  test("the fake's default reply to a JSON-mode request is a valid neutral analysis", async () => {
    const outcome = await analyzer.analyzeOrReason("anything");
    expect(outcome.ok && outcome.analysis.crisis.risk_level).toBe("none");
  });

  test.each([
    ["invalid JSON", { content: "sure! here is the analysis: {sentiment: great" }, "invalid_reply"],
    ["the wrong shape", { content: JSON.stringify({ sentiment: "positive" }) }, "invalid_reply"],
    ["a risk level outside the four", { content: analysisJson({ crisis: { risk_level: "severe" } }) }, "invalid_reply"],
    ["a late reply", { content: valid, firstDelayMs: 1500 }, "timeout"],
    ["a 500", { status: 500 }, "http"],
    ["a 503", { status: 503 }, "http"],
  ] as const)("%s gives null with the reason", async (_name, reply, reason) => {
    fake.next(reply);
    expect(await analyzer.analyzeOrReason("a message")).toEqual({ ok: false, reason });
    fake.next(reply);
    expect(await analyzer.analyze("a message")).toBeNull();
  });

  test("an unreachable server gives null with reason unreachable", async () => {
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = probe.port;
    await probe.stop(true);
    const offline = new LlmAnalyzer(new ModelClient({ baseURL: `http://127.0.0.1:${port}/v1`, model: "m", maxRetries: 0 }), { model: "m" });
    expect(await offline.analyzeOrReason("hi")).toEqual({ ok: false, reason: "unreachable" });
  });

  test("an abort gives reason aborted", async () => {
    fake.next({ hang: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    expect(await analyzer.analyzeOrReason("hi", { signal: controller.signal })).toEqual({ ok: false, reason: "aborted" });
  });
});

describe("parseLlmAnalysis (pure)", () => {
  const reply = (over: Parameters<typeof analysisJson>[0]) => analysisJson(over);

  test("clamps numbers into range and rounds them", () => {
    const a = parseLlmAnalysis(
      reply({ sentiment: { score: -3, labels: ["negative"], confidence: 1.7 }, topics: { topics: ["a", "b"], relevance: [1.5, -0.2], context: "" } }),
      "m",
    )!;
    expect(a.sentiment.score).toBe(-1);
    expect(a.sentiment.confidence).toBe(1);
    expect(a.topics.relevance).toEqual([1, 0]);
  });

  test("accepts numbers sent as strings, and a risk level in another case", () => {
    const a = parseLlmAnalysis(reply({ sentiment: { score: "0.25", labels: [], confidence: "0.8" }, crisis: { risk_level: " High " } }), "m")!;
    expect(a.sentiment.score).toBe(0.25);
    expect(a.sentiment.confidence).toBe(0.8);
    expect(a.crisis.risk_level).toBe("high");
  });

  test("puts the polarity first, deriving it from the score when missing, and lower-cases labels", () => {
    expect(parseLlmAnalysis(reply({ sentiment: { score: 0.6, labels: ["Joy", "POSITIVE"], confidence: 0.5 } }), "m")!.sentiment.labels).toEqual(["positive", "joy"]);
    expect(parseLlmAnalysis(reply({ sentiment: { score: -0.6, labels: ["anger"], confidence: 0.5 } }), "m")!.sentiment.labels).toEqual(["negative", "anger"]);
    expect(parseLlmAnalysis(reply({ sentiment: { score: 0, labels: [], confidence: 0.5 } }), "m")!.sentiment.labels).toEqual(["neutral"]);
  });

  test("topics and relevance come out of equal length, most relevant first, without duplicates", () => {
    const a = parseLlmAnalysis(reply({ topics: { topics: ["sleep", "work", "Work", "extra"], relevance: [0.2, 0.5, 0.9], context: "c" } }), "m")!;
    expect(a.topics.topics).toEqual(["Work", "sleep"]);
    expect(a.topics.relevance).toEqual([0.9, 0.2]);
  });

  test("an empty recommended action is replaced by the level's default sentence", () => {
    const a = parseLlmAnalysis(reply({ crisis: { risk_level: "high", triggers: [], recommended_action: "" } }), "m")!;
    expect(a.crisis.recommended_action.length).toBeGreaterThan(10);
  });

  test("reads the JSON out of a <think> block and a code fence", () => {
    const a = parseLlmAnalysis(`<think>the user seems {fine}</think>\n\`\`\`json\n${valid}\n\`\`\``, "m");
    expect(a?.crisis.risk_level).toBe("medium");
  });

  test.each([
    ["not JSON", "no"],
    ["an array", "[1,2]"],
    ["no crisis part", JSON.stringify({ sentiment: { score: 0 }, topics: { topics: [], relevance: [] } })],
    ["a score that is not a number", reply({ sentiment: { score: "very", labels: [], confidence: 1 } })],
    ["no relevance", JSON.stringify({ ...JSON.parse(valid), topics: { topics: ["a"] } })],
  ])("%s is null", (_name, text) => {
    expect(parseLlmAnalysis(text, "m")).toBeNull();
  });
});
