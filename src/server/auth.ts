// Who a request is: the authenticator built from the settings (JWT with a configured or stored secret, or
// AUTH_MODE=none for development), with the hints a person needs in the log.
import { Authenticator, ensureStoredSecret, TokenVerifier } from "../auth/index.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../observability/logger.ts";

/** The HS256 secret: configured, or the zero-config one stored in DATA_DIR/secret. */
export function signingSecret(config: Config, logger?: Logger, tokenCommand = "sessiond token --user alice"): string {
  if (config.JWT_SECRET) return config.JWT_SECRET;
  const stored = ensureStoredSecret(config.DATA_DIR);
  if (stored.created) {
    logger?.warn("auth.secret_created", {
      path: stored.path,
      hint: `No JWT_SECRET was set, so a random secret was generated and stored (mode 0600). Mint a token with: ${tokenCommand}`,
    });
  }
  return stored.secret;
}

/** The token command that works for how this server was started: the same DATA_DIR, where the secret is. */
function tokenHint(config: Config, command: string): string {
  const dir = config.DATA_DIR === "./data" ? "" : `DATA_DIR=${/^[\w./:@-]+$/.test(config.DATA_DIR) ? config.DATA_DIR : `'${config.DATA_DIR.replaceAll("'", "'\\''")}'`} `;
  return `${dir}${command} token --user alice`;
}

export function buildAuthenticator(config: Config, logger: Logger, command: string): Authenticator {
  if (config.AUTH_MODE === "none") {
    logger.warn("auth.disabled", {
      warning: "AUTH_MODE=none: anyone can act as any user by passing ?user=<id>. Use this only on a development machine.",
    });
    return new Authenticator("none", null);
  }
  const verifier = new TokenVerifier({
    algorithm: config.JWT_ALGORITHM,
    secret: config.JWT_ALGORITHM === "HS256" ? signingSecret(config, logger, tokenHint(config, command)) : undefined,
    publicKey: config.JWT_PUBLIC_KEY,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  return new Authenticator("jwt", verifier);
}
