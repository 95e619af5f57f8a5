// Assembles the operator console for the server: the stats sampler fed by the metrics counters, the live feed,
// the page routes and the data routes. node.ts calls `createConsole` when CONSOLE_ENABLED is on.
import type { Hono } from "hono";
import type { AuthMode } from "../auth/authenticator.ts";
import { loadConsole } from "../console/assets.ts";
import type { Logger } from "../observability/logger.ts";
import { errorFields } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { StatsSampler } from "../observability/stats-ring.ts";
import type { WebhookAdmin } from "../integrations/webhook-admin.ts";
import type { Hub } from "../realtime/hub.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import type { ConsoleApiDeps } from "./console-api.ts";
import { ConsoleFeed } from "./console-feed.ts";
import { mountConsole } from "./console.ts";
import { healthReport, type HealthProbe } from "./health.ts";

export interface ConsoleDeps {
  events: SessionEvents;
  service: SessionService;
  metrics: Metrics;
  hub: Hub;
  health: HealthProbe;
  logger: Logger;
  authMode: AuthMode;
  /** STATS_SAMPLE_SECONDS, in ms. */
  sampleIntervalMs: number;
  /** The webhook view; its delivery counts go to admin consoles with each sample, so the Webhooks view is live. */
  webhooks?: WebhookAdmin;
}

export interface OperatorConsole {
  /** Starts the sampler and the feed after listen; stops them (closing console streams) at shutdown. */
  subscriber: Subscriber;
  /** The page and its assets at /console. */
  mount(app: Hono): void;
  /** For mountApi: the /api/console/* routes and the admin kick. */
  api: ConsoleApiDeps;
}

export function createConsole({ events, service, metrics, hub, health, logger, authMode, sampleIntervalMs, webhooks }: ConsoleDeps): OperatorConsole {
  const sampler = new StatsSampler({
    source: {
      messagesReceived: () => metrics.messagesReceived.total(),
      messagesAcked: () => metrics.messagesAcked.total(),
      connections: () => hub.size,
      activeSessions: () => metrics.activeSessions(),
    },
    intervalMs: sampleIntervalMs,
    onListenerError: (e) => logger.error("internal.error", { where: "console.sample", ...errorFields(e) }),
  });
  const feed = new ConsoleFeed({
    events,
    service,
    sampler,
    stats: () => ({ connections: hub.size, subscriptions: hub.subscriptions, presence: service.presence.size, activeSessions: metrics.activeSessions() }),
    health: () => healthReport(health),
    adminExtras: webhooks ? () => ({ webhooks: webhookSummary(webhooks) }) : undefined,
  });
  return {
    subscriber: {
      name: "console",
      start: () => {
        sampler.start();
        feed.start();
      },
      stop: async () => {
        feed.stop();
        sampler.stop();
      },
    },
    mount: (app) => mountConsole(app, { load: () => loadConsole(), authMode, logger }),
    api: { feed, hub, authMode, logger },
  };
}

/** Delivery counts over every endpoint, and how many endpoints are configured and disabled (one GROUP BY). */
export function webhookSummary(webhooks: WebhookAdmin): { endpoints: number; disabled: number; pending: number; delivered: number; failed: number; dead: number } {
  const sum = { endpoints: 0, disabled: 0, pending: 0, delivered: 0, failed: 0, dead: 0 };
  for (const ep of webhooks.endpointsNow()) {
    sum.endpoints++;
    if (ep.state === "disabled") sum.disabled++;
    for (const k of ["pending", "delivered", "failed", "dead"] as const) sum[k] += ep.deliveries[k];
  }
  return sum;
}
