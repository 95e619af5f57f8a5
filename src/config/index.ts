// The only reader of the environment: one zod schema, documented defaults, one readable line per bad value.
import { parseRange, type AddressRange } from "./address-ranges.ts";
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import { loadKeyRing } from "../privacy/keys.ts";
import { expectedType, withArticle } from "../protocol/words.ts";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));
/** Exact origins, or `*` (any origin; the HTTP API then allows it without credentials). Unset: undefined. */
const originList = z
  .string()
  .optional()
  .transform((v, ctx): readonly string[] | "*" | undefined => {
    if (v === undefined || v.trim() === "") return undefined;
    const origins = v.split(",").map((o) => o.trim()).filter(Boolean);
    if (origins.includes("*")) {
      if (origins.length === 1) return "*";
      ctx.addIssue({ code: "custom", message: "either * alone or a list of origins, not both" });
      return z.NEVER;
    }
    for (const o of origins) {
      if (!/^https?:\/\/[^/\s]+$/.test(o)) {
        ctx.addIssue({ code: "custom", message: `origins of the form scheme://host[:port] ("${o}" is not one), or * alone` });
        return z.NEVER;
      }
    }
    return origins;
  });

const proxyList = z
  .string()
  .optional()
  .transform((v, ctx): AddressRange[] => {
    const ranges: AddressRange[] = [];
    for (const item of (v ?? "").split(",").map((x) => x.trim()).filter(Boolean)) {
      const range = parseRange(item);
      if (!range) {
        ctx.addIssue({ code: "custom", message: `IP addresses or CIDR ranges, comma-separated ("${item}" is neither; e.g. 10.0.0.0/8,192.168.1.5,fd00::/8)` });
        return z.NEVER;
      }
      ranges.push(range);
    }
    return ranges;
  });

/** Lifecycle webhook event types; `message.created` is sent only when WEBHOOK_EVENTS names it. */
export const WEBHOOK_EVENT_TYPES = [
  "session.started",
  "session.ended",
  "participant.joined",
  "participant.left",
  "alert.raised",
  "alert.updated",
  "message.created",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
const DEFAULT_WEBHOOK_EVENTS = WEBHOOK_EVENT_TYPES.filter((t) => t !== "message.created");

const commaList = (v: string | undefined): string[] | undefined => {
  if (v === undefined || v.trim() === "") return undefined;
  return v.split(",").map((x) => x.trim()).filter(Boolean);
};
// URLs may carry credentials, so an issue names the entry by position, never by value.
const webhookUrls = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const urls = commaList(v);
    if (urls === undefined) return undefined;
    for (const [i, u] of urls.entries()) {
      let parsed: URL | null = null;
      try {
        parsed = new URL(u);
      } catch {
        // reported below
      }
      if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
        ctx.addIssue({ code: "custom", message: `entry ${i + 1} to be an http:// or https:// URL` });
        return z.NEVER;
      }
    }
    if (new Set(urls).size !== urls.length) {
      ctx.addIssue({ code: "custom", message: "each URL only once" });
      return z.NEVER;
    }
    return urls;
  });
const webhookEvents = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const names = commaList(v);
    if (names === undefined) return [...DEFAULT_WEBHOOK_EVENTS];
    const bad = names.filter((n) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(n));
    if (bad.length > 0) {
      ctx.addIssue({ code: "custom", message: `a comma list of ${WEBHOOK_EVENT_TYPES.join(", ")} (unknown: ${bad.join(", ")})` });
      return z.NEVER;
    }
    return [...new Set(names)] as WebhookEventType[];
  });
// The Standard Webhooks form: "whsec_" (optional) and the base64 of the key. Accepted exactly when the receiver's
// `new Webhook(secret)` (the standardwebhooks package) accepts it, so the same string works on both sides.
const webhookSecret = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  try {
    new Webhook(v);
  } catch {
    ctx.addIssue({ code: "custom", message: "whsec_ followed by base64 (generate one with: echo whsec_$(openssl rand -base64 32))" });
    return z.NEVER;
  }
  return v;
});

