// `npm test`'s pre-test step: the browser tests drive Debian's chromium (/usr/bin/chromium) and the cluster tests
// start Debian's PostgreSQL and Redis themselves. When any is missing, install it as root with apt-get
// (non-interactive, one run for all); otherwise stop with one line saying exactly how.
import { existsSync, readdirSync } from "node:fs";

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

/** Where the tests look for the PostgreSQL server binary: `/usr/lib/postgresql/<major>/bin/postgres`. */
export const POSTGRES_DIR = "/usr/lib/postgresql";

/** What to do about the engines the cluster tests start (PostgreSQL, Redis), from what this machine has (pure). */
export function enginesStep(machine: { postgres: boolean; redis: boolean; root: boolean; aptGet: boolean }): ChromiumStep {
  const missing = [...(machine.postgres ? [] : ["postgresql"]), ...(machine.redis ? [] : ["redis-server"])];
  if (missing.length === 0) return { kind: "ready" };
  const names = missing.join(" and ");
  if (!machine.aptGet) {
    return {
      kind: "stop",
      line: `npm test: the cluster tests need ${names} (a PostgreSQL server under ${POSTGRES_DIR}/<major>/bin and redis-server on the PATH); install your system's packages, then run npm test again.`,
    };
  }
  if (!machine.root) {
    return {
      kind: "stop",
      line: `npm test: the cluster tests need Debian's ${names}: run \`sudo apt-get update && sudo apt-get install -y ${missing.join(" ")}\`, then run npm test again.`,
    };
  }
  return {
    kind: "install",
    commands: [
      ["apt-get", "update", "-qq"],
      ["apt-get", "install", "-y", "-qq", ...missing],
    ],
  };
}

/** The chromium and engine steps as one: any stop stops (every line said); installs share one apt-get run (pure). */
export function pretestStep(steps: ChromiumStep[]): ChromiumStep {
  const stops = steps.flatMap((s) => (s.kind === "stop" ? [s.line] : []));
  if (stops.length > 0) return { kind: "stop", line: stops.join("\n") };
  const packages = steps.flatMap((s) => (s.kind === "install" ? s.commands.flatMap((c) => (c[1] === "install" ? c.slice(4) : [])) : []));
  if (packages.length === 0) return { kind: "ready" };
  return {
    kind: "install",
    commands: [
      ["apt-get", "update", "-qq"],
      ["apt-get", "install", "-y", "-qq", ...packages],
    ],
  };
}

function hasPostgres(): boolean {
  if (!existsSync(POSTGRES_DIR)) return false;
  return readdirSync(POSTGRES_DIR).some((major) => existsSync(`${POSTGRES_DIR}/${major}/bin/postgres`));
}

function main(): number {
  const root = process.getuid?.() === 0;
  const aptGet = Bun.which("apt-get") !== null;
  const step = pretestStep([
    chromiumStep({ chromium: existsSync(CHROMIUM_PATH), root, aptGet }),
    enginesStep({ postgres: hasPostgres(), redis: Bun.which("redis-server") !== null || existsSync("/usr/bin/redis-server"), root, aptGet }),
  ]);
  if (step.kind === "ready") return 0;
  if (step.kind === "stop") {
    process.stderr.write(`${step.line}\n`);
    return 1;
  }
  const packages = step.commands.at(-1)!.slice(4);
  process.stderr.write(`npm test: installing Debian's ${packages.join(", ")} for the tests (apt-get, once)…\n`);
  for (const cmd of step.commands) {
    const run = Bun.spawnSync(cmd, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, stdout: "ignore", stderr: "pipe" });
    if (run.exitCode !== 0) {
      const why = run.stderr.toString().trim().split("\n").at(-1) ?? "";
      process.stderr.write(`npm test: \`${cmd.join(" ")}\` failed${why ? ` (${why})` : ""}; install ${packages.join(" ")} with apt-get yourself, then run npm test again.\n`);
      return 1;
    }
  }
  if (packages.includes("chromium") && !existsSync(CHROMIUM_PATH)) {
    process.stderr.write(`npm test: chromium was installed but ${CHROMIUM_PATH} is still missing; install it there, then run npm test again.\n`);
    return 1;
  }
  return 0;
}

if (import.meta.main) process.exit(main());
