// Webhooks (admin): the configured endpoints with their state (a 410 disables one), and recent deliveries by status
// with failures and dead letters to replay. Live: each feed sample carries the delivery counts, and a change in
// them reloads what is shown.
import type { Context } from "../context.ts";
import { h, replace } from "../dom.ts";
import { routeHash, type Route } from "../format.ts";
import { heading, notice, refreshTimes, statusBadge, when } from "../widgets.ts";

interface Endpoint {
  id: string;
  index: number;
  url: string;
  state: "active" | "disabled";
  disabledAt?: string;
  disabledReason?: string;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  lastStatus?: number;
  lastError?: string;
  deliveries: Record<"pending" | "delivered" | "failed" | "dead", number>;
}

interface Delivery {
  id: number;
  eventId: string;
  type: string;
  session: string;
  endpoint: string;
  endpointIndex: number | null;
  status: "pending" | "delivered" | "failed" | "dead";
  attempts: number;
  createdAt: string;
  nextAttemptAt?: string;
  lastAttemptAt?: string;
  lastStatus?: number;
  lastError?: string;
  deliveredAt?: string;
}

const STATUSES = ["", "failed", "dead", "pending", "delivered"];
const PAGE = 50;

export function webhooksView(root: HTMLElement, ctx: Context, route: Extract<Route, { view: "webhooks" }>): () => void {
  const message = h("div");
  const endpoints = h("section", { class: "card wide", "aria-labelledby": "h-endpoints" });
  const filter = h("select", { id: "delivery-status", onchange: () => ctx.navigate({ view: "webhooks", status: filter.value || undefined }) }, STATUSES.map((s) => h("option", { value: s, selected: (route.status ?? "") === s }, s === "" ? "all" : s === "dead" ? "dead letters" : s)));
  const body = h("tbody");
  const pager = h("nav", { class: "pager", "aria-label": "Delivery pages" });
  const deliveries = h(
    "section",
    { class: "card wide", "aria-labelledby": "h-deliveries" },
    h("h2", { id: "h-deliveries" }, "Recent deliveries"),
    h("div", { class: "filters" }, h("label", { for: "delivery-status" }, "Status"), filter),
    h("div", { class: "table-wrap" }, h("table", {}, h("caption", { class: "visually-hidden" }, "Webhook deliveries, newest first"), h("thead", {}, h("tr", {}, ["Delivery", "Event", "Session", "Endpoint", "Status", "Attempts", "Created", "Last attempt", ""].map((c) => h("th", { scope: "col" }, c)))), body)),
    pager,
  );
  replace(root, heading("Webhooks"), message, h("div", { class: "grid" }, endpoints, deliveries));

  const cursors: Array<string | undefined> = [undefined];
  const say = (text: string, kind: "error" | "info" = "info") => replace(message, notice(text, kind));

  const loadEndpoints = async () => {
    try {
      const r = await ctx.api.get<{ enabled: boolean; endpoints: Endpoint[] }>("/api/admin/webhooks/endpoints");
      replace(
        endpoints,
        h("h2", { id: "h-endpoints" }, "Endpoints"),
        !r.enabled
          ? h("p", { class: "muted" }, "Webhooks are off: set WEBHOOK_URLS and WEBHOOK_SECRET and restart. Deliveries recorded earlier are still listed below.")
          : h(
              "div",
              { class: "table-wrap" },
              h(
                "table",
                {},
                h("caption", { class: "visually-hidden" }, "Webhook endpoints"),
                h("thead", {}, h("tr", {}, ["#", "URL", "State", "Last success", "Last failure", "Pending", "Failed", "Dead", "Delivered", ""].map((c) => h("th", { scope: "col" }, c)))),
                h(
                  "tbody",
                  {},
                  r.endpoints.map((ep) =>
                    h(
                      "tr",
                      { "data-endpoint": ep.id },
                      h("td", {}, String(ep.index + 1)),
                      h("th", { scope: "row" }, h("code", {}, ep.url)),
                      h("td", {}, statusBadge(ep.state), ep.disabledReason ? h("span", { class: "muted" }, ` ${ep.disabledReason}`) : null),
                      h("td", {}, when(ep.lastSuccessAt)),
                      h("td", {}, when(ep.lastFailureAt), ep.lastError ? h("span", { class: "muted" }, ` ${ep.lastError}${ep.lastStatus ? ` (${ep.lastStatus})` : ""}`) : null),
                      ...(["pending", "failed", "dead", "delivered"] as const).map((k) => h("td", { class: "num" }, String(ep.deliveries[k]))),
                      h("td", {}, ep.state === "disabled" ? h("button", { type: "button", onclick: () => void enable(ep) }, "Enable") : null),
                    ),
                  ),
                ),
              ),
            ),
      );
    } catch (e) {
      replace(endpoints, h("h2", { id: "h-endpoints" }, "Endpoints"), notice(e instanceof Error ? e.message : "The endpoints could not be loaded.", "error"));
    }
  };

  const loadDeliveries = async () => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (route.status) q.set("status", route.status);
    const cursor = cursors.at(-1);
    if (cursor) q.set("cursor", cursor);
    let page: { deliveries: Delivery[]; nextCursor: string | null };
    try {
      page = await ctx.api.get(`/api/admin/webhooks/deliveries?${q}`);
    } catch (e) {
      return say(e instanceof Error ? e.message : "The deliveries could not be loaded.", "error");
    }
    replace(body, page.deliveries.length === 0 ? h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No deliveries.")) : page.deliveries.map(row));
    replace(
      pager,
      h("button", { type: "button", disabled: cursors.length <= 1, onclick: () => void (cursors.pop(), loadDeliveries()) }, "← Newer"),
      h("span", { class: "muted" }, `Page ${cursors.length}`),
      h("button", { type: "button", disabled: !page.nextCursor, onclick: () => void (page.nextCursor && cursors.push(page.nextCursor), loadDeliveries()) }, "Older →"),
    );
  };

  const row = (d: Delivery) =>
    h(
      "tr",
      { "data-delivery": String(d.id) },
      h("th", { scope: "row" }, String(d.id)),
      h("td", {}, d.type),
      h("td", {}, h("a", { href: routeHash({ view: "session", id: d.session }) }, d.session)),
      h("td", {}, d.endpointIndex === null ? "(removed)" : `#${d.endpointIndex + 1}`),
      h("td", {}, statusBadge(d.status === "dead" ? "dead" : d.status)),
      h("td", { class: "num" }, String(d.attempts)),
      h("td", {}, when(d.createdAt)),
      h("td", {}, when(d.lastAttemptAt), d.lastError ? h("span", { class: "muted" }, ` ${d.lastError}${d.lastStatus ? ` (${d.lastStatus})` : ""}`) : d.lastStatus ? h("span", { class: "muted" }, ` ${d.lastStatus}`) : null),
      h("td", {}, d.status === "dead" || d.status === "failed" ? h("button", { type: "button", "aria-label": `Replay delivery ${d.id}`, onclick: () => void replay(d) }, "Replay") : null),
    );

  const replay = async (d: Delivery) => {
    try {
      await ctx.api.post(`/api/admin/webhooks/deliveries/${d.id}/replay`);
      say(`Delivery ${d.id} was queued again with the same webhook-id.`);
      await Promise.all([loadEndpoints(), loadDeliveries()]);
    } catch (e) {
      say(e instanceof Error ? e.message : "The delivery could not be replayed.", "error");
    }
  };

  const enable = async (ep: Endpoint) => {
    try {
      await ctx.api.post(`/api/admin/webhooks/endpoints/${ep.id}/enable`);
      say(`Endpoint #${ep.index + 1} is enabled again.`);
      await loadEndpoints();
    } catch (e) {
      say(e instanceof Error ? e.message : "The endpoint could not be enabled.", "error");
    }
  };

  let lastSummary = "";
  const offFeed = ctx.feed.on(({ event, data }) => {
    if (event !== "sample" && event !== "snapshot") return;
    refreshTimes(root);
    const summary = JSON.stringify((data as { webhooks?: unknown }).webhooks ?? null);
    if (summary === lastSummary) return;
    const first = lastSummary === "";
    lastSummary = summary;
    // The counts moved: something was delivered, failed or dead-lettered. Reload what is on screen.
    if (!first) void Promise.all([loadEndpoints(), cursors.length === 1 ? loadDeliveries() : null]);
  });
  void loadEndpoints();
  void loadDeliveries();
  return offFeed;
}
