// Alerts: crisis alerts by status. Open ones arrive at once over the WebSocket and are marked new (a visual cue, no
// sound); each can be acknowledged or resolved with a note, and links to its message in the session.
import type { Alert } from "../../../protocol/analysis.ts";
import type { Context } from "../context.ts";
import { h, replace } from "../dom.ts";
import { routeHash, type Route } from "../format.ts";
import { heading, notice, refreshTimes, riskBadge, statusBadge, when } from "../widgets.ts";

const STATUSES = ["open", "acknowledged", "resolved", "all"];
const PAGE = 100;

export function alertsView(root: HTMLElement, ctx: Context, route: Extract<Route, { view: "alerts" }>): () => void {
  const select = h("select", { id: "alert-status", onchange: () => ctx.navigate({ view: "alerts", status: select.value }) }, STATUSES.map((s) => h("option", { value: s, selected: s === route.status }, s)));
  const list = h("ul", { class: "alerts", "aria-label": `${route.status} alerts` });
  const message = h("div");
  const more = h("button", { type: "button", hidden: true, onclick: () => void loadPage() }, "Load more");
  replace(root, heading("Alerts"), h("div", { class: "filters" }, h("label", { for: "alert-status" }, "Status"), select), message, list, more);

  const rows = new Map<string, { alert: Alert; el: HTMLElement }>();
  const matches = (a: Alert) => route.status === "all" || a.status === route.status;

  const card = (a: Alert): HTMLElement => {
    const note = h("textarea", { id: `note-${a.id}`, rows: 2, maxlength: 2000 });
    const act = async (action: "acknowledge" | "resolve") => {
      try {
        const text = note.value.trim();
        const updated = await ctx.api.post<Alert>(`/api/alerts/${encodeURIComponent(a.id)}/${action}`, text ? { note: text } : {});
        ctx.alerts.put(updated);
        show(updated);
        ctx.announce(`Alert ${action === "acknowledge" ? "acknowledged" : "resolved"}.`);
      } catch (e) {
        replace(message, notice(e instanceof Error ? e.message : "The alert could not be updated.", "error"));
      }
    };
    const fresh = ctx.alerts.isFresh(a.id) && a.status === "open";
    return h(
      "li",
      { class: `alert-card risk-edge-${a.risk_level}${fresh ? " fresh" : ""}`, "data-alert": a.id },
      h("article", { "aria-label": `${a.risk_level}-risk alert in session ${a.session}` },
        h("header", {}, riskBadge(a.risk_level), " ", statusBadge(a.status), fresh ? h("span", { class: "badge new" }, "new") : null, " ", when(a.createdAt)),
        h("p", {}, h("a", { href: routeHash({ view: "session", id: a.session, seq: a.seq }) }, `Message #${a.seq} in session ${a.session}`), " · user ", h("strong", {}, a.userId)),
        a.triggers.length ? h("p", { class: "triggers" }, "Detected: ", a.triggers.join("; ")) : null,
        h("p", { class: "action-text" }, a.recommended_action),
        a.acknowledgedBy ? h("p", { class: "muted" }, `Acknowledged by ${a.acknowledgedBy} `, when(a.acknowledgedAt)) : null,
        a.resolvedBy ? h("p", { class: "muted" }, `Resolved by ${a.resolvedBy} `, when(a.resolvedAt)) : null,
        a.note ? h("p", { class: "note" }, "Note: ", a.note) : null,
        a.status !== "resolved"
          ? h(
              "div",
              { class: "alert-actions" },
              h("label", { for: `note-${a.id}` }, "Note (optional)"),
              note,
              h("div", { class: "row" },
                a.status === "open" ? h("button", { type: "button", class: "primary", onclick: () => void act("acknowledge") }, "Acknowledge") : null,
                h("button", { type: "button", onclick: () => void act("resolve") }, "Resolve"),
              ),
            )
          : null,
      ),
    );
  };

  /** Adds, updates or (when it left this filter) removes one alert's card. */
  const show = (a: Alert, { prepend = true } = {}) => {
    const old = rows.get(a.id);
    if (!matches(a)) {
      old?.el.remove();
      rows.delete(a.id);
      return empty();
    }
    if (old && sameState(old.alert, a)) return;
    const el = card(a);
    rows.set(a.id, { alert: a, el });
    if (old) old.el.replaceWith(el);
    else if (prepend) list.prepend(el);
    else list.append(el);
    empty();
  };

  const empty = () => {
    list.querySelector(".empty")?.remove();
    if (rows.size === 0) list.append(h("li", { class: "empty muted" }, route.status === "open" ? "No open alerts." : "None."));
  };

  let after: string | number | null = null;
  const loadPage = async () => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (route.status !== "all") q.set("status", route.status);
    if (after !== null) q.set("after", String(after));
    try {
      const page = await ctx.api.get<{ alerts: Alert[]; nextAfter: string | number | null }>(`/api/alerts?${q}`);
      for (const a of page.alerts) show(a, { prepend: false });
      after = page.nextAfter ?? null;
      more.hidden = after === null;
      empty();
    } catch (e) {
      replace(message, notice(e instanceof Error ? e.message : "The alerts could not be loaded.", "error"));
    }
  };

  let offStore = () => {};
  if (route.status === "open") {
    // The store already holds every open alert and follows the WebSocket.
    const sync = () => {
      if (ctx.alerts.available === false) return replace(message, notice("This server has no alerts (analysis is not available).", "info"));
      const open = ctx.alerts.list();
      const ids = new Set(open.map((a) => a.id));
      for (const [id, row] of rows) {
        if (ids.has(id)) continue;
        row.el.remove();
        rows.delete(id);
      }
      for (const a of [...open].reverse()) show(a);
      empty();
    };
    offStore = ctx.alerts.subscribe(sync);
    sync();
  } else {
    void loadPage();
    offStore = ctx.live.onFrame((f) => {
      if (f.type === "alert" || f.type === "alert.updated") show(f.alert);
    });
  }
  const offFeed = ctx.feed.on(({ event }) => {
    if (event !== "sample") return;
    refreshTimes(list);
    // The "new" cue fades once an alert has been on screen for a while.
    for (const [id, row] of rows) {
      if (ctx.alerts.isFresh(id)) continue;
      row.el.classList.remove("fresh");
      row.el.querySelector(".badge.new")?.remove();
    }
  });
  return () => {
    offStore();
    offFeed();
  };
}

function sameState(a: Alert, b: Alert): boolean {
  return a.status === b.status && a.note === b.note && a.acknowledgedAt === b.acknowledgedAt && a.resolvedAt === b.resolvedAt;
}
