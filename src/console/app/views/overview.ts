// Overview: health checks, connections and sessions, the throughput chart, and the open alerts, all kept current
// by the feed's samples and the WebSocket's alert frames.
import { throughputChart } from "../chart.ts";
import type { Context } from "../context.ts";
import { h, replace } from "../dom.ts";
import { chartSpan, formatRate, routeHash } from "../format.ts";
import { heading, notice, refreshTimes, riskBadge, statusBadge, when } from "../widgets.ts";

export function overviewView(root: HTMLElement, ctx: Context): () => void {
  const health = h("section", { class: "card", "aria-labelledby": "h-health" });
  const numbers = h("section", { class: "card numbers", "aria-labelledby": "h-numbers" });
  const chart = h("section", { class: "card wide", "aria-labelledby": "h-chart" });
  const alerts = h("section", { class: "card", "aria-labelledby": "h-alerts" });
  replace(root, heading("Overview"), h("div", { class: "grid" }, health, numbers, alerts, chart));

  const drawStats = () => {
    const { stats, health: report, samples, windowMs } = ctx.stats;
    if (ctx.feed.refused) {
      replace(health, h("h2", { id: "h-health" }, "Health"), notice(ctx.feed.refused, "error"));
      return;
    }
    replace(
      health,
      h("h2", { id: "h-health" }, "Health ", report ? statusBadge(report.status) : null),
      report
        ? h("ul", { class: "checks" }, Object.entries(report.checks).map(([name, ok]) => h("li", { class: ok ? "ok" : "failing" }, h("span", { "aria-hidden": "true" }, ok ? "✓ " : "✗ "), name, h("span", { class: "visually-hidden" }, ok ? ": passing" : ": failing"))))
        : h("p", { class: "muted" }, "Waiting for the server…"),
    );
    const last = samples.at(-1);
    const stat = (label: string, value: number | string | undefined, id: string) => h("div", { class: "stat" }, h("dt", {}, label), h("dd", { id }, value === undefined ? "–" : String(value)));
    replace(
      numbers,
      h("h2", { id: "h-numbers" }, "Now"),
      h(
        "dl",
        {},
        stat("Connections", stats?.connections, "stat-connections"),
        stat("Active sessions", stats?.activeSessions, "stat-active"),
        stat("Subscriptions", stats?.subscriptions, "stat-subscriptions"),
        stat("Users present", stats?.presence, "stat-presence"),
        stat("Messages/s", last ? formatRate(last.messagesPerSecond) : undefined, "stat-mps"),
        stat("Acks/s", last ? formatRate(last.acksPerSecond) : undefined, "stat-aps"),
      ),
    );
    const now = Date.now();
    const span = chartSpan(samples[0]?.t, { now, windowMs, intervalMs: ctx.stats.intervalMs });
    const minutes = Math.round(span / 60_000);
    replace(
      chart,
      h("h2", { id: "h-chart" }, `Messages and acks per second, last ${minutes === 1 ? "minute" : `${minutes} minutes`}`),
      throughputChart(samples, span, now),
      h("p", { class: "legend" }, h("span", { class: "key key-messages" }), "messages received ", h("span", { class: "key key-acks" }), "acks (committed) ", h("span", { class: "muted" }, `· ${samples.length} samples, one every ${Math.round(ctx.stats.intervalMs / 1000)} s`)),
    );
    refreshTimes(alerts);
  };

  const drawAlerts = () => {
    const list = ctx.alerts.list();
    const title = h("h2", { id: "h-alerts" }, "Open alerts ", h("span", { class: "count-big", id: "open-alerts" }, String(list.length)));
    if (ctx.alerts.available === false) return replace(alerts, title, h("p", { class: "muted" }, "This server has no alerts (analysis is not available)."));
    replace(
      alerts,
      title,
      list.length === 0
        ? h("p", { class: "muted" }, "None.")
        : h(
            "ul",
            { class: "alert-list" },
            list.slice(0, 6).map((a) =>
              h(
                "li",
                { class: ctx.alerts.isFresh(a.id) ? "fresh" : "" },
                riskBadge(a.risk_level),
                " ",
                h("a", { href: routeHash({ view: "session", id: a.session, seq: a.seq }) }, `${a.session} #${a.seq}`),
                " ",
                h("span", { class: "muted" }, a.userId, " · "),
                when(a.createdAt),
              ),
            ),
          ),
      list.length > 6 ? h("p", {}, h("a", { href: routeHash({ view: "alerts", status: "open" }) }, `All ${list.length} open alerts`)) : null,
    );
  };

  drawStats();
  drawAlerts();
  const offStats = ctx.stats.subscribe(drawStats);
  const offAlerts = ctx.alerts.subscribe(drawAlerts);
  return () => {
    offStats();
    offAlerts();
  };
}
