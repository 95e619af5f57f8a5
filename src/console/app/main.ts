// The console's entry: sign-in, then the navigation, the live connections and the hash router. Each view is a
// function that renders into <main> and returns its cleanup.
import type { Alert } from "../../protocol/analysis.ts";
import { Api, ApiError, forgetCredentials, saveCredentials, savedCredentials, type Credentials, type Me } from "./auth.ts";
import type { Context, View } from "./context.ts";
import { h, replace } from "./dom.ts";
import { EventFeed } from "./feed.ts";
import { parseRoute, routeHash, tokenSecondsLeft, type Route } from "./format.ts";
import { LiveSocket } from "./live.ts";
import { AlertStore, StatsStore } from "./stores.ts";
import { alertsView } from "./views/alerts.ts";
import { overviewView } from "./views/overview.ts";
import { sessionView } from "./views/session.ts";
import { sessionsView } from "./views/sessions.ts";
import { signInView } from "./views/signin.ts";
import { webhooksView } from "./views/webhooks.ts";

const $ = (id: string) => document.getElementById(id)!;
const authMode = document.querySelector<HTMLMetaElement>('meta[name="sessiond-auth-mode"]')?.content === "none" ? "none" : "jwt";

let running: { ctx: Context; stop: () => void } | null = null;

$("skip").addEventListener("click", (e) => {
  e.preventDefault();
  $("main").focus();
});

void boot();

async function boot(): Promise<void> {
  const saved = savedCredentials();
  const credentials: Credentials | null = saved ?? (authMode === "none" ? { mode: "none", user: "console", role: "admin" } : null);
  if (!credentials) return showSignIn();
  const refused = await signIn(credentials);
  if (refused !== null) showSignIn(refused);
}

/** Checks the credentials with the server; starts the console, or returns a sentence saying why not. */
async function signIn(credentials: Credentials): Promise<string | null> {
  const api = new Api(credentials);
  let me: Me;
  try {
    me = await api.get<Me>("/api/console/me");
  } catch (e) {
    return e instanceof ApiError && e.status === 401 ? "The server did not accept this token (wrong, expired or for another server)." : e instanceof Error ? e.message : "Sign-in failed.";
  }
  if (me.role === "user") return "This token is for a user. The console needs an admin or moderator token (`sessiond token --admin` or `--moderator`).";
  saveCredentials(credentials);
  start(api, me);
  return null;
}

function showSignIn(message?: string): void {
  replace($("nav"));
  replace($("who"));
  signInView($("main"), { authMode, message, submit: signIn });
}

function signOut(message?: string): void {
  running?.stop();
  running = null;
  forgetCredentials();
  showSignIn(message);
}

function start(api: Api, me: Me): void {
  const live = new LiveSocket(api);
  const feed = new EventFeed(api);
  const alerts = new AlertStore(api, live);
  const stats = new StatsStore(feed);
  const announcer = $("announcer");
  const ctx: Context = {
    api,
    me,
    live,
    feed,
    alerts,
    stats,
    navigate: (route) => {
      location.hash = routeHash(route);
    },
    announce: (text) => {
      announcer.textContent = "";
      setTimeout(() => (announcer.textContent = text), 50);
    },
  };
  const expired = () => signOut("The server refused the token (it may have expired): sign in again.");
  api.onUnauthorized = expired;
  live.onUnauthorized = expired;
  alerts.onRaised = (alert) => toast(ctx, alert);

  const nav = renderNav(ctx);
  const who = renderWho(ctx);
  let unmount: () => void = () => {};
  const route = () => {
    unmount();
    const r = parseRoute(location.hash);
    highlightNav(nav, r);
    const main = $("main");
    replace(main);
    unmount = pick(r, ctx)(main, ctx);
    main.querySelector<HTMLElement>("h1")?.focus();
  };
  window.addEventListener("hashchange", route);
  const offBadge = alerts.subscribe(() => updateBadge(nav, ctx));
  // The tab stops pulsing once no alert is new any more (checked on each sample, no timer of its own).
  const offPulse = feed.on(({ event }) => event === "sample" && updateBadge(nav, ctx));
  running = {
    ctx,
    stop: () => {
      window.removeEventListener("hashchange", route);
      offBadge();
      offPulse();
      who.stop();
      unmount();
      live.close();
      feed.close();
      replace($("toasts"));
    },
  };
  void alerts.load();
  route();
}

