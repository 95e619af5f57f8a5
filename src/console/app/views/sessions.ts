// Sessions: a page of sessions (newest first) with status, room, owner, who is present, message count, last
// activity, sentiment and highest risk; filter by status and room; cursor paging, so tens of thousands of sessions
// cost one page at a time. New sessions and activity arrive from the feed and update the rows in place.
import type { SessionInfo } from "../../../protocol/types.ts";
import type { Context } from "../context.ts";
import { h, replace } from "../dom.ts";
import { routeHash, type Route } from "../format.ts";
import { heading, notice, refreshTimes, riskBadge, sentimentChip, statusBadge, when } from "../widgets.ts";

type ConsoleSession = SessionInfo & { present: string[] };
interface Page {
  sessions: ConsoleSession[];
  nextCursor: string | null;
}

const PAGE_SIZE = 50;
const STATUSES = ["", "active", "completed", "cancelled", "expired"];

export function sessionsView(root: HTMLElement, ctx: Context, route: Extract<Route, { view: "sessions" }>): () => void {
  const status = h("select", { id: "filter-status", name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: (route.status ?? "") === s }, s === "" ? "any status" : s)));
  const room = h("input", { id: "filter-room", name: "room", value: route.room ?? "", placeholder: "room key", autocomplete: "off" });
  const filters = h(
    "form",
    {
      class: "filters",
      role: "search",
      "aria-label": "Filter sessions",
      onsubmit: (e: Event) => {
        e.preventDefault();
        ctx.navigate({ view: "sessions", status: status.value || undefined, room: room.value.trim() || undefined });
      },
    },
    h("label", { for: "filter-status" }, "Status"),
    status,
    h("label", { for: "filter-room" }, "Room"),
    room,
    h("button", { type: "submit" }, "Apply"),
    route.status || route.room ? h("a", { href: routeHash({ view: "sessions" }) }, "Clear") : null,
  );
  const body = h("tbody");
  const table = h(
    "table",
    { class: "sessions" },
    h("caption", { class: "visually-hidden" }, "Sessions, newest first"),
    h("thead", {}, h("tr", {}, ["Session", "Status", "Room", "Owner", "Present", "Messages", "Last activity", "Sentiment", "Highest risk"].map((c) => h("th", { scope: "col" }, c)))),
    body,
  );
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const message = h("div");
  replace(root, heading("Sessions"), filters, message, h("div", { class: "table-wrap" }, table), pager);

  const rows = new Map<string, HTMLTableRowElement>();
  const cursors: Array<string | undefined> = [undefined];
  let page: Page | null = null;

  const matches = (s: SessionInfo) => (!route.status || s.status === route.status) && (!route.room || s.room === route.room);

  const row = (s: ConsoleSession): HTMLTableRowElement => {
    const present = s.present.length === 0 ? h("span", { class: "muted" }, "nobody") : h("span", { title: s.present.join(", ") }, `${s.present.length}: ${s.present.slice(0, 3).join(", ")}${s.present.length > 3 ? "…" : ""}`);
    const tr = h(
      "tr",
      { "data-session": s.id },
      h("th", { scope: "row" }, h("a", { href: routeHash({ view: "session", id: s.id }) }, s.id)),
      h("td", {}, statusBadge(s.status)),
      h("td", {}, s.room ?? h("span", { class: "muted" }, "–")),
      h("td", {}, s.ownerId),
      h("td", { class: "present" }, present),
      h("td", { class: "num messages" }, String(s.metrics.messageCount)),
      h("td", {}, when(s.lastActivityAt)),
      h("td", {}, sentimentChip(s.metrics.sentiment)),
      h("td", {}, riskBadge(s.metrics.riskLevel, "")),
    );
    return tr;
  };

  const upsert = (s: ConsoleSession, { prepend }: { prepend: boolean }) => {
    const old = rows.get(s.id);
    const tr = row(s);
    rows.set(s.id, tr);
    if (old) {
      old.replaceWith(tr);
      tr.classList.add("changed");
    } else if (prepend) {
      body.querySelector(".empty")?.remove();
      body.prepend(tr);
      tr.classList.add("arrived");
    }
  };

  const render = () => {
    rows.clear();
    replace(body);
    if (!page) return;
    if (page.sessions.length === 0) body.append(h("tr", { class: "empty" }, h("td", { colspan: 9 }, "No sessions match.")));
    for (const s of page.sessions) {
      const tr = row(s);
      rows.set(s.id, tr);
      body.append(tr);
    }
    const index = cursors.length;
    replace(
      pager,
      h("button", { type: "button", disabled: index <= 1, onclick: () => void (cursors.pop(), load()) }, "← Newer"),
      h("span", { class: "muted" }, `Page ${index}`),
      h("button", { type: "button", disabled: !page.nextCursor, onclick: () => older() }, "Older →"),
    );
  };

  const older = () => {
    if (!page?.nextCursor) return;
    cursors.push(page.nextCursor);
    void load();
  };

  const load = async () => {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (route.status) q.set("status", route.status);
    if (route.room) q.set("room", route.room);
    const cursor = cursors.at(-1);
    if (cursor) q.set("cursor", cursor);
    try {
      page = await ctx.api.get<Page>(`/api/console/sessions?${q}`);
      replace(message);
    } catch (e) {
      replace(message, notice(e instanceof Error ? e.message : "The sessions could not be loaded.", "error"));
      return;
    }
    render();
  };

  let snapshots = 0;
  const offFeed = ctx.feed.on(({ event, data }) => {
    const d = data as { event?: string; session?: ConsoleSession; sessions?: ConsoleSession[] };
    if (event === "snapshot" && snapshots++ > 0) return void load();
    if (event === "sample") return refreshTimes(body);
    if (event === "erased") {
      const id = (data as { session?: string }).session ?? "";
      rows.get(id)?.remove();
      rows.delete(id);
      return;
    }
    if (event === "session" && d.session) {
      const s = d.session;
      if (rows.has(s.id)) upsert(s, { prepend: false });
      else if (d.event === "started" && cursors.length === 1 && matches(s)) {
        upsert(s, { prepend: true });
        ctx.announce(`New session ${s.id}.`);
      }
    }
    if (event === "activity") for (const s of d.sessions ?? []) if (rows.has(s.id)) upsert(s, { prepend: false });
  });
  void load();
  return offFeed;
}
