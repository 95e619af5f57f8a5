// The pre-test plan for the engines the cluster tests start (PostgreSQL, Redis), and how it joins chromium's (pure).
import { describe, expect, test } from "bun:test";
import { chromiumStep, enginesStep, pretestStep } from "../../scripts/pretest.ts";

const machine = { postgres: true, redis: true, root: true, aptGet: true };

describe("pre-test plan for PostgreSQL and Redis", () => {
  test("both present: nothing to do", () => {
    expect(enginesStep(machine)).toEqual({ kind: "ready" });
  });

  test("as root with apt-get: installs exactly what is missing", () => {
    expect(enginesStep({ ...machine, redis: false })).toEqual({
      kind: "install",
      commands: [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "redis-server"],
      ],
    });
    expect(enginesStep({ ...machine, postgres: false, redis: false })).toMatchObject({ kind: "install", commands: [expect.anything(), ["apt-get", "install", "-y", "-qq", "postgresql", "redis-server"]] });
  });

  test("not root, or no apt-get: one line saying how", () => {
    expect(enginesStep({ ...machine, postgres: false, root: false })).toEqual({
      kind: "stop",
      line: "npm test: the cluster tests need Debian's postgresql: run `sudo apt-get update && sudo apt-get install -y postgresql`, then run npm test again.",
    });
    const line = (enginesStep({ ...machine, redis: false, aptGet: false }) as { line: string }).line;
    expect(line).toContain("redis-server on the PATH");
    expect(line.split("\n")).toHaveLength(1);
  });

  test("with chromium missing too: one apt-get update, one install of all three", () => {
    const step = pretestStep([chromiumStep({ chromium: false, root: true, aptGet: true }), enginesStep({ ...machine, postgres: false, redis: false })]);
    expect(step).toEqual({
      kind: "install",
      commands: [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "chromium", "postgresql", "redis-server"],
      ],
    });
    expect(pretestStep([chromiumStep({ chromium: true, root: true, aptGet: true }), enginesStep(machine)])).toEqual({ kind: "ready" });
  });

  test("not root with several missing: every stop line is said", () => {
    const step = pretestStep([chromiumStep({ chromium: false, root: false, aptGet: true }), enginesStep({ ...machine, redis: false, root: false })]);
    expect(step.kind).toBe("stop");
    expect((step as { line: string }).line.split("\n").map((l) => l.includes("chromium") || l.includes("redis-server"))).toEqual([true, true]);
  });
});
