// Several nodes in one test process: SessionServices over one shared store, each with its own Fanout, linked by a
// broker that carries every event to every node (the publishing one too) a turn later, as a copy, in publish
// order: what the Redis broker does, without Redis.
import type { Message } from "../../src/protocol/types.ts";
import { Fanout } from "../../src/realtime/fanout.ts";
import { Hub } from "../../src/realtime/hub.ts";
import { relayToBroker, type Broker, type BrokerEvent, type BrokerHandler } from "../../src/sessions/broker.ts";
import { principal, type JoinResult, type ManualClock, type MessageRateLimiter, type SessionEvents, type SessionRules, type SessionService } from "../../src/sessions/index.ts";
import type { PresenceManager } from "../../src/sessions/presence.ts";
import type { AppendResult, SessionStorage, SessionStore } from "../../src/sessions/store.ts";
import { later, serviceOn } from "./service-setup.ts";

/** Brokers of several nodes linked in memory: `broker(nodeId)` is one node's. */
export class LinkedBrokers {
  private readonly handlers: Array<{ nodeId: string; handler: BrokerHandler }> = [];
  private readonly queue: Array<{ event: string; origin: string }> = [];
  private scheduled = false;
  /** Events carried so far. */
  carried = 0;

  broker(nodeId: string): Broker {
    const links = this;
    return {
      nodeId,
      async start(handler) {
        links.handlers.push({ nodeId, handler });
      },
      publish(event) {
        links.publish(event, nodeId);
      },
      async stop() {
        const i = links.handlers.findIndex((h) => h.nodeId === nodeId);
        if (i !== -1) links.handlers.splice(i, 1);
      },
      healthy: () => true,
    };
  }

  /** Resolves once every event published so far (and what they led to) has been delivered. */
  async settled(): Promise<void> {
    for (let quiet = 0; quiet < 3; ) {
      await Bun.sleep(2);
      quiet = this.queue.length === 0 && !this.scheduled ? quiet + 1 : 0;
    }
  }

  private publish(event: BrokerEvent, origin: string): void {
    // Serialized as a wire would: no node holds another's objects.
    this.queue.push({ event: JSON.stringify(event), origin });
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => this.deliverAll(), 0);
  }

  private deliverAll(): void {
    this.scheduled = false;
    for (const { event, origin } of this.queue.splice(0)) {
      this.carried++;
      for (const { handler } of this.handlers) handler.deliver(JSON.parse(event) as BrokerEvent, origin);
    }
  }
}

export interface ClusterNode {
  nodeId: string;
  service: SessionService;
  events: SessionEvents;
  clock: ManualClock;
  fanout: Fanout;
  /** Messages committed through this node (its own `message.committed` events). */
  committed: Message[];
  presence: Array<{ sessionId: string; userId: string; event: "join" | "leave" }>;
}

export interface NodeOptions {
  limiter?: MessageRateLimiter;
  presence?: PresenceManager;
  rules?: Partial<SessionRules>;
}

/** One node over `store`, its events published through `links` and its Fanout hearing every node's. */
export async function clusterNode(nodeId: string, store: SessionStore | SessionStorage, links: LinkedBrokers, options: NodeOptions = {}): Promise<ClusterNode> {
  const { service, clock, events } = serviceOn(store, options.rules, { limiter: options.limiter, presence: options.presence, idPrefix: `${nodeId}-` });
  // No transport here: frames for local subscribers go nowhere (the service's copy is what is under test).
  const fanout = new Fanout(new Hub(), service, {
    slowConsumerBytes: 1 << 20,
    publish: () => 0,
    fill: (id, after, limit) => store.messagesAfter(id, after, limit),
    nodeId,
  });
  const broker = links.broker(nodeId);
  relayToBroker(events, broker);
  await broker.start(fanout);
  const committed: Message[] = [];
  events.on("message.committed", ({ message }) => committed.push(message));
  const presence: ClusterNode["presence"] = [];
  events.on("presence.changed", (e) => presence.push(e));
  return { nodeId, service, events, clock, fanout, committed, presence };
}

/** joinStored as a promise. */
export const join = (service: SessionService, userId: string, session: string, options = {}) =>
  new Promise<JoinResult>((resolve, reject) => service.joinStored(principal(userId), { session }, options, (e, r) => (e ? reject(e) : resolve(r!))));

/** An append as a promise: refusals thrown at once and those told later alike reject. */
export const post = (service: SessionService, userId: string, session: string, content: string, clientMsgId?: string) =>
  new Promise<AppendResult>((resolve, reject) => service.append(principal(userId), session, { content, clientMsgId }, (e, r) => (e ? reject(e) : resolve(r!))));

export { later };