/**
 * A connection URL as it may be shown (logs, errors, /health, describeConfig): the password, and a `password`
 * query parameter, replaced by `***`. A value that is not a URL but holds an `@` may hide one: shown as `(hidden)`.
 */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value.includes("@") ? "(hidden)" : value;
  }
  // Without a host the parser cannot tell a password apart (e.g. "app:secret@db" reads as scheme "app").
  if (url.host === "" && value.includes("@")) return "(hidden)";
  if (url.password !== "") url.password = "***";
  for (const key of [...url.searchParams.keys()]) if (key.toLowerCase() === "password") url.searchParams.set(key, "***");
  return url.toString();
}

/** A URL of one of `schemes` with a host; the issue never quotes the value (the line shows it redacted). */
const engineUrl = (schemes: readonly string[], example: string) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    let url: URL | null = null;
    try {
      url = new URL(v);
    } catch {
      // reported below
    }
    if (!url || !schemes.includes(url.protocol.slice(0, -1)) || url.hostname === "") {
      ctx.addIssue({ code: "custom", message: `a ${schemes.map((s) => `${s}://`).join(" or ")} URL with a host (for example ${example})` });
      return z.NEVER;
    }
    return v;
  });

/**
 * Every setting, its type and its default. The README's configuration table mirrors this list;
 * test/config/config.test.ts checks that each variable here is documented there.
 */
