// The broker for several nodes: events as JSON on one Redis pub/sub channel. Every node, the publishing one
// included, hears each event from Redis, so all of them see one order. One publishing connection (pipelined) keeps
// each node's events in its publish order; a dedicated subscribing connection carries what every node publishes.
import type { Broker, BrokerEvent, BrokerHandler } from "../sessions/broker.ts";
import { closeRedis, connectRedis, openRedis, type Redis } from "./connection.ts";

export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** This node's id, carried as `origin`; unique per process. @default a random UUID */
  nodeId?: string;
  /** The pub/sub channel every node of one cluster shares. @default "sessiond:events" */
  channel?: string;
  /** Largest pause between reconnect attempts, in ms. @default 1000 */
  maxBackoffMs?: number;
  /** How long `start` waits for Redis before it fails with `unavailable`, in ms. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * Told about link problems: the first failed publish of a run of failures (the rest are only counted), a lost
   * or restored subscription, an event that could not be read, a handler that threw. Never carries event content.
   */
  onError?: (what: RedisBrokerProblem, error: Error) => void;
}

export type RedisBrokerProblem = "publish" | "connection" | "subscribe" | "malformed" | "handler";

/** What goes on the wire: the publishing node and the event. */
interface Envelope {
  o: string;
  e: BrokerEvent;
}

export class RedisBroker implements Broker {
  readonly nodeId: string;
  /** Events handed to Redis (not necessarily delivered: pub/sub has no acknowledgement). */
  published = 0;
  /** Events Redis refused or that could not be sent because the link was down. */
  publishFailures = 0;
  /** Events received from every node. */
  received = 0;
  /** Times the subscription came back after a lost link. */
  resubscriptions = 0;

  private readonly url: string;
  private readonly channel: string;
  private readonly maxBackoffMs: number;
  private readonly connectTimeoutMs: number;
  private readonly onError: (what: RedisBrokerProblem, error: Error) => void;
  private pub: Redis | null = null;
  private sub: Redis | null = null;
  private handler: BrokerHandler | null = null;
  private subscribed = false;
  private failing = false;
  private stopped = false;

  constructor({ url, nodeId = crypto.randomUUID(), channel = "sessiond:events", maxBackoffMs = 1000, connectTimeoutMs = 10_000, onError = () => {} }: RedisBrokerOptions) {
    this.url = url;
    this.nodeId = nodeId;
    this.channel = channel;
    this.maxBackoffMs = maxBackoffMs;
    this.connectTimeoutMs = connectTimeoutMs;
    this.onError = onError;
  }

  async start(handler: BrokerHandler): Promise<void> {
    if (this.pub) throw new Error("RedisBroker.start called twice");
    this.handler = handler;
    const connectionError = (error: Error) => this.report("connection", error);
    this.pub = openRedis(this.url, { name: `sessiond:${this.nodeId}:pub`, maxBackoffMs: this.maxBackoffMs, onError: connectionError });
    // The subscriber resubscribes itself (below) so that it knows when events flow again.
    this.sub = openRedis(this.url, { name: `sessiond:${this.nodeId}:sub`, offlineQueue: true, autoResubscribe: false, maxBackoffMs: this.maxBackoffMs, onError: connectionError });
    this.sub.on("message", (channel: string, text: string) => {
      if (channel === this.channel) this.receive(text);
    });
    this.sub.on("close", () => {
      this.subscribed = false;
    });
    try {
      await Promise.all([connectRedis(this.pub, this.url, this.connectTimeoutMs), connectRedis(this.sub, this.url, this.connectTimeoutMs)]);
      await this.sub.subscribe(this.channel);
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.subscribed = true;
    // Every later "ready" is a reconnect: subscribe again, then tell the handler that events may have been missed.
    this.sub.on("ready", () => void this.resubscribe());
  }

  publish(event: BrokerEvent): void {
    const pub = this.pub;
    if (!pub || this.stopped) return;
    let text: string;
    try {
      text = JSON.stringify({ o: this.nodeId, e: event } satisfies Envelope);
    } catch {
      this.publishFailed(new Error("an event that cannot be written as JSON"));
      return;
    }
    // Sent in call order on one connection; the reply only tells whether Redis took it.
    pub.publish(this.channel, text).then(
      () => {
        this.published++;
        this.failing = false;
      },
      (error: unknown) => this.publishFailed(error),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.handler = null;
    this.subscribed = false;
    const { pub, sub } = this;
    this.pub = this.sub = null;
    sub?.removeAllListeners("ready");
    await Promise.all([pub && closeRedis(pub), sub && closeRedis(sub)]);
  }

  healthy(): boolean {
    return !this.stopped && this.subscribed && this.pub?.status === "ready" && this.sub?.status === "ready";
  }

  private receive(text: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      // The parser's message quotes the text: report without it.
      this.report("malformed", new Error("an event that is not JSON"));
      return;
    }
    if (typeof envelope?.o !== "string" || typeof envelope.e?.type !== "string") {
      this.report("malformed", new Error("an event without origin or type"));
      return;
    }
    this.received++;
    try {
      this.handler?.deliver(envelope.e, envelope.o);
    } catch (error) {
      // One failing event must not stop the others from this connection.
      this.report("handler", error);
    }
  }

  private async resubscribe(): Promise<void> {
    const sub = this.sub;
    if (!sub || this.stopped) return;
    try {
      await sub.subscribe(this.channel);
    } catch (error) {
      // The link dropped again; the next "ready" tries again.
      this.report("subscribe", error);
      return;
    }
    if (this.stopped) return;
    this.subscribed = true;
    this.resubscriptions++;
    try {
      this.handler?.resubscribed?.();
    } catch (error) {
      this.report("handler", error);
    }
  }

  private publishFailed(error: unknown): void {
    this.publishFailures++;
    if (this.failing) return;
    this.failing = true;
    this.report("publish", error);
  }

  private report(what: RedisBrokerProblem, error: unknown): void {
    try {
      this.onError(what, error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A reporter that throws must not break the link.
    }
  }
}
