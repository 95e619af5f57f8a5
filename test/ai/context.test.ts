// buildAssistantContext: what the assistant's model is shown (pure).
import { describe, expect, test } from "bun:test";
import {
  buildAssistantContext,
  DEFAULT_CONTEXT_TOKEN_BUDGET,
  estimateMessageTokens,
  estimateTokens,
  sanitizeName,
  type AssistantContextInput,
} from "../../src/assistant/context.ts";
import type { Message } from "../../src/protocol/types.ts";

let nextSeq = 1;
function msg(userId: string, content: string, role: Message["role"] = "user", extra: Partial<Message> = {}): Message {
  const seq = extra.seq ?? nextSeq++;
  return { id: `m${seq}`, seq, session: "s1", userId, role, kind: "text", content, createdAt: new Date(0).toISOString(), ...extra };
}
const base = (messages: Message[], over: Partial<AssistantContextInput> = {}): AssistantContextInput => ({
  assistant: { name: "helper" },
  session: { mode: "chat", config: {} },
  messages,
  tokenBudget: DEFAULT_CONTEXT_TOKEN_BUDGET,
  ...over,
});

describe("the system message", () => {
  test("comes first and holds the assistant's prompt, the session mode and the config as readable text", () => {
    const out = buildAssistantContext(
      base([msg("alice", "hi")], {
        assistant: { name: "helper", systemPrompt: "You are a patient tutor." },
        session: { mode: "voice", config: { persona: "calm coach", scenario: "job interview", limits: { minutes: 30, topics: ["cv"] }, strict: true } },
      }),
    );
    expect(out[0]!.role).toBe("system");
    const text = out[0]!.content;
    expect(text).toContain("You are a patient tutor.");
    expect(text).toContain("voice");
    expect(text).toContain("Session configuration:\n- persona: calm coach\n- scenario: job interview\n- limits: {\"minutes\":30,\"topics\":[\"cv\"]}\n- strict: true");
    expect(out.filter((m) => m.role === "system")).toHaveLength(1);
  });

  test("without a prompt, a default one names the assistant; an empty config adds no section", () => {
    const text = buildAssistantContext(base([msg("alice", "hi")])).at(0)!.content;
    expect(text).toContain("helper");
    expect(text).toContain("chat");
    expect(text).not.toContain("Session configuration");
  });
});

describe("the conversation", () => {
  test("follows seq order with roles mapped: users named by id, the assistant's own as assistant, system as system", () => {
    const out = buildAssistantContext(
      base([msg("alice", "hello"), msg("helper", "hi alice", "assistant"), msg("system", "bob joined", "system"), msg("bob", "hey @helper")]),
    );
    expect(out.slice(1)).toEqual([
      { role: "user", name: "alice", content: "hello" },
      { role: "assistant", content: "hi alice" },
      { role: "system", content: "bob joined" },
      { role: "user", name: "bob", content: "hey @helper" },
    ]);
  });

  test("messages passed out of order are put in seq order", () => {
    const out = buildAssistantContext(base([msg("a", "third", "user", { seq: 30 }), msg("a", "first", "user", { seq: 10 }), msg("a", "second", "user", { seq: 20 })]));
    expect(out.slice(1).map((m) => m.content)).toEqual(["first", "second", "third"]);
  });

  test("another assistant's messages are shown as a named user, not as the model's own words", () => {
    const out = buildAssistantContext(base([msg("other-bot", "I am another bot", "assistant")]));
    expect(out[1]).toEqual({ role: "user", name: "other-bot", content: "I am another bot" });
  });

  test("names are sanitised to the API's pattern, distinct ids stay distinct, valid ids are kept", () => {
    for (const id of ["alice@example.com", "a.b", "a:b", "名前", "x".repeat(100), "with space"]) {
      expect(sanitizeName(id)).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    }
    expect(sanitizeName("a.b")).not.toBe(sanitizeName("a:b"));
    expect(sanitizeName("a.b")).toBe(sanitizeName("a.b"));
    expect(sanitizeName("user_42-x")).toBe("user_42-x");
    const out = buildAssistantContext(base([msg("alice@example.com", "hi")]));
    expect((out[1] as { name: string }).name).toMatch(/^alice_example_com-[0-9a-f]{8}$/);
  });

  test("only the last contextMessages messages are shown (default 50)", () => {
    const many = Array.from({ length: 80 }, (_, i) => msg("alice", `m${i}`));
    expect(buildAssistantContext(base(many)).slice(1).map((m) => m.content)).toEqual(many.slice(-50).map((m) => m.content));
    const five = buildAssistantContext(base(many, { assistant: { name: "helper", contextMessages: 5 } }));
    expect(five.slice(1).map((m) => m.content)).toEqual(["m75", "m76", "m77", "m78", "m79"]);
  });

  test("empty messages are skipped and action messages are marked", () => {
    const out = buildAssistantContext(base([msg("alice", "   "), msg("alice", "waves", "user", { kind: "action" })]));
    expect(out.slice(1)).toEqual([{ role: "user", name: "alice", content: "(action) waves" }]);
  });

  test("never includes a message it was not given", () => {
    const given = [msg("alice", "one"), msg("bob", "two")];
    const out = buildAssistantContext(base(given));
    const contents = out.slice(1).map((m) => m.content);
    expect(contents).toEqual(["one", "two"]);
    expect(buildAssistantContext(base([]))).toHaveLength(1);
  });
});

describe("the token budget", () => {
  test("the estimate is ceil(chars / 4), plus 4 per message and its name", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("abcde")).toBe(2);
    expect(estimateMessageTokens({ role: "user", name: "bob", content: "12345678" })).toBe(2 + 1 + 4);
  });

  test("cuts from the oldest so that the estimate fits, keeping the system message and the newest", () => {
    const messages = Array.from({ length: 20 }, (_, i) => msg("alice", `${i}`.padEnd(400, ".")));
    const budget = 1000;
    const out = buildAssistantContext(base(messages, { tokenBudget: budget }));
    const total = out.reduce((sum, m) => sum + estimateMessageTokens(m), 0);
    expect(total).toBeLessThanOrEqual(budget);
    expect(out[0]!.role).toBe("system");
    const kept = out.slice(1).map((m) => m.content);
    expect(kept.length).toBeGreaterThan(1);
    expect(kept.length).toBeLessThan(20);
    // A contiguous run ending at the newest message.
    expect(kept).toEqual(messages.slice(-kept.length).map((m) => m.content));
  });

  test("the newest message alone over the budget is kept, cut in the middle", () => {
    const huge = `BEGIN ${"y".repeat(50_000)} QUESTION?`;
    const out = buildAssistantContext(base([msg("alice", "older"), msg("alice", huge)], { tokenBudget: 2000 }));
    expect(out).toHaveLength(2);
    const last = out[1]!.content;
    expect(last.length).toBeLessThan(huge.length);
    expect(last.startsWith("BEGIN")).toBe(true);
    expect(last.endsWith("QUESTION?")).toBe(true);
    expect(out.reduce((sum, m) => sum + estimateMessageTokens(m), 0)).toBeLessThanOrEqual(2000);
  });

  test("a huge config cannot crowd out the conversation", () => {
    const out = buildAssistantContext(base([msg("alice", "question")], { session: { mode: "chat", config: { notes: "z".repeat(100_000) } } }));
    expect(out[0]!.content.length).toBeLessThan(5000);
    expect(out.at(-1)!.content).toBe("question");
  });
});