export const configSchema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATA_DIR: z.string().min(1).default("./data"),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  SENTRY_DSN: optionalString.pipe(z.url().optional()),
  SENTRY_ENVIRONMENT: optionalString,

  DB_SYNCHRONOUS: z.enum(["normal", "full"]).default("normal"),
  GROUP_COMMIT_MAX_BATCH: int(1, 100_000).default(4096),
  GROUP_COMMIT_MAX_DELAY_MS: int(0, 100).default(0),
  DB_RETRY_MS: int(0, 60_000).default(2000),
  DATABASE_URL: engineUrl(["postgres", "postgresql"], "postgres://sessiond:secret@db.internal:5432/sessiond"),
  DATABASE_POOL_SIZE: int(1, 1000).default(10),
  REDIS_URL: engineUrl(["redis", "rediss"], "redis://cache.internal:6379"),
  CLUSTER: bool.default(false),

  SESSION_EXPIRY_SECONDS: int(1, 31_536_000).default(1200),
  SESSION_SWEEP_INTERVAL_SECONDS: int(1, 86_400).default(30),
  SESSION_CACHE_MAX_SESSIONS: int(1, 10_000_000).default(10_000),
  SESSION_CREATE: z.enum(["join", "api"]).default("join"),
  ROOM_ACCESS_DEFAULT: z.enum(["private", "open"]).default("private"),
  END_ON_DISCONNECT_GRACE_SECONDS: z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), int(0, 86_400).optional()),
  MAX_MESSAGES_PER_SESSION: int(1, 1_000_000).default(1000),
  MAX_RECOVERY_MESSAGES: int(1, 1_000_000).default(10_000),
  MAX_RECOVERY_BYTES: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  MAX_MESSAGE_BYTES: int(1, 16 * 1024 * 1024).default(65_536),
  ARCHIVE_ON_SHUTDOWN: bool.default(false),

  HEARTBEAT_INTERVAL_SECONDS: int(1, 3600).default(15),
  HEARTBEAT_TIMEOUT_SECONDS: int(1, 3600).default(45),
  SLOW_CONSUMER_BYTES: int(16 * 1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),

  AUTH_MODE: z.enum(["jwt", "none"]).default("jwt"),
  ALLOW_INSECURE_DEV: bool.default(false),
  JWT_SECRET: optionalString.pipe(z.string().min(32, "at least 32 characters").optional()),
  JWT_PUBLIC_KEY: optionalString.pipe(
    z.string().includes("-----BEGIN PUBLIC KEY-----", { message: "a PEM public key (-----BEGIN PUBLIC KEY-----)" }).optional(),
  ),
  JWT_ALGORITHM: z.enum(["HS256", "RS256", "ES256"]).optional(),
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,

  RATE_LIMIT_MESSAGES_PER_MINUTE: int(1, 100_000_000).default(100),
  RATE_LIMIT_WINDOW_SECONDS: int(1, 3600).default(60),
  RATE_LIMIT_CONNECTIONS_PER_MINUTE: int(1, 1_000_000).default(60),
  MAX_CONNECTIONS: int(1, 1_000_000).default(10_000),
  MAX_CONNECTIONS_PER_USER: int(1, 100_000).default(20),
  MAX_SESSIONS_PER_CONNECTION: int(1, 100_000).default(100),
  ALLOWED_ORIGINS: originList,
  TRUSTED_PROXIES: proxyList,

  SSE_HEARTBEAT_SECONDS: int(1, 3600).default(15),
  METRICS_TOKEN: optionalString.pipe(z.string().min(16, "at least 16 characters").optional()),
  METRICS_ENABLED: bool.default(true),
  DEV_EXAMPLES: bool.default(false),
  CONSOLE_ENABLED: bool.default(true),
  STATS_SAMPLE_SECONDS: int(1, 60).default(5),
  RETENTION_DAYS: z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), int(1, 36_500).optional()),

  ANALYZER: z.enum(["builtin", "llm", "both"]).default("builtin"),
  ANALYSIS_DEFAULT: z.enum(["on", "off"]).default("on"),
  ANALYSIS_QUEUE_MAX: int(1, 10_000_000).default(10_000),
  ANALYSIS_TOPICS_FILE: optionalString,
  ANALYSIS_LLM_TIMEOUT_SECONDS: int(1, 600).default(20),
  ALERT_MIN_RISK: z.enum(["low", "medium", "high"]).default("medium"),
  /** Testing only: delay between analysing a message and storing it, to make the crash window observable. */
  ANALYSIS_STORE_DELAY_MS: int(0, 600_000).default(0),

  AI_BASE_URL: optionalString.pipe(z.url({ protocol: /^https?$/, error: "an http:// or https:// URL (for example http://127.0.0.1:11434/v1)" }).optional()),
  AI_API_KEY: optionalString,
  AI_MODEL: optionalString,
  AI_TIMEOUT_SECONDS: int(1, 3600).default(60),
  AI_MAX_DURATION_SECONDS: int(1, 86_400).default(300),
  AI_MAX_CONCURRENCY: int(1, 1000).default(4),

  WEBHOOK_URLS: webhookUrls,
  WEBHOOK_SECRET: webhookSecret,
  WEBHOOK_EVENTS: webhookEvents,
  WEBHOOK_INCLUDE_CONTENT: bool.default(false),
  WEBHOOK_TIMEOUT_SECONDS: int(1, 300).default(10),
  WEBHOOK_RETRY_BASE_MS: int(1, 3_600_000).default(1000),
  WEBHOOK_MAX_AGE_SECONDS: int(1, 2_592_000).default(86_400),

  ARCHIVE_DIR: optionalString,
  ARCHIVE_FORMAT: z.enum(["yaml", "json", "markdown"]).default("yaml"),
  ARCHIVE_PLAINTEXT: bool.default(false),

  ENCRYPTION_KEY: optionalString,
  ENCRYPTION_KEY_FILE: optionalString,
  ENCRYPTION_KEYS_OLD: optionalString,
});

type Raw = z.infer<typeof configSchema>;
export type JwtAlgorithm = "HS256" | "RS256" | "ES256";

export interface Config extends Omit<Raw, "JWT_ALGORITHM"> {
  /** The one accepted algorithm: HS256 with a secret unless a public key is configured. */
  JWT_ALGORITHM: JwtAlgorithm;
}

/** Names whose values are shown in an error line only with the password replaced (redactUrl). */
const URL_NAMES = new Set(["DATABASE_URL", "REDIS_URL"]);

