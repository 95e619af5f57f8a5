// Pure helpers of the console: routes, labels and classes for sentiment and risk, times, and the chart's geometry.
// No DOM here, so test/console/format.test.ts runs them directly.
import type { RiskLevel } from "../../protocol/analysis.ts";

export type Route =
  | { view: "overview" }
  | { view: "sessions"; status?: string; room?: string }
  | { view: "session"; id: string; seq?: number }
  | { view: "alerts"; status: string }
  | { view: "webhooks"; status?: string };

const SESSION_STATUSES = new Set(["active", "completed", "cancelled", "expired"]);
const ALERT_STATUSES = new Set(["open", "acknowledged", "resolved", "all"]);

/** Reads a location hash such as `#/sessions/abc?seq=4`; anything unknown is the overview. */
export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, "");
  const q = text.indexOf("?");
  const path = (q === -1 ? text : text.slice(0, q)).split("/").filter(Boolean).map(safeDecode);
  const params = new URLSearchParams(q === -1 ? "" : text.slice(q + 1));
  const [first, second] = path;
  if (first === "sessions" && second !== undefined) {
    const seq = Number(params.get("seq"));
    return { view: "session", id: second, ...(Number.isInteger(seq) && seq > 0 && { seq }) };
  }
  if (first === "sessions") {
    const status = params.get("status") ?? "";
    const room = params.get("room") ?? "";
    return { view: "sessions", ...(SESSION_STATUSES.has(status) && { status }), ...(room !== "" && { room }) };
  }
  if (first === "alerts") {
    const status = params.get("status") ?? "open";
    return { view: "alerts", status: ALERT_STATUSES.has(status) ? status : "open" };
  }
  if (first === "webhooks") {
    const status = params.get("status") ?? "";
    return { view: "webhooks", ...(status !== "" && { status }) };
  }
  return { view: "overview" };
}

/** The hash for a route (the inverse of parseRoute). */
export function routeHash(route: Route): string {
  const query = (entries: Record<string, string | number | undefined>) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(entries)) if (v !== undefined && v !== "") p.set(k, String(v));
    const s = p.toString();
    return s ? `?${s}` : "";
  };
  switch (route.view) {
    case "overview":
      return "#/overview";
    case "sessions":
      return `#/sessions${query({ status: route.status, room: route.room })}`;
    case "session":
      return `#/sessions/${encodeURIComponent(route.id)}${query({ seq: route.seq })}`;
    case "alerts":
      return `#/alerts${query({ status: route.status === "open" ? undefined : route.status })}`;
    case "webhooks":
      return `#/webhooks${query({ status: route.status })}`;
  }
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** Sentiment in three bands for colour, always shown with its number too (colour is never the only cue). */
export function sentimentBand(score: number | null | undefined): "positive" | "neutral" | "negative" | "none" {
  if (score === null || score === undefined || !Number.isFinite(score)) return "none";
  if (score >= 0.25) return "positive";
  if (score <= -0.25) return "negative";
  return "neutral";
}

/** `-0.62` as "−0.62", `0.4` as "+0.40", null as "–". */
export function formatSentiment(score: number | null | undefined): string {
  if (score === null || score === undefined || !Number.isFinite(score)) return "–";
  const fixed = Math.abs(score).toFixed(2);
  return score > 0 ? `+${fixed}` : score < 0 ? `−${fixed}` : fixed;
}

const RISK_ORDER: readonly RiskLevel[] = ["none", "low", "medium", "high"];

/** Whether a value is one of the risk levels. */
export function isRiskLevel(value: unknown): value is RiskLevel {
  return typeof value === "string" && (RISK_ORDER as readonly string[]).includes(value);
}

/** The higher of two risk levels; an unknown or missing one counts as nothing. */
export function maxRisk(a: RiskLevel | null | undefined, b: RiskLevel | null | undefined): RiskLevel | null {
  const rank = (r: RiskLevel | null | undefined) => (isRiskLevel(r) ? RISK_ORDER.indexOf(r) : -1);
  const best = rank(a) >= rank(b) ? a : b;
  return isRiskLevel(best) ? best : null;
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago"; future times (clock skew) read "just now". */
export function timeAgo(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "–";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** Whole numbers as-is, fractions with one or two decimals: 12, 3.5, 0.25. */
export function formatRate(n: number): string {
  if (!Number.isFinite(n)) return "0";
  if (Number.isInteger(n)) return String(n);
  return n >= 10 ? n.toFixed(1) : n.toFixed(2).replace(/0$/, "");
}

/** The seconds until a JWT's `exp`, or null when the token has none or cannot be read (the server still decides). */
export function tokenSecondsLeft(token: string, nowMs: number): number | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const payload = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=")));
    return typeof payload.exp === "number" ? Math.round(payload.exp - nowMs / 1000) : null;
  } catch {
    return null;
  }
}

export interface ChartPoint {
  t: number;
  value: number;
}

/**
 * The SVG polyline points for a series in a `width` x `height` box: time runs over the last `windowMs` before
 * `now` (left to right), values from 0 to `max` (bottom to top). Points older than the window are left out.
 */
export function chartPoints(series: readonly ChartPoint[], { now, windowMs, width, height, max }: { now: number; windowMs: number; width: number; height: number; max: number }): string {
  const top = max > 0 ? max : 1;
  return series
    .filter((p) => p.t >= now - windowMs && p.t <= now)
    .map((p) => {
      const x = ((p.t - (now - windowMs)) / windowMs) * width;
      const y = height - (Math.min(p.value, top) / top) * height;
      return `${round1(x)},${round1(y)}`;
    })
    .join(" ");
}

/**
 * How much time the chart shows: the whole window once the samples fill it, and until then only the time the
 * server has been sampling (at least a minute), so a fresh server's first minutes are not a sliver at the edge.
 */
export function chartSpan(firstSampleAt: number | undefined, { now, windowMs, intervalMs }: { now: number; windowMs: number; intervalMs: number }): number {
  if (firstSampleAt === undefined) return windowMs;
  const minute = 60_000;
  const covered = Math.ceil((now - firstSampleAt + intervalMs) / minute) * minute;
  return Math.min(windowMs, Math.max(minute, covered));
}

/** A "nice" ceiling for a chart axis: 1, 2, 5 times a power of ten, at least `floor`. */
export function niceMax(value: number, floor = 1): number {
  const v = Math.max(value, floor);
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 5, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
