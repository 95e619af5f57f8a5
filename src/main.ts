#!/usr/bin/env bun
// The CLI: serve, migrate, token, backup, restore, rotate-key, encrypt, audit verify, version, help. Server assembly lives in server/node.ts.
import { MAX_USER_ID_CHARS, mintToken, parseTtl } from "./auth/index.ts";
import { loadConfig, parseFlags, configSchema, type Config } from "./config/index.ts";
import { closeDatabase, databasePath, migrate, openDatabase } from "./db/index.ts";
import { backupDatabase } from "./db/backup.ts";
import { auditVerifyCommand, recordCliAudit, resealCommand, restoreCommand, type CommandResult } from "./cli/privacy.ts";
import { signingSecret } from "./server/auth.ts";
import { startNode, StartupError, type RunningNode } from "./server/node.ts";
import { EngineStartError, migrateSelectedPostgres } from "./server/engines.ts";
import pkg from "../package.json";

const VERSION: string = pkg.version;

const HELP = `sessiond ${VERSION} — self-hosted real-time session server

Usage: sessiond [command] [--setting value ...]

Commands:
  serve                 start the server (default)
  dev                   start for local development: no tokens (AUTH_MODE=none), example pages, listening on
                        127.0.0.1 only, data in ./data-dev (each can still be set by variable or flag)
  migrate               apply the database migrations and exit: PostgreSQL's when DATABASE_URL is set (safe while
                        other nodes start), else SQLite's in DATA_DIR
  token --user <id>     print a signed token: [--admin | --moderator] [--ttl 1h|30m|7d] [--session <id>]... [--room <key>]...
  backup <file>         write a consistent copy of the database to <file> (refuses to overwrite)
  restore <file>        replace the database with a backup (the server must be stopped; checks the file is a
                        sessiond database this version can migrate; gives it a new epoch)
  rotate-key            re-encrypt every stored value with ENCRYPTION_KEY while the server runs (resumable)
  encrypt               encrypt a plaintext database with ENCRYPTION_KEY while the server runs (resumable)
  audit verify          check the audit trail's hash chain; exit 1 naming the entry where it breaks
  version               print the version
  help, --help          this text

Settings come from environment variables; a flag such as --port 4000 or --data-dir ./x overrides one.
Storage is SQLite in DATA_DIR unless DATABASE_URL (postgres://) is set; the broker is in-process unless REDIS_URL
(redis://) is set; several nodes need both (CLUSTER=true checks it).
`;

function fail(lines: string[]): never {
  for (const line of lines) process.stderr.write(`${line}\n`);
  process.exit(1);
}

function settingsHelp(): string {
  const defaults = loadConfig({});
  const values: Record<string, unknown> = defaults.ok ? { ...defaults.config } : {};
  const rows = Object.keys(configSchema.shape).map((name) => {
    const v = values[name];
    return `  ${name.padEnd(36)}${v === undefined ? "(unset)" : Array.isArray(v) ? v.join(",") : String(v)}`;
  });
  return `Environment variables (default):\n${rows.join("\n")}\n\nSee docs/configuration.md for what each one does.\n`;
}

function readConfig(overrides: Record<string, string>): Config {
  const result = loadConfig(process.env, overrides);
  if (!result.ok) fail(result.errors);
  return result.config;
}

/** How a person runs this CLI: the compiled binary, or Bun on the source checkout. */
function cliCommand(): string {
  return Bun.main.endsWith(".ts") ? "bun src/main.ts" : "sessiond";
}

/** What `dev` changes unless the environment or a flag says otherwise: nobody else can reach it, its data apart. */
const DEV_DEFAULTS: Record<string, string> = { AUTH_MODE: "none", DEV_EXAMPLES: "true", HOST: "127.0.0.1", DATA_DIR: "./data-dev" };