/** Names whose values are never echoed back in an error line. */
const SECRET_NAMES = new Set(["JWT_SECRET", "JWT_PUBLIC_KEY", "SENTRY_DSN", "METRICS_TOKEN", "AI_API_KEY", "WEBHOOK_URLS", "WEBHOOK_SECRET", "ENCRYPTION_KEY", "ENCRYPTION_KEYS_OLD"]);

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: string[] };

/**
 * Turns `--data-dir ./x` / `--port=4000` into `DATA_DIR` / `PORT` overrides.
 * Returns the overrides, the positional words left over, and any flag that names no setting.
 */
export function parseFlags(argv: readonly string[]): { overrides: Record<string, string>; positional: string[]; unknown: string[] } {
  const overrides: Record<string, string> = {};
  const positional: string[] = [];
  const unknown: string[] = [];
  const known = new Set(Object.keys(configSchema.shape));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const name = flag.toUpperCase().replaceAll("-", "_");
    if (!known.has(name)) {
      unknown.push(`--${flag}`);
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) unknown.push(`--${flag} (no value given)`);
    else overrides[name] = value;
  }
  return { overrides, positional, unknown };
}

/** Parses settings from the environment plus CLI overrides. Never throws. */
export function loadConfig(env: Record<string, string | undefined>, overrides: Record<string, string> = {}): ConfigResult {
  const input: Record<string, string | undefined> = {};
  for (const name of Object.keys(configSchema.shape)) {
    const value = overrides[name] ?? env[name];
    if (value !== undefined) input[name] = value;
  }
  const parsed = configSchema.safeParse(input);
  const errors: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? "config");
      const given = input[name];
      const shown =
        given === undefined ? "(unset)" : SECRET_NAMES.has(name) ? "(hidden)" : URL_NAMES.has(name) ? quoted(redactUrl(given)) : JSON.stringify(given);
      errors.push(`config: ${name}=${shown} is invalid: expected ${describeIssue(issue)}`);
    }
    return { ok: false, errors };
  }
  const raw = parsed.data;
  if (raw.JWT_SECRET && raw.JWT_PUBLIC_KEY) {
    errors.push("config: JWT_SECRET and JWT_PUBLIC_KEY are both set: expected only one (a shared secret for HS256, or a public key for RS256/ES256)");
  }
  const algorithm: JwtAlgorithm = raw.JWT_ALGORITHM ?? (raw.JWT_PUBLIC_KEY ? "RS256" : "HS256");
  if (algorithm === "HS256" && raw.JWT_PUBLIC_KEY) {
    errors.push(`config: JWT_ALGORITHM="HS256" is invalid: expected RS256 or ES256 when JWT_PUBLIC_KEY is set`);
  }
  if (algorithm !== "HS256" && !raw.JWT_PUBLIC_KEY && raw.AUTH_MODE === "jwt") {
    errors.push(`config: JWT_ALGORITHM="${algorithm}" is invalid: expected JWT_PUBLIC_KEY to be set as well`);
  }
  if (raw.CLUSTER && (!raw.DATABASE_URL || !raw.REDIS_URL)) {
    const missing = [!raw.DATABASE_URL && "DATABASE_URL", !raw.REDIS_URL && "REDIS_URL"].filter(Boolean).join(" and ");
    errors.push(
      `config: CLUSTER=true is invalid: expected ${missing} to be set as well (the nodes of a cluster share one PostgreSQL database and one Redis; without them each node would keep its own sessions)`,
    );
  }
  if (raw.HEARTBEAT_TIMEOUT_SECONDS <= raw.HEARTBEAT_INTERVAL_SECONDS) {
    errors.push(
      `config: HEARTBEAT_TIMEOUT_SECONDS="${raw.HEARTBEAT_TIMEOUT_SECONDS}" is invalid: expected more than HEARTBEAT_INTERVAL_SECONDS (${raw.HEARTBEAT_INTERVAL_SECONDS})`,
    );
  }
  if (raw.ANALYZER !== "builtin" && !raw.AI_BASE_URL) {
    errors.push(`config: ANALYZER="${raw.ANALYZER}" is invalid: expected AI_BASE_URL to be set as well (the model server's OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1)`);
  }
  if (raw.ANALYZER !== "builtin" && raw.AI_BASE_URL && !raw.AI_MODEL) {
    errors.push(`config: AI_MODEL=(unset) is invalid: expected the model to analyse with when ANALYZER="${raw.ANALYZER}" (for example llama3.1:8b)`);
  }
  if (raw.WEBHOOK_URLS && !raw.WEBHOOK_SECRET) {
    errors.push("config: WEBHOOK_SECRET=(unset) is invalid: expected the signing secret when WEBHOOK_URLS is set (generate one with: echo whsec_$(openssl rand -base64 32))");
  }
  // Keys are checked for form here; ENCRYPTION_KEY_FILE is read at start-up (src/server/privacy.ts).
  const keys = loadKeyRing(raw);
  if (!keys.ok) errors.push(...keys.errors);
  if (isEncrypting(raw) && raw.ARCHIVE_DIR && !raw.ARCHIVE_PLAINTEXT) {
    errors.push(
      "config: ARCHIVE_DIR is set while encryption at rest is on: archive files are plaintext transcripts; unset ARCHIVE_DIR, or set ARCHIVE_PLAINTEXT=true to write them anyway",
    );
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, config: { ...raw, JWT_ALGORITHM: algorithm } };
}

