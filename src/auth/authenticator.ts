// Establishes who is calling: a Bearer token (header, or `token` query parameter where a browser cannot set
// headers), or in AUTH_MODE=none the `user` query parameter (local development only).
import { SessiondError } from "../protocol/errors.ts";
import { principal } from "../sessions/access.ts";
import type { TokenVerifier, VerifiedToken } from "./tokens.ts";

export type AuthMode = "jwt" | "none";

export class Authenticator {
  constructor(
    readonly mode: AuthMode,
    private readonly verifier: TokenVerifier | null,
  ) {
    if (mode === "jwt" && !verifier) throw new Error("jwt mode needs a token verifier");
  }

  /** @param allowQueryToken accept `?token=` (WebSocket upgrades and SSE, where browsers cannot send headers) */
  async fromRequest(req: Request, url: URL, { allowQueryToken }: { allowQueryToken: boolean }): Promise<VerifiedToken> {
    if (this.mode === "none") {
      const user = url.searchParams.get("user");
      if (!user || user.length > 256) throw new SessiondError("unauthorized", "Development mode: pass the user id as the \"user\" query parameter.");
      // Development only: `role=admin|moderator` stands in for a token's role claim.
      const role = url.searchParams.get("role");
      return { principal: principal(user, { role: role === "admin" || role === "moderator" ? role : "user" }), exp: Infinity };
    }
    const header = req.headers.get("authorization");
    let token: string | null = null;
    if (header !== null) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new SessiondError("unauthorized", "The Authorization header must be \"Bearer <token>\".");
      token = m[1]!;
    } else if (allowQueryToken) {
      token = url.searchParams.get("token");
    }
    if (!token) {
      throw new SessiondError(
        "unauthorized",
        allowQueryToken ? "A token is required: send \"Authorization: Bearer <token>\" or the \"token\" query parameter." : "A token is required: send \"Authorization: Bearer <token>\".",
      );
    }
    return this.fromToken(token);
  }

  async fromToken(token: string): Promise<VerifiedToken> {
    if (this.mode === "none") throw new SessiondError("bad_request", "Authentication is off (AUTH_MODE=none); there is no token to refresh.");
    return this.verifier!.verify(token);
  }
}
