// `npm test`'s pre-test step: the browser tests drive Debian's chromium (/usr/bin/chromium). When it is missing,
// install it as root with apt-get (non-interactive); otherwise stop with one line saying exactly how.
import { existsSync } from "node:fs";

/** Where the browser tests expect Chromium (Debian's `chromium` package). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

export type ChromiumStep =
  | { kind: "ready" }
  | { kind: "install"; commands: string[][] }
  | { kind: "stop"; line: string };

/** What to do, from what this machine has (pure). */
export function chromiumStep(machine: { chromium: boolean; root: boolean; aptGet: boolean }): ChromiumStep {
  if (machine.chromium) return { kind: "ready" };
  if (!machine.aptGet) {
    return {
      kind: "stop",
      line: `npm test: the browser tests need Chromium at ${CHROMIUM_PATH}; install your system's chromium package there, then run npm test again.`,
    };
  }
  if (!machine.root) {
    return {
      kind: "stop",
      line: "npm test: the browser tests need Debian's chromium: run `sudo apt-get update && sudo apt-get install -y chromium`, then run npm test again.",
    };
  }
  return {
    kind: "install",
    commands: [
      ["apt-get", "update", "-qq"],
      ["apt-get", "install", "-y", "-qq", "chromium"],
    ],
  };
}

function main(): number {
  const step = chromiumStep({
    chromium: existsSync(CHROMIUM_PATH),
    root: process.getuid?.() === 0,
    aptGet: Bun.which("apt-get") !== null,
  });
  if (step.kind === "ready") return 0;
  if (step.kind === "stop") {
    process.stderr.write(`${step.line}\n`);
    return 1;
  }
  process.stderr.write("npm test: installing Debian's chromium for the browser tests (apt-get, once)…\n");
  for (const cmd of step.commands) {
    const run = Bun.spawnSync(cmd, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, stdout: "ignore", stderr: "pipe" });
    if (run.exitCode !== 0) {
      const why = run.stderr.toString().trim().split("\n").at(-1) ?? "";
      process.stderr.write(`npm test: \`${cmd.join(" ")}\` failed${why ? ` (${why})` : ""}; install chromium with apt-get yourself, then run npm test again.\n`);
      return 1;
    }
  }
  if (!existsSync(CHROMIUM_PATH)) {
    process.stderr.write(`npm test: chromium was installed but ${CHROMIUM_PATH} is still missing; install it there, then run npm test again.\n`);
    return 1;
  }
  return 0;
}

if (import.meta.main) process.exit(main());
