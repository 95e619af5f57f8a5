// What every view of the console is given: the API client, the signed-in identity, the live connections and the
// shared stores, and a way to move to another view.
import type { Api, Me } from "./auth.ts";
import type { EventFeed } from "./feed.ts";
import type { Route } from "./format.ts";
import type { LiveSocket } from "./live.ts";
import type { AlertStore, StatsStore } from "./stores.ts";

export interface Context {
  api: Api;
  me: Me;
  live: LiveSocket;
  feed: EventFeed;
  alerts: AlertStore;
  stats: StatsStore;
  navigate(route: Route): void;
  /** Reads a short sentence to screen-reader users (a polite live region). */
  announce(text: string): void;
}

/** A mounted view: remove it (and its listeners) with the returned function. */
export type View = (root: HTMLElement, ctx: Context) => () => void;

export const isAdmin = (ctx: Context): boolean => ctx.me.role === "admin";
