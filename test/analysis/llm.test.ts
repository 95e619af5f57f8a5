// ANALYZER=llm and both against the local fake OpenAI-compatible server: the model's analysis is stored, `both`
// lets the model raise a risk (never lower it), a broken, failing or late reply falls back to the built-in result
// and is counted, and an unreachable model server makes /health degraded, not unhealthy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { assessCrisis } from "../../src/analysis/builtin/index.ts";
import { analysisJson, startFakeOpenAI, type FakeOpenAI } from "../fixtures/fake-openai.ts";
import { api, eventually, freePort, moderatorToken, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let fake: FakeOpenAI;
beforeAll(() => {
  fake = startFakeOpenAI();
});
afterAll(async () => {
  await fake.stop();
});

const metricLines = async (base: string, name: string) =>
  ((await api(base, "GET", "/metrics")).body as string).split("\n").filter((l) => l.startsWith(name));

/** Posts one message as a user and resolves with its analysis as a joined moderator receives it. */
async function analyse(server: ServerProcess, session: string, content: string) {
  const user = await WsClient.connect(server.ws, { token: await token("sam") });
  const moderator = await WsClient.connect(server.ws, { token: await moderatorToken("dr-mo") });
  await user.request({ type: "join", session });
  await moderator.request({ type: "join", session });
  const ack = await user.request({ type: "message", session, content });
  const frame = await moderator.waitFor((f) => f.type === "analysis" && f.seq === ack.seq, 15_000);
  const alert = await moderator.waitFor((f) => f.type === "alert" && f.alert.seq === ack.seq, 300).catch(() => null);
  await user.close();
  await moderator.close();
  return { analysis: frame.analysis, alert: alert?.alert ?? null };
}

const modelEnv = (analyzer: "llm" | "both", extra: Record<string, string> = {}) => ({
  ANALYZER: analyzer,
  AI_BASE_URL: fake.url,
  AI_MODEL: "fake-model",
  ...extra,
});

describe("ANALYZER=llm", () => {
  test("the model classifies each message (JSON mode, temperature 0); a broken reply falls back to the built-in", async () => {
    const server = await startServer({ env: modelEnv("llm") });
    try {
      fake.reset();
      fake.script((req) =>
        req.path === "/v1/chat/completions"
          ? { content: analysisJson({ sentiment: { score: 0.7, labels: ["positive", "joy"] }, topics: { topics: ["planning"], relevance: [0.9], context: "a plan" } }) }
          : undefined,
      );
      const { analysis } = await analyse(server, "llm-1", "let's plan the release for friday");
      expect(analysis).toMatchObject({ analyzer: "llm/fake-model", sentiment: { score: 0.7, labels: ["positive", "joy"] }, topics: { topics: ["planning"] } });
      const asked = fake.requests.find((r) => r.path === "/v1/chat/completions")!;
      expect(asked.body).toMatchObject({ model: "fake-model", temperature: 0, response_format: { type: "json_object" } });
      expect(asked.body.messages.at(-1)).toEqual({ role: "user", content: "let's plan the release for friday" });

      fake.script((req) => (req.path === "/v1/chat/completions" ? { content: "Sure! Here is what I think: it is fine." } : undefined));
      const fallback = await analyse(server, "llm-2", "I want to kill myself");
      expect(fallback.analysis.analyzer).toBe("builtin/1");
      expect(fallback.analysis.crisis.risk_level).toBe("high");
      expect(fallback.alert?.risk_level).toBe("high");
      expect(await metricLines(server.http, "sessiond_analysis_fallbacks_total{")).toEqual(['sessiond_analysis_fallbacks_total{reason="invalid_reply"} 1']);

      fake.script((req) => (req.path === "/v1/chat/completions" ? { status: 500 } : undefined));
      const failed = await analyse(server, "llm-3", "just a normal day at work");
      expect(failed.analysis.analyzer).toBe("builtin/1");
      expect(await metricLines(server.http, 'sessiond_analysis_fallbacks_total{reason="http"}')).toEqual(['sessiond_analysis_fallbacks_total{reason="http"} 1']);
    } finally {
      await server.stop();
    }
  });

  test("a late reply falls back after ANALYSIS_LLM_TIMEOUT_SECONDS, and nothing is lost", async () => {
    const server = await startServer({ env: modelEnv("llm", { ANALYSIS_LLM_TIMEOUT_SECONDS: "1" }) });
    try {
      fake.reset();
      fake.script((req) => (req.path === "/v1/chat/completions" ? { hang: true } : undefined));
      const started = Date.now();
      const { analysis, alert } = await analyse(server, "llm-late", "tonight I'll end it");
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(analysis.analyzer).toBe("builtin/1");
      expect(alert?.risk_level).toBe("high");
      expect(await metricLines(server.http, "sessiond_analysis_fallbacks_total{")).toEqual(['sessiond_analysis_fallbacks_total{reason="timeout"} 1']);
    } finally {
      await server.stop();
    }
  });
});

describe("ANALYZER=both", () => {
  test("the model can raise the crisis level (and so raise an alert), never lower it", async () => {
    const server = await startServer({ env: modelEnv("both") });
    try {
      fake.reset();
      fake.script((req) =>
        req.path !== "/v1/chat/completions"
          ? undefined
          : String(req.body.messages.at(-1).content).includes("viaduct")
            ? { content: analysisJson({ crisis: { risk_level: "high", triggers: ["suicidal_ideation: the water under the viaduct"], recommended_action: "Call them now." } }) }
            : { content: analysisJson({ crisis: { risk_level: "none", triggers: [], recommended_action: "Nothing to do." } }) },
      );
      // A risk only world knowledge sees: the lexicon alone finds nothing here, the model does.
      const unseen = "I keep thinking about how calm the water under the old viaduct looks at night";
      expect(assessCrisis(unseen).risk_level).toBe("none");
      const raised = await analyse(server, "both-1", unseen);
      expect(raised.analysis.analyzer).toBe("builtin/1+llm/fake-model");
      expect(raised.analysis.crisis.risk_level).toBe("high");
      expect(raised.analysis.crisis.triggers).toContain("suicidal_ideation: the water under the viaduct");
      expect(raised.alert).toMatchObject({ risk_level: "high", recommended_action: "Call them now." });

      const kept = await analyse(server, "both-2", "I cut myself again");
      expect(kept.analysis.analyzer).toBe("builtin/1+llm/fake-model");
      expect(kept.analysis.crisis.risk_level).toBe("high");
      expect(kept.alert?.risk_level).toBe("high");
    } finally {
      await server.stop();
    }
  });

  test("an unreachable model server: analysis goes on with the built-in, /health is degraded (200), not unhealthy", async () => {
    const server = await startServer({ env: { ANALYZER: "both", AI_BASE_URL: `http://127.0.0.1:${freePort()}/v1`, AI_MODEL: "m" } });
    try {
      const { analysis, alert } = await analyse(server, "both-down", "I have been saving my pills to take them all");
      expect(analysis.analyzer).toBe("builtin/1");
      expect(alert?.risk_level).toBe("high");
      await eventually(async () => (await api(server.http, "GET", "/health")).body.checks.analysis === false, 10_000, "checks.analysis false");
      const health = await api(server.http, "GET", "/health");
      expect(health.status).toBe(200);
      expect(health.body.status).toBe("degraded");
      expect(health.body.checks.database).toBe(true);
      expect(await metricLines(server.http, 'sessiond_analysis_fallbacks_total{reason="unreachable"}')).toEqual(['sessiond_analysis_fallbacks_total{reason="unreachable"} 1']);
    } finally {
      await server.stop();
    }
  });
});
