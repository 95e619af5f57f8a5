// ModelClient against the fake chat-completions server over real HTTP on loopback.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { ModelError } from "../../src/ai/errors.ts";
import { ModelClient, type ModelClientOptions } from "../../src/ai/model-client.ts";
import type { ChatRequest, StreamDone, StreamEvent, StreamOptions } from "../../src/ai/types.ts";
import { startFakeOpenAI } from "../fixtures/fake-openai.ts";

const fake = startFakeOpenAI();
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

const client = (opts: Partial<ModelClientOptions> = {}) => new ModelClient({ baseURL: fake.url, model: "test-model", maxRetries: 0, ...opts });
const hello: ChatRequest = { messages: [{ role: "user", content: "hello there", name: "alice" }] };

async function collect(stream: AsyncIterable<StreamEvent>): Promise<{ events: StreamEvent[]; text: string; reasoning: string; done: StreamDone }> {
  const events: StreamEvent[] = [];
  for await (const e of stream) events.push(e);
  const last = events.at(-1);
  if (!last || last.part !== "done") throw new Error("stream ended without a done event");
  const join = (part: string) => events.flatMap((e) => (e.part !== "done" && e.part === part ? [e.text] : [])).join("");
  return { events, text: join("text"), reasoning: join("reasoning"), done: last };
}

async function failure(run: () => Promise<unknown>): Promise<ModelError> {
  try {
    await run();
  } catch (e) {
    if (e instanceof ModelError) return e;
    throw new Error(`expected a ModelError, got ${String(e)}`);
  }
  throw new Error("expected a ModelError, but the call succeeded");
}

/** A loopback port nothing listens on (it was just released). */
async function closedPort(): Promise<number> {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port!;
  await probe.stop(true);
  return port;
}

const streamFailure = (request: ChatRequest, opts?: StreamOptions, c = client()) => failure(() => collect(c.streamChat(request, opts)));

describe("streaming", () => {
  test("pieces arrive in order and concatenate to the reply; the summary carries finish reason and usage", async () => {
    fake.next({ pieces: ["The ", "quick ", "brown ", "fox"], delayMs: 5 });
    const { events, text, done } = await collect(client().streamChat(hello));
    expect(events.filter((e) => e.part === "text").map((e) => (e as { text: string }).text)).toEqual(["The ", "quick ", "brown ", "fox"]);
    expect(text).toBe("The quick brown fox");
    expect(done).toEqual({ part: "done", stop: "complete", finishReason: "stop", usage: { promptTokens: 10, completionTokens: 4, totalTokens: 14 } });
  });

  test("the default reply of the fake echoes the last user message", async () => {
    const { text } = await collect(client().streamChat(hello));
    expect(text).toBe("You said: hello there");
  });

  test("the request carries model, messages with names, temperature, max_tokens and asks for usage", async () => {
    await collect(client().streamChat({ ...hello, temperature: 0.2, maxTokens: 50 }));
    const body = fake.requests[0]!.body;
    expect(body).toMatchObject({
      model: "test-model",
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 50,
      messages: [{ role: "user", content: "hello there", name: "alice" }],
    });
    expect(body.response_format).toBeUndefined();
    expect(fake.requests[0]!.headers.authorization).toBe("Bearer not-needed");
  });

  test("a request's model overrides the default, and an API key is sent as a bearer token", async () => {
    await collect(client({ apiKey: "sk-local-123" }).streamChat({ ...hello, model: "other" }));
    expect(fake.requests[0]!.body.model).toBe("other");
    expect(fake.requests[0]!.headers.authorization).toBe("Bearer sk-local-123");
  });

  test("reasoning pieces are separate from text, from reasoning_content and from reasoning", async () => {
    for (const reasoningField of ["reasoning_content", "reasoning"] as const) {
      fake.next({ pieces: [{ reasoning: "think " }, { reasoning: "hard" }, "Answer", "."], reasoningField });
      const { events, text, reasoning } = await collect(client().streamChat({ ...hello, reasoning: true }));
      expect(reasoning).toBe("think hard");
      expect(text).toBe("Answer.");
      expect(events.slice(0, 2).map((e) => e.part)).toEqual(["reasoning", "reasoning"]);
    }
  });

  test("without reasoning: true, reasoning pieces are dropped but the text still arrives", async () => {
    fake.next({ pieces: [{ reasoning: "hidden" }, "Shown"] });
    const { events, text } = await collect(client().streamChat(hello));
    expect(events.some((e) => e.part === "reasoning")).toBe(false);
    expect(text).toBe("Shown");
  });

  test("a finish reason of length is reported as sent", async () => {
    fake.next({ pieces: ["cut"], finishReason: "length" });
    const { done } = await collect(client().streamChat(hello));
    expect(done.finishReason).toBe("length");
    expect(done.stop).toBe("complete");
  });

  test("json: true sends response_format json_object", async () => {
    await collect(client().streamChat({ ...hello, json: true }));
    expect(fake.requests[0]!.body.response_format).toEqual({ type: "json_object" });
  });
});

