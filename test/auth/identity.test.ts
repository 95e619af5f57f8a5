import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sign } from "hono/jwt";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { api, attemptUpgrade, MAIN, ROOT, startServer, tempDir, TEST_SECRET, token, WsClient, type ServerProcess } from "../helpers.ts";

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

async function rsaKeys() {
  const pair = await crypto.subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, true, ["sign", "verify"]);
  const pem = (label: string, der: ArrayBuffer) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END ${label}-----\n`;
  return {
    publicPem: pem("PUBLIC KEY", await crypto.subtle.exportKey("spki", pair.publicKey)),
    privatePem: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
  };
}

let server: ServerProcess;
let keys: Awaited<ReturnType<typeof rsaKeys>>;
beforeAll(async () => {
  server = await startServer();
  keys = await rsaKeys();
});
afterAll(async () => {
  await server.stop();
});

describe("refused tokens get 401 before any upgrade", () => {
  const cases: Array<[string, () => Promise<string>, string]> = [
    ["a forged signature", () => sign({ sub: "a", exp: now() + 60 }, "another-secret-another-secret-0000", "HS256"), "The token's signature is invalid."],
    ["an expired token", () => sign({ sub: "a", exp: now() - 120 }, TEST_SECRET, "HS256"), "The token has expired."],
    ["a token not yet valid", () => sign({ sub: "a", exp: now() + 600, nbf: now() + 300 }, TEST_SECRET, "HS256"), "The token is not valid yet."],
    ["alg none", async () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "a", exp: now() + 60 })}.`, "The token's algorithm is not the one this server accepts."],
    ["another HMAC algorithm", () => sign({ sub: "a", exp: now() + 60 }, TEST_SECRET, "HS512"), "The token's algorithm is not the one this server accepts."],
    ["an RS256 token against an HS256 server", () => sign({ sub: "a", exp: now() + 60 }, keys.privatePem, "RS256"), "The token's algorithm is not the one this server accepts."],
    ["a missing sub", () => sign({ exp: now() + 60 }, TEST_SECRET, "HS256"), 'The token has no "sub" claim.'],
    ["a missing exp", () => sign({ sub: "a" }, TEST_SECRET, "HS256"), 'The token has no "exp" claim.'],
    ["garbage", async () => "not.a.token", "The token is malformed or its signature cannot be verified."],
  ];
  for (const [name, make, message] of cases) {
    test(name, async () => {
      const t = await make();
      const r = await attemptUpgrade(server, { token: t });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: { code: "unauthorized", message } });
      const h = await api(server.http, "GET", "/api/sessions", { token: t });
      expect(h.status).toBe(401);
      expect(h.body.error.message).toBe(message);
    });
  }

  test("no token at all", async () => {
    const r = await attemptUpgrade(server);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("unauthorized");
    expect((await api(server.http, "GET", "/api/sessions")).status).toBe(401);
  });

  test("a token within the 30 s clock-skew allowance is accepted", async () => {
    const t = await sign({ sub: "skew", exp: now() - 10, nbf: now() + 10 }, TEST_SECRET, "HS256");
    expect((await api(server.http, "GET", "/api/sessions", { token: t })).status).toBe(200);
  });

  test("a token by header and by query both work, and the query token never reaches the logs", async () => {
    const t = await token("quinn");
    const byHeader = await WsClient.connect(server.ws, { token: t });
    const byQuery = await WsClient.connect(server.ws, { query: { token: t } });
    expect((await byQuery.request({ type: "ping" })).type).toBe("pong");
    await Promise.all([byHeader.close(), byQuery.close()]);
    expect(server.logs.join("\n")).not.toContain(t);
    expect(server.logs.join("\n")).not.toContain(t.split(".")[2]!);
  });

  test("a token offered as a subprotocol is never echoed back", async () => {
    const t = await token("quinn");
    const r = await attemptUpgrade(server, { token: t, headers: { "Sec-WebSocket-Protocol": t } });
    expect(r.status).toBe(400);
    expect(r.headers.get("sec-websocket-protocol")).toBeNull();
  });
});