async function serve(config: Config, dev = false): Promise<void> {
  let node: RunningNode | null = null;
  let requested: string | null = null;
  const stop = (signal: string) => {
    // A signal during start-up is kept and acted on once the node is up (it can then shut down in order); a second
    // one means the start-up is stuck for the person waiting on it: stop now.
    if (!node) {
      if (requested) process.exit(1);
      requested = signal;
      return;
    }
    // A shutdown stuck on a peer or a flush must not keep the process alive past 10 s.
    const force = setTimeout(() => {
      process.stderr.write(`sessiond: shutdown after ${signal} did not finish within 10 s\n`);
      process.exit(1);
    }, 10_000);
    node.shutdown(signal).then(
      () => {
        clearTimeout(force);
        process.exit(0);
      },
      (e) => {
        process.stderr.write(`sessiond: shutdown failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  // Installed before the start-up line is written: a SIGTERM right after it must shut down, not kill (exit 143).
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  try {
    node = await startNode(config, { version: VERSION, command: cliCommand() });
  } catch (e) {
    if (e instanceof StartupError) fail([e.message]);
    throw e;
  }
  if (dev) {
    const where = config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
    const who = config.AUTH_MODE === "none" ? "no tokens: add ?user=<id>" : "tokens required";
    process.stderr.write(`sessiond dev: listening on ${where}:${node.port} only, data in ${config.DATA_DIR}, ${who} — http://${where}:${node.port}/examples/chat/?user=alice\n`);
  }
  if (requested) stop(requested);
}

async function tokenCommand(args: string[]): Promise<void> {
  let user: string | undefined;
  let admin = false;
  let moderator = false;
  let ttl = 3600;
  const sessions: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = () => {
      const v = args[++i];
      if (v === undefined) fail([`token: ${a} needs a value`]);
      return v;
    };
    if (a === "--user") user = next();
    else if (a === "--admin") admin = true;
    else if (a === "--moderator") moderator = true;
    else if (a === "--ttl") {
      const text = next();
      const parsed = parseTtl(text);
      if (parsed === null) fail([`token: --ttl "${text}" is invalid: expected a duration such as 90s, 30m, 1h or 7d`]);
      ttl = parsed;
    } else if (a === "--session") sessions.push(next());
    else if (a === "--room") sessions.push(`room:${next()}`);
    else rest.push(a);
  }
  if (!user) fail(["token: --user <id> is required"]);
  // The server refuses a token whose user id it would not accept: refuse to mint one.
  if (user.length > MAX_USER_ID_CHARS) fail([`token: --user is invalid: expected at most ${MAX_USER_ID_CHARS} characters`]);
  if (admin && moderator) fail(["token: choose one of --admin or --moderator"]);
  const { overrides, positional, unknown } = parseFlags(rest);
  if (unknown.length > 0) fail(unknown.map((u) => `token: unknown option ${u}`));
  if (positional.length > 0) fail([`token: unexpected argument ${JSON.stringify(positional[0])} (options take the form --name value)`]);
  const config = readConfig(overrides);
  if (config.AUTH_MODE === "none") fail(["token: AUTH_MODE=none accepts no tokens; pass ?user=<id> instead"]);
  if (config.JWT_ALGORITHM !== "HS256") {
    fail([`token: this server verifies ${config.JWT_ALGORITHM} tokens with a public key; mint them with your private key instead`]);
  }
  const token = await mintToken(signingSecret(config), {
    userId: user,
    admin,
    moderator,
    ttlSeconds: ttl,
    sessions,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  process.stdout.write(`${token}\n`);
}

/** What each SQLite file command does instead on PostgreSQL (DATABASE_URL), for the one line it stops with. */
const ON_POSTGRES: Record<string, string> = {
  backup: "back the database up with pg_dump (see docs/deployment.md)",
  restore: "restore it with pg_restore (see docs/deployment.md)",
  "rotate-key": "re-sealing values with a new key is available on SQLite only in this version; values sealed with the previous key stay readable while it is in ENCRYPTION_KEYS_OLD",
  encrypt: "sealing a plaintext database is available on SQLite only in this version: give ENCRYPTION_KEY to a new PostgreSQL database",
  "audit verify": "the audit trail is listed, in order and with its hashes, by GET /api/admin/audit",
};

/** The file commands work on DATA_DIR's SQLite file: with DATABASE_URL that file is not where the data is. */
function refuseOnPostgres(config: Config, command: string): void {
  const instead = ON_POSTGRES[command];
  if (config.DATABASE_URL && instead) fail([`${command}: DATABASE_URL is set, so the data is in PostgreSQL, not in DATA_DIR's SQLite file: ${instead}.`]);
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  const command = first === undefined || first.startsWith("--") ? "serve" : first;
  const args = command === "serve" && first !== "serve" ? argv : rest;
  if (argv.includes("--help") || argv.includes("-h") || command === "help") {
    process.stdout.write(HELP + "\n" + settingsHelp());
    return;
  }
  switch (command) {
    case "version":
      process.stdout.write(`sessiond ${VERSION}\n`);
      return;
    case "token":
      return tokenCommand(args);
    case "dev": {
      const { overrides, positional, unknown } = parseFlags(args);
      if (unknown.length > 0 || positional.length > 0) fail([...unknown, ...positional].map((u) => `sessiond: unknown option ${u} (see sessiond --help)`));
      const result = loadConfig({ ...DEV_DEFAULTS, ...process.env }, overrides);
      if (!result.ok) fail(result.errors);
      return serve(result.config, true);
    }
    case "serve":
    case "migrate":
    case "backup": {
      const { overrides, positional, unknown } = parseFlags(args);
      if (unknown.length > 0) fail(unknown.map((u) => `sessiond: unknown option ${u} (see sessiond --help)`));
      const config = readConfig(overrides);
      if (command === "serve") return serve(config);
      if (command === "migrate") {
        if (config.DATABASE_URL) {
          let applied: number;
          try {
            applied = await migrateSelectedPostgres(config.DATABASE_URL);
          } catch (e) {
            if (e instanceof EngineStartError) fail([e.message]);
            throw e;
          }
          process.stdout.write(`migrations applied: ${applied}\n`);
          return;
        }
        const sqlite = openDatabase(databasePath(config.DATA_DIR), { synchronous: config.DB_SYNCHRONOUS });
        const applied = migrate(sqlite);
        closeDatabase(sqlite);
        process.stdout.write(`migrations applied: ${applied}\n`);
        return;
      }
      refuseOnPostgres(config, command);
      const target = positional[0];
      if (!target) fail(["backup: a target file is required: sessiond backup <file>"]);
      const result = backupDatabase(databasePath(config.DATA_DIR), target);
      if (!result.ok) fail([`backup: ${result.error}`]);
      const unrecorded = recordCliAudit(config, "database.backup", "sessiond.db", { bytes: result.bytes });
      if (unrecorded) process.stderr.write(`backup: written, but not recorded in the audit trail: ${unrecorded}\n`);
      process.stdout.write(`backup written to ${target} (${result.bytes} bytes)\n`);
      return;
    }
    case "restore":
    case "rotate-key":
    case "encrypt":
    case "audit": {
      const { overrides, positional, unknown } = parseFlags(args);
      if (unknown.length > 0) fail(unknown.map((u) => `sessiond: unknown option ${u} (see sessiond --help)`));
      const config = readConfig(overrides);
      refuseOnPostgres(config, command === "audit" ? "audit verify" : command);
      let result: CommandResult;
      if (command === "restore") {
        if (!positional[0]) fail(["restore: a backup file is required: sessiond restore <file>"]);
        result = restoreCommand(config, positional[0]);
      } else if (command === "audit") {
        if (positional[0] !== "verify") fail(["audit: expected a subcommand: sessiond audit verify"]);
        result = auditVerifyCommand(config);
      } else {
        result = resealCommand(config, command === "rotate-key" ? "rotate" : "encrypt", (line) => process.stdout.write(`${line}\n`));
      }
      for (const line of result.out) process.stdout.write(`${line}\n`);
      if (result.code !== 0) fail(result.err);
      return;
    }
    default:
      fail([`sessiond: unknown command "${command}" (see sessiond --help)`]);
  }
}

main(Bun.argv.slice(2)).catch((e) => {
  // Start-up failures are reported as one readable line, never a stack trace.
  process.stderr.write(`sessiond: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
