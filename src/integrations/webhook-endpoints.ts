// Webhook endpoints as configured (pure): a stable id per URL, the URL as it may be shown (no credentials, no
// query values), and how a request to it is addressed (credentials in the URL become a Basic header).
import { createHash } from "node:crypto";

export interface WebhookEndpoint {
  /** "ep_" and 16 hex characters of the URL's SHA-256: stable across restarts, reveals nothing of the URL. */
  id: string;
  /** Position in WEBHOOK_URLS, from 0 (what log lines name). */
  index: number;
  /** The URL without user info and with query values masked, for the admin API and the console. */
  displayUrl: string;
  /** host[:port], for log lines. */
  host: string;
  /** Where the request goes: the URL without its user info. */
  requestUrl: string;
  /** "Basic …" when the URL carried user info, else null. */
  authorization: string | null;
}

/** The endpoints of WEBHOOK_URLS, in order. */
export function webhookEndpoints(urls: readonly string[]): WebhookEndpoint[] {
  return urls.map((url, index) => {
    const u = new URL(url);
    const authorization =
      u.username !== "" || u.password !== ""
        ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`
        : null;
    u.username = "";
    u.password = "";
    return {
      id: `ep_${createHash("sha256").update(url).digest("hex").slice(0, 16)}`,
      index,
      displayUrl: displayUrl(u),
      host: u.host,
      requestUrl: u.toString(),
      authorization,
    };
  });
}

/** Origin and path; each query parameter's value replaced by "…" (a query often carries a key). */
function displayUrl(u: URL): string {
  const names = [...new URLSearchParams(u.search).keys()];
  const query = names.length > 0 ? `?${names.map((n) => `${encodeURIComponent(n)}=…`).join("&")}` : "";
  return `${u.protocol}//${u.host}${u.pathname}${query}`;
}