describe("RS256 with a public key", () => {
  test("the server accepts tokens signed with the private key and refuses HS256 ones", async () => {
    const rs = await startServer({ env: { JWT_SECRET: "", JWT_PUBLIC_KEY: keys.publicPem, JWT_ALGORITHM: "RS256" } });
    try {
      const good = await sign({ sub: "rita", exp: now() + 60 }, keys.privatePem, "RS256");
      expect((await api(rs.http, "GET", "/api/sessions", { token: good })).status).toBe(200);
      const c = await WsClient.connect(rs.ws, { token: good });
      await c.close();
      const hs = await token("rita");
      const refused = await api(rs.http, "GET", "/api/sessions", { token: hs });
      expect(refused.status).toBe(401);
      expect((await attemptUpgrade(rs, { token: hs })).status).toBe(401);
    } finally {
      await rs.stop();
    }
  });
});

describe("token expiry on a live connection", () => {
  test("closes with 4001 after an error frame when exp passes", async () => {
    const c = await WsClient.connect(server.ws, { token: await token("tess", { ttlSeconds: 2 }) });
    const closed = await c.closed;
    expect(closed.code).toBe(4001);
    expect(c.frames.at(-1)).toMatchObject({ type: "error", code: "unauthorized" });
  });

  test("an auth frame with a fresh token keeps it open; a token for another user is refused and changes nothing", async () => {
    const c = await WsClient.connect(server.ws, { token: await token("tess", { ttlSeconds: 2 }) });
    const other = await c.request({ type: "auth", token: await token("mallory") });
    expect(other).toMatchObject({ type: "error", code: "unauthorized" });
    const authed = await c.request({ type: "auth", token: await token("tess", { ttlSeconds: 600 }) });
    expect(authed.type).toBe("authed");
    expect(Date.parse(authed.exp)).toBeGreaterThan(Date.now() + 500_000);
    await Bun.sleep(3000);
    expect((await c.request({ type: "ping" })).type).toBe("pong");
    await c.close();
  });
});

describe("sessiond token refuses what the server would refuse", () => {
  const mint = (...args: string[]) => {
    const r = Bun.spawnSync([process.execPath, MAIN, "token", ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", DATA_DIR: tempDir(), JWT_SECRET: TEST_SECRET } });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString().trim() };
  };
  test.each([
    [["--user", "u".repeat(257)], "token: --user is invalid: expected at most 256 characters"],
    [["--user", "alice", "extra"], 'token: unexpected argument "extra" (options take the form --name value)'],
    [["--user"], "token: --user needs a value"],
    [["--user", "alice", "--ttl", "soon"], 'token: --ttl "soon" is invalid: expected a duration such as 90s, 30m, 1h or 7d'],
  ])("%j", (args, line) => {
    const r = mint(...(args as string[]));
    expect(r).toMatchObject({ code: 1, out: "", err: line });
  });
});

describe("zero-config secret", () => {
  test("is created once with mode 0600, reused on restart, and `sessiond token` output is accepted", async () => {
    const first = await startServer({ env: { JWT_SECRET: "" } });
    const path = join(first.dataDir, "secret");
    expect(existsSync(path)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // The command printed works as it is: it names the DATA_DIR this server was started with.
    const created = JSON.parse(first.logs.find((l) => l.includes("auth.secret_created"))!);
    expect(created.hint).toEndWith(`Mint a token with: DATA_DIR=${first.dataDir} bun src/main.ts token --user alice`);
    const secret = readFileSync(path, "utf8");
    await first.stop();
    const second = await startServer({ dataDir: first.dataDir, env: { JWT_SECRET: "" } });
    try {
      expect(readFileSync(path, "utf8")).toBe(secret);
      expect(second.logs.some((l) => l.includes("auth.secret_created"))).toBe(false);
      const minted = Bun.spawnSync([process.execPath, MAIN, "token", "--user", "alice", "--ttl", "30m", "--room", "team"], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", DATA_DIR: first.dataDir },
      });
      expect(minted.exitCode).toBe(0);
      const t = minted.stdout.toString().trim();
      const c = await WsClient.connect(second.ws, { token: t });
      const joined = await c.request({ type: "join", room: "team" });
      expect(joined.session.ownerId).toBe("alice");
      await c.close();
    } finally {
      await second.stop();
    }
  });
});
