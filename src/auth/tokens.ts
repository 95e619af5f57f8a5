// JWT verification and minting with hono's JWT utilities, plus the checks hono leaves out (required exp and sub,
// clock-skew leeway on exp/nbf). Error sentences never contain the token.
import { createHmac, timingSafeEqual } from "node:crypto";
import { sign, verify } from "hono/jwt";
import { z } from "zod";
import { SessiondError } from "../protocol/errors.ts";
import { principal, type Principal } from "../sessions/access.ts";
import type { JwtAlgorithm } from "../config/index.ts";

export interface TokenVerifierOptions {
  algorithm: JwtAlgorithm;
  /** HS256 shared secret. */
  secret?: string;
  /** RS256/ES256 public key (PEM). */
  publicKey?: string;
  issuer?: string;
  audience?: string;
  /** Allowed clock skew on exp and nbf. @default 30 */
  leewaySeconds?: number;
}

export interface VerifiedToken {
  principal: Principal;
  /** Expiry, epoch seconds. */
  exp: number;
}

/** The longest user id (`sub`) a token may carry. */
export const MAX_USER_ID_CHARS = 256;

const claimsSchema = z.object({
  sub: z.string().min(1).max(MAX_USER_ID_CHARS),
  exp: z.number().finite(),
  nbf: z.number().finite().optional(),
  role: z.string().optional(),
  sessions: z.array(z.string().max(200)).max(1000).optional(),
});

const unauthorized = (why: string) => new SessiondError("unauthorized", why);

export class TokenVerifier {
  private readonly key: string;
  private readonly leeway: number;
  /** HS256 secret bytes: the HMAC is computed synchronously (a few µs; the async WebCrypto path costs 10× that). */
  private readonly hmacSecret: Buffer | null;

  constructor(private readonly options: TokenVerifierOptions) {
    const key = options.algorithm === "HS256" ? options.secret : options.publicKey;
    if (!key) throw new Error(`no key configured for ${options.algorithm}`);
    this.key = key;
    this.hmacSecret = options.algorithm === "HS256" ? Buffer.from(key, "utf8") : null;
    this.leeway = options.leewaySeconds ?? 30;
  }

  /** Verifies signature, algorithm, issuer, audience, exp and nbf; throws `unauthorized` with a reason. */
  async verify(token: string, nowMs = Date.now()): Promise<VerifiedToken> {
    let payload: Record<string, unknown>;
    try {
      // Time claims are checked below, with leeway and with exp required.
      payload =
        this.hmacSecret !== null
          ? verifyHs256(token, this.hmacSecret)
          : await verify(token, this.key, { alg: this.options.algorithm, exp: false, nbf: false, iat: false });
    } catch (e) {
      throw unauthorized(describeJwtError(e));
    }
    if (this.options.issuer !== undefined && payload.iss !== this.options.issuer) throw unauthorized("The token's issuer is not accepted.");
    if (this.options.audience !== undefined && !audienceMatches(payload.aud, this.options.audience)) throw unauthorized("The token's audience is not accepted.");
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      const field = String(claims.error.issues[0]?.path[0] ?? "claims");
      throw unauthorized(payload[field] === undefined ? `The token has no "${field}" claim.` : `The token's "${field}" claim is invalid.`);
    }
    const now = nowMs / 1000;
    const { sub, exp, nbf, role, sessions } = claims.data;
    if (exp + this.leeway <= now) throw unauthorized("The token has expired.");
    if (nbf !== undefined && nbf - this.leeway > now) throw unauthorized("The token is not valid yet.");
    return { principal: principal(sub, { role: role === "admin" || role === "moderator" ? role : "user", sessions }), exp };
  }
}

/** A JWT failure, named like hono's errors so describeJwtError reads both. */
class JwtError extends Error {
  constructor(name: string) {
    super(name);
    this.name = name;
  }
}

/** Checks an HS256 token's header and signature (constant-time compare) and returns its payload. */
export function verifyHs256(token: string, secret: Buffer): Record<string, unknown> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new JwtError("JwtTokenInvalid");
  const [head, body, signature] = parts as [string, string, string];
  const header = decodeJsonPart(head);
  if (header.alg !== "HS256") throw new JwtError("JwtAlgorithmMismatch");
  const expected = createHmac("sha256", secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new JwtError("JwtTokenSignatureMismatched");
  return decodeJsonPart(body);
}

function decodeJsonPart(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw new JwtError("JwtTokenInvalid");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new JwtError("JwtTokenInvalid");
  return value as Record<string, unknown>;
}

function audienceMatches(aud: unknown, expected: string): boolean {
  return aud === expected || (Array.isArray(aud) && aud.includes(expected));
}

function describeJwtError(e: unknown): string {
  const name = e instanceof Error ? e.name : "";
  switch (name) {
    case "JwtAlgorithmMismatch":
    case "JwtHeaderInvalid":
      return "The token's algorithm is not the one this server accepts.";
    case "JwtTokenSignatureMismatched":
      return "The token's signature is invalid.";
    case "JwtTokenIssuer":
      return "The token's issuer is not accepted.";
    case "JwtTokenAudience":
    case "JwtPayloadRequiresAud":
      return "The token's audience is not accepted.";
    default:
      return "The token is malformed or its signature cannot be verified.";
  }
}

export interface MintOptions {
  userId: string;
  admin?: boolean;
  /** "moderator" mints a staff token that reads every session and handles alerts (admin wins over it). */
  moderator?: boolean;
  ttlSeconds: number;
  /** Session ids, and `room:<key>` entries. */
  sessions?: string[];
  issuer?: string;
  audience?: string;
  nowMs?: number;
}

/** An HS256 token for `sessiond token` and for tests. */
export async function mintToken(secret: string, o: MintOptions): Promise<string> {
  const iat = Math.floor((o.nowMs ?? Date.now()) / 1000);
  return sign(
    {
      sub: o.userId,
      iat,
      exp: iat + o.ttlSeconds,
      ...(o.admin ? { role: "admin" } : o.moderator ? { role: "moderator" } : {}),
      ...(o.sessions && o.sessions.length > 0 && { sessions: o.sessions }),
      ...(o.issuer !== undefined && { iss: o.issuer }),
      ...(o.audience !== undefined && { aud: o.audience }),
    },
    secret,
    "HS256",
  );
}

/** Parses `90s`, `30m`, `1h`, `7d` (or plain seconds) into seconds; null when unreadable. */
export function parseTtl(text: string): number | null {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  return n > 0 ? n * unit : null;
}
