// Session: the transcript growing live (joined over the console's WebSocket as staff), who is present, the
// session's metrics and configuration, who read it from outside (the audit trail, admin), and the actions the
// signed-in role may take: export (json, markdown, yaml), end and remove a user (admin).
import type { Message, SessionInfo } from "../../../protocol/types.ts";
import { ApiError } from "../auth.ts";
import { isAdmin, type Context } from "../context.ts";
import { h, replace } from "../dom.ts";
import { maxRisk, type Route } from "../format.ts";
import { heading, notice, refreshTimes, riskBadge, sentimentChip, statusBadge, when } from "../widgets.ts";
import { Transcript } from "./transcript.ts";

const EARLIER_PAGE = 200;

export function sessionView(root: HTMLElement, ctx: Context, route: Extract<Route, { view: "session" }>): () => void {
  const id = route.id;
  const status = h("div", { class: "session-notice" });
  const summary = h("section", { class: "card", "aria-labelledby": "h-summary" });
  const actions = h("section", { class: "card actions", "aria-labelledby": "h-actions" });
  const presence = h("section", { class: "card", "aria-labelledby": "h-presence" });
  const config = h("section", { class: "card", "aria-labelledby": "h-config" });
  const readers = h("section", { class: "card", "aria-labelledby": "h-readers" });
  const transcript = new Transcript();
  const earlier = h("button", { type: "button", class: "quiet", hidden: true, onclick: () => void loadEarlier() }, "Load earlier messages");
  // Scrollable on its own (and focusable, so the keyboard can scroll it); stays at the bottom while you are there.
  const scroller = h("div", { class: "transcript-scroll", tabindex: 0, role: "region", "aria-label": "Messages" }, earlier, transcript.el, transcript.streamsEl);
  const conversation = h("section", { class: "card conversation", "aria-labelledby": "h-transcript" }, h("h2", { id: "h-transcript" }, "Transcript"), scroller);
  const follow = (change: () => void) => {
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    change();
    if (atBottom) scroller.scrollTop = scroller.scrollHeight;
  };
  const title = heading(`Session ${id}`);
  replace(root, h("p", { class: "crumbs" }, h("a", { href: "#/sessions" }, "← Sessions")), title, status, h("div", { class: "session-layout" }, conversation, h("div", { class: "side" }, summary, actions, presence, readers, config)));

  let session: SessionInfo | null = null;
  let present: string[] = [];
  let targetShown = false;
  let actionsFor: string | null = null;
  const say = (text: string, kind: "error" | "info" = "info") => replace(status, notice(text, kind));

  const drawSummary = () => {
    if (!session) return;
    const s = session;
    const m = s.metrics;
    replace(title, `Session ${id} `, statusBadge(s.status));
    replace(
      summary,
      h("h2", { id: "h-summary" }, "Summary"),
      h(
        "dl",
        { class: "facts" },
        fact("Room", s.room ?? "–"),
        fact("Owner", s.ownerId),
        fact("Mode", s.mode),
        fact("Started", when(s.startedAt)),
        fact("Last activity", when(s.lastActivityAt)),
        s.endedAt ? fact("Ended", when(s.endedAt)) : null,
        fact("Messages", String(m.messageCount)),
        fact("Participants", String(m.participantCount)),
        fact("Sentiment (mean)", sentimentChip(m.sentiment)),
        fact("Highest risk", riskBadge(m.riskLevel)),
        m.assistantMessages ? fact("Assistant replies", String(m.assistantMessages)) : null,
      ),
    );
    replace(
      config,
      h("h2", { id: "h-config" }, "Configuration"),
      h(
        "dl",
        { class: "facts" },
        fact("Access", s.access),
        fact("Members", s.members.length ? s.members.join(", ") : "–"),
        s.analysis ? fact("Analysis", `${s.analysis.enabled ? "on" : "off"}, shared with ${s.analysis.share}`) : null,
        s.assistant ? fact("Assistant", s.assistant.enabled ? `on as @${s.assistant.name} (${s.assistant.trigger}${s.assistant.model ? `, ${s.assistant.model}` : ""})` : "off") : null,
        s.endOnDisconnect ? fact("End on disconnect", s.endOnDisconnect.enabled ? `after ${s.endOnDisconnect.graceSeconds} s` : "off") : null,
      ),
      h("h3", {}, "config"),
      h("pre", { class: "config" }, JSON.stringify(s.config, null, 2)),
    );
    // The actions depend only on the status: redrawn when it changes, so a chosen format or an open confirm stays.
    if (actionsFor !== s.status) {
      actionsFor = s.status;
      drawActions();
    }
  };

  const drawPresence = () => {
    const admin = isAdmin(ctx) && session?.status === "active";
    replace(
      presence,
      h("h2", { id: "h-presence" }, `Present (${present.length})`),
      present.length === 0
        ? h("p", { class: "muted" }, "Nobody is connected.")
        : h(
            "ul",
            { class: "presence" },
            present.map((user) =>
              h(
                "li",
                {},
                user,
                user === ctx.me.userId ? h("span", { class: "muted" }, " (you)") : null,
                admin && user !== ctx.me.userId ? h("button", { type: "button", class: "quiet danger", "aria-label": `Remove ${user} from this session`, onclick: () => void kick(user) }, "Remove") : null,
              ),
            ),
          ),
    );
  };

  const drawActions = () => {
    const format = h("select", { id: "export-format" }, h("option", { value: "json" }, "JSON"), h("option", { value: "markdown" }, "Markdown"), h("option", { value: "yaml" }, "YAML"));
    const canEnd = isAdmin(ctx) && session?.status === "active";
    const endStatus = h("select", { id: "end-status" }, h("option", { value: "completed" }, "completed"), h("option", { value: "cancelled" }, "cancelled"));
    const confirm = h("div", { class: "confirm", hidden: true }, h("label", { for: "end-status" }, "End as"), endStatus, h("button", { type: "button", class: "danger", onclick: () => void end(endStatus.value) }, "End now"), h("button", { type: "button", class: "quiet", onclick: () => ((confirm.hidden = true), endButton.focus()) }, "Keep it"));
    const endButton = h("button", { type: "button", onclick: () => ((confirm.hidden = false), endStatus.focus()) }, "End session…");
    replace(
      actions,
      h("h2", { id: "h-actions" }, "Actions"),
      h("div", { class: "row" }, h("label", { for: "export-format" }, "Export as"), format, h("button", { type: "button", id: "export", onclick: () => void download(format.value) }, "Download transcript")),
      canEnd ? h("div", { class: "row" }, endButton, confirm) : null,
      !isAdmin(ctx) ? h("p", { class: "hint" }, "Ending a session and removing users need an admin token.") : null,
    );
  };

  // Who read this: the audit trail's reads and exports of this session by people outside it, one line a reader.
  const drawReaders = async () => {
    const title = h("h2", { id: "h-readers" }, "Who read this");
    if (!isAdmin(ctx)) return replace(readers, title, h("p", { class: "hint" }, "The audit trail needs an admin token."));
    const byReader = new Map<string, { role: string; count: number; via: Set<string>; last: string }>();
    try {
      let after: number | null = 0;
      for (let page = 0; after !== null && page < READER_PAGES; page++) {
        const res: { entries: ReadEntry[]; nextAfter: number | null } = await ctx.api.get(`/api/admin/audit?session=${encodeURIComponent(id)}&after=${after}&limit=1000`);
        for (const e of res.entries) {
          if (e.action !== "session.read" && e.action !== "session.export") continue;
          const r = byReader.get(e.actorId) ?? { role: e.actorRole, count: 0, via: new Set<string>(), last: e.at };
          r.count++;
          r.via.add(String(e.detail?.via ?? e.action));
          r.last = e.at;
          byReader.set(e.actorId, r);
        }
        after = res.nextAfter;
      }
    } catch (e) {
      return replace(readers, title, notice(e instanceof Error ? e.message : "The audit trail could not be read.", "error"));
    }
    const refresh = h("button", { type: "button", class: "quiet", onclick: () => void drawReaders() }, "Refresh");
    replace(
      readers,
      title,
      byReader.size === 0
        ? h("p", { class: "muted" }, "Nobody outside the session has read it.")
        : h(
            "ul",
            { class: "readers" },
            [...byReader].map(([who, r]) => h("li", {}, h("strong", {}, who), ` (${r.role}) · ${r.count} read${r.count === 1 ? "" : "s"}: ${[...r.via].join(", ")} · last `, when(r.last))),
          ),
      refresh,
    );
  };

  const download = async (format: string) => {
    try {
      const res = await ctx.api.raw("GET", `/api/sessions/${encodeURIComponent(id)}/export?format=${format}`);
      const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? `session-${id}.${format}`;
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      say(`Downloaded ${name}.`);
    } catch (e) {
      say(e instanceof Error ? e.message : "The export failed.", "error");
    }
  };

  const end = async (how: string) => {
    try {
      session = await ctx.api.post<SessionInfo>(`/api/sessions/${encodeURIComponent(id)}/end`, { status: how });
      say(`The session was ended as ${how}.`);
      drawSummary();
      drawPresence();
    } catch (e) {
      say(e instanceof Error ? e.message : "The session could not be ended.", "error");
    }
  };

  const kick = async (user: string) => {
    try {
      const r = await ctx.api.post<{ connections: number }>(`/api/admin/sessions/${encodeURIComponent(id)}/kick`, { userId: user });
      say(r.connections > 0 ? `Removed ${user} (${r.connections} connection${r.connections === 1 ? "" : "s"} closed). They can join again while they have access.` : `${user} had no open connection to this session.`);
    } catch (e) {
      say(e instanceof Error ? e.message : "The user could not be removed.", "error");
    }
  };

  const loadEarlier = async (until?: number) => {
    for (;;) {
      const first = transcript.firstSeq;
      if (first === null || first <= 1) break;
      const after = Math.max(0, first - 1 - EARLIER_PAGE);
      try {
        const page = await ctx.api.get<{ messages: Message[] }>(`/api/sessions/${encodeURIComponent(id)}/messages?after=${after}&limit=${first - 1 - after}`);
        transcript.add(page.messages);
      } catch (e) {
        say(e instanceof Error ? e.message : "Earlier messages could not be loaded.", "error");
        break;
      }
      if (until === undefined || (transcript.firstSeq ?? 0) <= until) break;
    }
    earlier.hidden = (transcript.firstSeq ?? 1) <= 1;
  };

  const showTarget = async () => {
    if (targetShown || route.seq === undefined) return;
    targetShown = true;
    if ((transcript.firstSeq ?? 0) > route.seq) await loadEarlier(route.seq);
    const el = transcript.element(route.seq);
    if (!el) return say(`Message ${route.seq} is not in this session.`, "error");
    el.classList.add("target");
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
  };

  const offFrames = ctx.live.onFrame((f) => {
    if (!("session" in f)) return;
    const sid = typeof f.session === "string" ? f.session : f.session?.id;
    if (sid !== id) return;
    switch (f.type) {
      case "message":
        follow(() => transcript.add([f.message]));
        if (session) {
          session = { ...session, lastActivityAt: f.message.createdAt, metrics: { ...session.metrics, messageCount: Math.max(session.metrics.messageCount, f.message.seq) } };
          drawSummary();
        }
        return;
      case "analysis":
        transcript.analysed(f.seq, f.analysis);
        // The exact mean sentiment follows in the feed's next activity event; the highest risk can rise now.
        if (session) {
          session = { ...session, metrics: { ...session.metrics, riskLevel: maxRisk(session.metrics.riskLevel, f.analysis.crisis?.risk_level) } };
          drawSummary();
        }
        return;
      case "presence":
        present = f.event === "join" ? [...new Set([...present, f.userId])] : present.filter((u) => u !== f.userId);
        return drawPresence();
      case "session":
        session = f.session;
        return drawSummary();
      case "session.status":
        if (session) session = { ...session, status: f.status as SessionInfo["status"] };
        present = [];
        say(`The session has ended (${f.status}); it is read-only now.`);
        drawSummary();
        return drawPresence();
      case "stream.start":
        return follow(() => transcript.startStream(f.stream));
      case "stream.delta":
        return follow(() => transcript.delta(f.stream, f.offset, f.text, f.part));
      case "stream.end":
        return transcript.endStream(f.stream, f.status, f.seq);
      case "error":
        if (f.ref === undefined) say(f.message, "error");
        return;
    }
  });
  const offFeed = ctx.feed.on(({ event, data }) => {
    if (event === "sample") return refreshTimes(root);
    // The feed carries the session's server-side state (metrics included) after activity and changes.
    const d = data as { session?: SessionInfo; sessions?: SessionInfo[] };
    const fresh = event === "activity" ? d.sessions?.find((s) => s.id === id) : event === "session" && d.session?.id === id ? d.session : undefined;
    if (fresh && session) {
      session = { ...session, ...fresh, status: session.status === "active" ? fresh.status : session.status };
      drawSummary();
    }
  });

  let unfollow: () => void = () => {};
  void (async () => {
    try {
      session = await ctx.api.get<SessionInfo>(`/api/sessions/${encodeURIComponent(id)}`);
    } catch (e) {
      say(e instanceof ApiError && e.status === 404 ? "There is no such session." : e instanceof Error ? e.message : "The session could not be loaded.", "error");
      return;
    }
    drawSummary();
    drawPresence();
    void drawReaders();
    // Joined only once it is known to exist: joining an unknown id would open a new session.
    unfollow = ctx.live.follow(id, {
      onJoined: (frame, resumed) => {
        session = frame.session;
        present = frame.participants;
        follow(() => {
          if (resumed) transcript.add(frame.messages);
          else transcript.reset(frame.messages);
          if (frame.streams) transcript.snapshot(frame.streams);
        });
        if (!resumed && route.seq === undefined) scroller.scrollTop = scroller.scrollHeight;
        earlier.hidden = (transcript.firstSeq ?? 1) <= 1;
        drawSummary();
        drawPresence();
        void showTarget();
      },
      onError: (_code, message) => say(message, "error"),
    });
  })();

  return () => {
    offFrames();
    offFeed();
    unfollow();
  };
}

function fact(label: string, value: string | Node): HTMLElement[] {
  return [h("dt", {}, label), h("dd", {}, value)];
}

/** Pages of 1,000 audit entries read for the "who read this" list. */
const READER_PAGES = 10;

interface ReadEntry {
  at: string;
  actorId: string;
  actorRole: string;
  action: string;
  detail: Record<string, string | number | boolean> | null;
}