/** `(hidden)` stays bare; anything else is quoted like the other values. */
const quoted = (shown: string): string => (shown === "(hidden)" ? shown : JSON.stringify(shown));

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_value":
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return `${issue.origin === "string" ? "a value of" : "a number"} at least ${issue.minimum}${issue.origin === "string" ? " characters" : ""}`;
    case "too_big":
      return `a number at most ${issue.maximum}`;
    case "invalid_type":
      return issue.expected === "number" || issue.expected === "int" ? "a whole number" : expectedType(issue.expected);
    case "invalid_format":
      return issue.format === "url" ? "an http:// or https:// URL" : withArticle(issue.format);
    default:
      return issue.message;
  }
}

/** Whether HOST listens on this machine only: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A summary for the start-up log: settings only, never a secret or a key. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    port: config.PORT,
    host: config.HOST,
    dataDir: config.DATA_DIR,
    store: config.DATABASE_URL ? "postgres" : "sqlite",
    ...(config.DATABASE_URL ? { database: redactUrl(config.DATABASE_URL), databasePoolSize: config.DATABASE_POOL_SIZE } : { synchronous: config.DB_SYNCHRONOUS }),
    broker: config.REDIS_URL ? "redis" : "in-process",
    ...(config.REDIS_URL && { redis: redactUrl(config.REDIS_URL) }),
    cluster: config.CLUSTER,
    sessionExpirySeconds: config.SESSION_EXPIRY_SECONDS,
    maxMessagesPerSession: config.MAX_MESSAGES_PER_SESSION,
    sessionCacheMaxSessions: config.SESSION_CACHE_MAX_SESSIONS,
    authMode: config.AUTH_MODE,
    jwtAlgorithm: config.JWT_ALGORITHM,
    sentry: config.SENTRY_DSN !== undefined,
    analyzer: config.ANALYZER,
    analysisDefault: config.ANALYSIS_DEFAULT,
    modelServer: config.AI_BASE_URL !== undefined,
    webhookEndpoints: config.WEBHOOK_URLS?.length ?? 0,
    archive: config.ARCHIVE_DIR !== undefined ? config.ARCHIVE_FORMAT : "off",
    encryption: isEncrypting(config) ? "on" : "off",
  };
}

/** Whether a key is configured (the database's own state decides between "on" and "migrating"). */
export function isEncrypting(config: Pick<Raw, "ENCRYPTION_KEY" | "ENCRYPTION_KEY_FILE">): boolean {
  return config.ENCRYPTION_KEY !== undefined || config.ENCRYPTION_KEY_FILE !== undefined;
}
