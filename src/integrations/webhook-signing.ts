// Standard Webhooks signing (pure): the key from a `whsec_` secret, the v1 signature of "id.timestamp.body",
// and the three headers. Receivers verify with the `standardwebhooks` package (docs/webhooks.md).
import { createHmac } from "node:crypto";

const PREFIX = "whsec_";

/**
 * The HMAC key of a WEBHOOK_SECRET: an optional `whsec_` prefix, then standard base64 — read exactly as the
 * receiver's `new Webhook(secret)` reads it, so both sides are configured with the same string.
 * Throws on an empty key (the config schema already refused anything that is not base64).
 */
export function webhookKey(secret: string): Uint8Array {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, "base64");
  if (key.length === 0) throw new Error("the webhook secret decodes to an empty key");
  return new Uint8Array(key);
}

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestampSeconds>.<body>">`. */
export function signWebhook(key: Uint8Array, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64");
  return `v1,${mac}`;
}

export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/**
 * The signed headers of one attempt. `id` stays the same across retries (receivers de-duplicate by it);
 * the timestamp is the attempt's own, so a late retry still passes the receiver's 5-minute tolerance.
 */
export function webhookHeaders(key: Uint8Array, id: string, nowMs: number, body: string): WebhookHeaders {
  const timestamp = Math.floor(nowMs / 1000);
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(key, id, timestamp, body) };
}
