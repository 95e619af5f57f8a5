// Who may open a long-lived connection (WebSocket or SSE): origin, per-address attempt rate, server-wide and
// per-user connection limits. Checked before an upgrade so a refusal costs no socket.
import type { TokenBucketLimiter } from "../auth/token-bucket.ts";
import { clientAddress, type AddressRange } from "../config/address-ranges.ts";
import { SessiondError } from "../protocol/errors.ts";
import type { Hub } from "./hub.ts";

export interface AdmissionOptions {
  /** Exact origins allowed; undefined or "*" allows any. Requests without Origin (non-browser clients) pass. */
  allowedOrigins?: readonly string[] | "*";
  maxConnections: number;
  maxConnectionsPerUser: number;
  /** Proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES); none: the TCP peer is the client. */
  trustedProxies?: readonly AddressRange[];
}

/** What Bun's server tells of a request's TCP peer. */
export interface PeerSource {
  requestIP(req: Request): { address: string } | null;
}

export class Admission {
  constructor(
    private readonly hub: Hub,
    private readonly attempts: TokenBucketLimiter,
    private readonly options: AdmissionOptions,
  ) {}

  /**
   * The address a request's connection attempts and audit entries are counted under: the peer, or behind a
   * trusted proxy the client it forwarded for.
   */
  clientAddress(req: Request, server: PeerSource | undefined): string {
    const peer = server?.requestIP(req)?.address ?? "unknown";
    return clientAddress(peer, req.headers.get("x-forwarded-for"), this.options.trustedProxies ?? []);
  }

  /** Checks done before the token is even read: origin and attempt rate. */
  checkRequest(req: Request, remoteAddress: string, now: number): void {
    const origin = req.headers.get("origin");
    const allowed = this.options.allowedOrigins;
    if (origin !== null && allowed !== undefined && allowed !== "*" && !allowed.includes(origin) && !isSameHost(origin, req)) {
      throw new SessiondError("forbidden", "This origin is not allowed to connect.");
    }
    const retryAfterMs = this.attempts.take(remoteAddress, now);
    if (retryAfterMs > 0) {
      throw new SessiondError("rate_limited", "Too many connection attempts from this address.", retryAfterMs);
    }
  }

  /** Checks that need the caller's identity: server-wide and per-user connection counts. */
  checkCapacity(userId: string): void {
    if (this.hub.size >= this.options.maxConnections) {
      throw new SessiondError("limit_exceeded", "The server is at its connection limit; try again later.", undefined, 503);
    }
    if (this.hub.connectionsOf(userId) >= this.options.maxConnectionsPerUser) {
      throw new SessiondError("limit_exceeded", `This user already has ${this.options.maxConnectionsPerUser} open connections.`);
    }
  }
}

/**
 * A page served by this server itself (the operator console) connecting back to it: its Origin names the host the
 * request was sent to. Always allowed, so ALLOWED_ORIGINS lists only the other sites that may connect.
 */
function isSameHost(origin: string, req: Request): boolean {
  const host = req.headers.get("host");
  if (host === null) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
