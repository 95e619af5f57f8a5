// Reading a token's expiry to refresh it in time (pure). The server verifies tokens; the client only schedules.

/** The `exp` claim of a JWT in epoch milliseconds, or null when the token has none or is not a JWT. */
export function tokenExpiryMs(token: string): number | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "=");
    const claims = JSON.parse(atob(base64)) as { exp?: unknown };
    return typeof claims.exp === "number" && Number.isFinite(claims.exp) ? claims.exp * 1000 : null;
  } catch {
    return null;
  }
}

/** How long to wait before fetching a fresh token: a minute before expiry, or halfway through a shorter lifetime. */
export function refreshDelayMs(expiresAtMs: number, nowMs: number): number {
  const left = expiresAtMs - nowMs;
  return Math.max(0, Math.floor(left - Math.min(60_000, left / 2)));
}
