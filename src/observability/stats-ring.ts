// An in-process ring of throughput samples (messages/s, acks/s, connections, active sessions) over a sliding
// window, for the operator console's chart: no external metrics system needed. StatsRing is pure; StatsSampler
// reads cumulative counters on a timer and turns their differences into rates.

export interface StatsSample {
  /** Epoch ms at the end of the interval the rates cover. */
  t: number;
  /** Messages received (WebSocket frames and HTTP posts, accepted or not) per second over the interval. */
  messagesPerSecond: number;
  /** Messages committed and acknowledged per second over the interval. */
  acksPerSecond: number;
  /** Open connections (WebSocket and SSE) at `t`. */
  connections: number;
  /** Active sessions at `t`. */
  activeSessions: number;
}

/** A fixed-capacity ring: pushing past capacity forgets the oldest sample. */
export class StatsRing {
  private readonly items: StatsSample[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("a StatsRing needs a capacity of at least 1");
  }

  get size(): number {
    return this.items.length;
  }

  push(sample: StatsSample): void {
    if (this.items.length < this.capacity) {
      this.items.push(sample);
      return;
    }
    this.items[this.start] = sample;
    this.start = (this.start + 1) % this.capacity;
  }

  /** Every sample held, oldest first. */
  toArray(): StatsSample[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }

  /** The newest sample, or null before the first. */
  last(): StatsSample | null {
    if (this.items.length === 0) return null;
    return this.items[(this.start + this.items.length - 1) % this.items.length] ?? null;
  }
}

/** What the sampler reads: cumulative counters and current gauges. */
export interface StatsSource {
  /** Total messages received so far (monotonic). */
  messagesReceived(): number;
  /** Total messages acknowledged so far (monotonic). */
  messagesAcked(): number;
  connections(): number;
  activeSessions(): number;
}

export interface StatsSamplerOptions {
  source: StatsSource;
  /** Time between samples in ms. */
  intervalMs: number;
  /** How far back the ring reaches, in ms. @default 900000 (15 minutes) */
  windowMs?: number;
  /** @default Date.now */
  now?: () => number;
  /** Told when a listener throws; the other listeners still run. @default console.error */
  onListenerError?: (error: unknown) => void;
}

export const STATS_WINDOW_MS = 15 * 60_000;

const rate = (delta: number, seconds: number): number => (seconds > 0 ? Math.round((Math.max(0, delta) / seconds) * 100) / 100 : 0);

/** Samples the source every `intervalMs` into a ring covering `windowMs`, and tells listeners of each sample. */
export class StatsSampler {
  readonly ring: StatsRing;
  readonly intervalMs: number;
  readonly windowMs: number;
  private readonly source: StatsSource;
  private readonly now: () => number;
  private readonly onListenerError: (error: unknown) => void;
  private readonly listeners = new Set<(sample: StatsSample) => void>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private last: { at: number; received: number; acked: number };

  constructor({ source, intervalMs, windowMs = STATS_WINDOW_MS, now = Date.now, onListenerError = console.error }: StatsSamplerOptions) {
    this.source = source;
    this.onListenerError = onListenerError;
    this.intervalMs = intervalMs;
    this.windowMs = windowMs;
    this.now = now;
    this.ring = new StatsRing(Math.max(1, Math.ceil(windowMs / intervalMs)));
    this.last = this.reading();
  }

  /** Takes one sample now: the rates since the previous sample (or since construction). */
  sample(): StatsSample {
    const current = this.reading();
    const seconds = (current.at - this.last.at) / 1000;
    const sample: StatsSample = {
      t: current.at,
      messagesPerSecond: rate(current.received - this.last.received, seconds),
      acksPerSecond: rate(current.acked - this.last.acked, seconds),
      connections: this.source.connections(),
      activeSessions: this.source.activeSessions(),
    };
    this.last = current;
    this.ring.push(sample);
    for (const listener of this.listeners) {
      try {
        listener(sample);
      } catch (e) {
        this.onListenerError(e);
      }
    }
    return sample;
  }

  /** Samples held, oldest first. */
  samples(): StatsSample[] {
    return this.ring.toArray();
  }

  /** Calls `listener` after each sample; returns the unsubscribe function. */
  onSample(listener: (sample: StatsSample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.timer) return;
    this.last = this.reading();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private reading(): { at: number; received: number; acked: number } {
    return { at: this.now(), received: this.source.messagesReceived(), acked: this.source.messagesAcked() };
  }
}