describe("aborts and time limits", () => {
  test("the caller's abort closes the upstream connection at once and throws aborted", async () => {
    fake.next({ pieces: ["a", "b", "c", "d", "e", "f"], delayMs: 200 });
    const controller = new AbortController();
    const seen: string[] = [];
    const error = await failure(async () => {
      for await (const e of client().streamChat(hello, { signal: controller.signal })) {
        if (e.part === "text") seen.push(e.text);
        if (seen.length === 1) controller.abort();
      }
    });
    expect(error.kind).toBe("aborted");
    expect(error.retryable).toBe(false);
    await fake.waitForAborts(1, 1000);
    expect(seen).toEqual(["a"]);
  });

  test("leaving the loop early also closes the upstream connection", async () => {
    fake.next({ pieces: ["a", "b", "c", "d"], delayMs: 200 });
    for await (const e of client().streamChat(hello)) if (e.part === "text") break;
    await fake.waitForAborts(1, 1000);
  });

  test("an abort while waiting for the first token closes the connection of a hanging stream", async () => {
    fake.next({ hang: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await streamFailure(hello, { signal: controller.signal });
    expect(error.kind).toBe("aborted");
    await fake.waitForAborts(1, 1000);
  });

  test("an already aborted signal sends nothing", async () => {
    const error = await streamFailure(hello, { signal: AbortSignal.abort() });
    expect(error.kind).toBe("aborted");
    expect(fake.requests).toHaveLength(0);
  });

  test("no first token within firstTokenTimeoutMs is a timeout, and the upstream request is aborted", async () => {
    fake.next({ pieces: ["late"], firstDelayMs: 2000 });
    const started = Date.now();
    const error = await streamFailure(hello, { firstTokenTimeoutMs: 150 });
    expect(error.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(1500);
    await fake.waitForAborts(1, 1000);
  });

  test("a slow but steady stream is not cut by the first-token timeout once it has started", async () => {
    fake.next({ pieces: ["a", "b", "c", "d"], firstDelayMs: 30, delayMs: 80 });
    const { text } = await collect(client().streamChat(hello, { firstTokenTimeoutMs: 150 }));
    expect(text).toBe("abcd");
  });

  test("past maxDurationMs the stream stops with stop: max_duration, keeping what arrived, and aborts upstream", async () => {
    fake.next({ pieces: ["one ", "two ", "three ", "four ", "five"], delayMs: 150 });
    const { text, done } = await collect(client().streamChat(hello, { maxDurationMs: 250 }));
    expect(done.stop).toBe("max_duration");
    expect(text.startsWith("one ")).toBe(true);
    expect(text).not.toContain("five");
    await fake.waitForAborts(1, 1000);
  });
});

describe("errors", () => {
  test.each([
    [500, true],
    [503, true],
    [429, true],
    [404, false],
    [400, false],
    [401, false],
  ])("HTTP %d maps to kind http with its status (retryable: %p)", async (status, retryable) => {
    fake.next({ status });
    const error = await streamFailure(hello);
    expect(error).toBeInstanceOf(ModelError);
    expect(error.kind).toBe("http");
    expect(error.status).toBe(status);
    expect(error.retryable).toBe(retryable);
  });

  test("a 429's Retry-After is kept (in ms)", async () => {
    fake.next({ status: 429, headers: { "retry-after": "2" } });
    const error = await streamFailure(hello);
    expect(error.retryAfterMs).toBe(2000);
  });

  test("a socket closed mid-stream is broken_stream", async () => {
    fake.next({ pieces: ["a", "b", "c"], breakAfter: 2 });
    const seen: string[] = [];
    const error = await failure(async () => {
      for await (const e of client().streamChat(hello)) if (e.part === "text") seen.push(e.text);
    });
    expect(error.kind).toBe("broken_stream");
    expect(seen).toEqual(["a", "b"]);
  });

  test("a stream that loses only its tail after the finish reason is complete", async () => {
    fake.next({ pieces: ["whole ", "reply"], breakAfterFinish: true });
    const { text, done } = await collect(client().streamChat(hello));
    expect(text).toBe("whole reply");
    expect(done).toEqual({ part: "done", stop: "complete", finishReason: "stop" });
  });

  test("a stream that ends cleanly but without a finish reason is broken_stream", async () => {
    fake.next({ pieces: ["a"], omitFinish: true });
    expect((await streamFailure(hello)).kind).toBe("broken_stream");
  });

  test("a chunk that is not JSON is invalid_reply", async () => {
    fake.next({ pieces: ["a", "b"], invalidJsonAfter: 1 });
    const error = await streamFailure(hello);
    expect(error.kind).toBe("invalid_reply");
    expect(error.retryable).toBe(false);
  });

  test("a closed port is unreachable", async () => {
    const c = new ModelClient({ baseURL: `http://127.0.0.1:${await closedPort()}/v1`, model: "m", maxRetries: 0 });
    const error = await streamFailure(hello, {}, c);
    expect(error.kind).toBe("unreachable");
    expect(error.retryable).toBe(true);
    expect((await failure(() => c.complete(hello))).kind).toBe("unreachable");
  });

  test("an error message never contains the prompt nor the upstream body", async () => {
    const marker = "SECRET-MARKER-7731";
    const request: ChatRequest = { messages: [{ role: "user", content: `please ${marker}` }] };
    fake.script({ status: 400, errorBody: { error: { message: `bad prompt: ${marker}`, type: "invalid_request_error", code: marker } } });
    const errors = [await streamFailure(request), await failure(() => client().complete(request))];
    fake.script({ pieces: [marker, marker], breakAfter: 1 });
    errors.push(await streamFailure(request));
    for (const error of errors) {
      expect(error.message).not.toContain(marker);
      expect(String(error)).not.toContain(marker);
      expect(JSON.stringify(error)).not.toContain(marker);
      expect(error.cause).toBeUndefined();
    }
  });
});

describe("retries (our policy; the package's own are off)", () => {
  test("a 503 before the first piece is retried, and the second attempt's reply streams", async () => {
    fake.next({ status: 503 }, { pieces: ["ok"] });
    const { text } = await collect(client({ maxRetries: 2, retryBaseDelayMs: 10 }).streamChat(hello));
    expect(text).toBe("ok");
    expect(fake.requests).toHaveLength(2);
  });

  test("a 404 is not retried", async () => {
    fake.script({ status: 404 });
    await streamFailure(hello, {}, client({ maxRetries: 2, retryBaseDelayMs: 10 }));
    expect(fake.requests).toHaveLength(1);
  });

  test("with maxRetries: 0 a 500 is tried once (the package does not retry behind our back)", async () => {
    fake.script({ status: 500 });
    await streamFailure(hello);
    await failure(() => client().complete(hello));
    expect(fake.requests).toHaveLength(2);
  });

  test("retries stop after maxRetries", async () => {
    fake.script({ status: 500 });
    const error = await streamFailure(hello, {}, client({ maxRetries: 2, retryBaseDelayMs: 5 }));
    expect(error.status).toBe(500);
    expect(fake.requests).toHaveLength(3);
  });

  test("a stream broken after pieces were delivered is not retried (the caller has them already)", async () => {
    fake.script({ pieces: ["a", "b"], breakAfter: 1 });
    await streamFailure(hello, {}, client({ maxRetries: 2, retryBaseDelayMs: 5 }));
    expect(fake.requests).toHaveLength(1);
  });
});

describe("complete", () => {
  test("returns the message content, sends no stream flag, and json: true sends response_format", async () => {
    fake.next({ content: '{"a":1}' });
    const text = await client().complete({ ...hello, json: true, temperature: 0 });
    expect(text).toBe('{"a":1}');
    expect(fake.requests[0]!.body).toMatchObject({ stream: false, response_format: { type: "json_object" }, temperature: 0 });
  });

  test("a late reply is a timeout, and the request is cut", async () => {
    fake.next({ content: "late", firstDelayMs: 2000 });
    const started = Date.now();
    const error = await failure(() => client().complete(hello, { timeoutMs: 150 }));
    expect(error.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  test("a null content is invalid_reply", async () => {
    fake.next({ content: null });
    expect((await failure(() => client().complete(hello))).kind).toBe("invalid_reply");
  });

  test("the caller's abort ends it with aborted", async () => {
    fake.next({ hang: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect((await failure(() => client().complete(hello, { signal: controller.signal }))).kind).toBe("aborted");
  });
});

describe("ping", () => {
  test("answers ok with a latency when GET /models answers", async () => {
    const result = await client().ping();
    expect(result.ok).toBe(true);
    expect(fake.requests[0]).toMatchObject({ method: "GET", path: "/v1/models" });
  });

  test("reports the kind and status when /models fails, and unreachable for a closed port", async () => {
    fake.next({ status: 401 });
    expect(await client().ping()).toEqual({ ok: false, kind: "http", status: 401 });
    const c = new ModelClient({ baseURL: `http://127.0.0.1:${await closedPort()}/v1`, model: "m" });
    expect(await c.ping({ timeoutMs: 1000 })).toEqual({ ok: false, kind: "unreachable" });
  });

  test("a hanging server is a timeout", async () => {
    fake.next({ hang: true });
    expect(await client().ping({ timeoutMs: 100 })).toEqual({ ok: false, kind: "timeout" });
  });
});
