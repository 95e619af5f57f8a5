// Small pieces shared by the views: badges for status, sentiment and risk (each says in words what its colour
// shows), a time that reads "5 min ago" with the exact time on hover, and a notice line.
import type { RiskLevel } from "../../protocol/analysis.ts";
import { h } from "./dom.ts";
import { formatSentiment, isRiskLevel, sentimentBand, timeAgo } from "./format.ts";

export function statusBadge(status: string): HTMLElement {
  return h("span", { class: `badge status-${status}` }, status);
}

export function riskBadge(level: RiskLevel | null | undefined, prefix = "risk"): HTMLElement {
  if (!isRiskLevel(level)) return h("span", { class: "badge risk-unknown" }, "–");
  return h("span", { class: `badge risk-${level}`, title: `crisis risk: ${level}` }, `${prefix} ${level}`);
}

export function sentimentChip(score: number | null | undefined): HTMLElement {
  const band = sentimentBand(score);
  return h("span", { class: `badge sentiment-${band}`, title: band === "none" ? "not analysed yet" : `sentiment: ${band}` }, formatSentiment(score));
}

export function when(iso: string | undefined): HTMLElement {
  if (!iso) return h("span", {}, "–");
  const el = h("time", { datetime: iso, title: new Date(iso).toLocaleString() }, timeAgo(iso, Date.now()));
  el.dataset.ago = "";
  return el;
}

/** Re-reads every "… ago" under `root` (called on each feed sample, so no timer of its own). */
export function refreshTimes(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLTimeElement>("time[data-ago]")) el.textContent = timeAgo(el.dateTime, Date.now());
}

/** A line that tells what happened; `role=alert` for errors so screen readers hear them at once. */
export function notice(text: string, kind: "error" | "info" = "info"): HTMLElement {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** The view's heading, focusable so a route change can move focus to it. */
export function heading(text: string, ...extra: Array<Node | string>): HTMLElement {
  return h("h1", { tabindex: -1 }, text, ...extra);
}