function pick(route: Route, ctx: Context): View {
  switch (route.view) {
    case "overview":
      return overviewView;
    case "sessions":
      return (root, c) => sessionsView(root, c, route);
    case "session":
      return (root, c) => sessionView(root, c, route);
    case "alerts":
      return (root, c) => alertsView(root, c, route);
    case "webhooks":
      return ctx.me.role === "admin" ? (root, c) => webhooksView(root, c, route) : overviewView;
  }
}

const NAV: Array<{ view: Route["view"]; label: string; adminOnly?: boolean }> = [
  { view: "overview", label: "Overview" },
  { view: "sessions", label: "Sessions" },
  { view: "alerts", label: "Alerts" },
  { view: "webhooks", label: "Webhooks", adminOnly: true },
];

function renderNav(ctx: Context): HTMLElement {
  const nav = $("nav");
  const items = NAV.filter((n) => !n.adminOnly || ctx.me.role === "admin").map((n) => {
    const route = (n.view === "alerts" ? { view: "alerts", status: "open" } : { view: n.view }) as Route;
    return h("a", { href: routeHash(route), "data-view": n.view }, n.label, n.view === "alerts" ? h("span", { class: "count", id: "alert-count", hidden: true }) : null);
  });
  replace(nav, h("ul", {}, items.map((a) => h("li", {}, a))));
  return nav;
}

function highlightNav(nav: HTMLElement, route: Route): void {
  const current = route.view === "session" ? "sessions" : route.view;
  for (const a of nav.querySelectorAll<HTMLAnchorElement>("a")) {
    if (a.dataset.view === current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function updateBadge(nav: HTMLElement, ctx: Context): void {
  const badge = nav.querySelector<HTMLElement>("#alert-count");
  if (!badge) return;
  const n = ctx.alerts.open.size;
  badge.hidden = n === 0;
  badge.textContent = String(n);
  badge.setAttribute("aria-label", `${n} open`);
  const anyFresh = ctx.alerts.list().some((a) => ctx.alerts.isFresh(a.id));
  nav.querySelector('a[data-view="alerts"]')?.classList.toggle("pulse", anyFresh);
}

/** The signed-in identity, the connection state and sign-out, in the header. */
function renderWho(ctx: Context): { stop: () => void } {
  const state = h("span", { class: "live-state", role: "status" });
  const show = () => {
    const s = ctx.live.state;
    state.textContent = s === "open" && ctx.feed.connected ? "● live" : s === "closed" ? "○ offline" : "◌ connecting…";
    state.className = `live-state live-${s === "open" && ctx.feed.connected ? "open" : s}`;
  };
  const offLive = ctx.live.onState(show);
  const offFeed = ctx.feed.onState(show);
  show();
  const creds = ctx.api.credentials;
  const left = creds.mode === "jwt" ? tokenSecondsLeft(creds.token, Date.now()) : null;
  replace(
    $("who"),
    state,
    h("span", { class: "identity" }, ctx.me.userId, " ", h("span", { class: `badge role-${ctx.me.role}` }, ctx.me.role)),
    left !== null ? h("span", { class: "muted", title: "Token lifetime left" }, left > 3600 ? `${Math.floor(left / 3600)} h left` : `${Math.max(0, Math.floor(left / 60))} min left`) : null,
    authMode === "none" ? h("span", { class: "badge dev", title: "AUTH_MODE=none: development only" }, "dev mode") : null,
    h("button", { type: "button", class: "quiet", onclick: () => signOut() }, "Sign out"),
  );
  return {
    stop: () => {
      offLive();
      offFeed();
    },
  };
}

const TOAST_MS = 30_000;

/** A sound-free cue for a new alert: a banner until dismissed, opened, or 30 s have passed. */
function toast(ctx: Context, alert: Alert): void {
  const root = $("toasts");
  const close = () => el.remove();
  const el = h(
    "div",
    { class: `toast risk-edge-${alert.risk_level}`, role: "alert" },
    h("strong", {}, `New ${alert.risk_level}-risk alert`),
    ` in session ${alert.session} (message ${alert.seq}, user ${alert.userId}). `,
    h("a", { href: routeHash({ view: "alerts", status: "open" }), onclick: close }, "Open alerts"),
    " · ",
    h("a", { href: routeHash({ view: "session", id: alert.session, seq: alert.seq }), onclick: close }, "Go to the message"),
    h("button", { type: "button", class: "quiet", "aria-label": "Dismiss", onclick: close }, "×"),
  );
  root.prepend(el);
  while (root.children.length > 5) root.lastElementChild?.remove();
  // The banner goes after a while; the alert stays marked new in the lists and the Alerts tab keeps pulsing.
  setTimeout(close, TOAST_MS);
  updateBadge($("nav"), ctx);
}
