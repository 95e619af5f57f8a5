// The soak's load: a client connection that sends, churns and reconnects like a real one, and the counters all of
// them share. Used by bench/soak.ts.

interface Pending {
  sentAt: number;
  frame: Record<string, unknown>;
  resent: boolean;
}

/** What the soak's clients count, shared by all of them; `window` holds the ack latencies of the current window. */
export const stats = {
  sent: 0,
  acked: 0,
  resent: 0,
  delivered: 0,
  gaps: 0,
  reconnects: 0,
  /** Connections the server closed. */
  dropped: 0,
  joins: 0,
  leaves: 0,
  rotated: 0,
  errors: new Map<string, number>(),
  window: [] as number[],
};
export const countError = (code: string) => stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);

/**
 * One soak connection: joins its sessions, sends with at most `maxInFlight` unacknowledged, tracks the last seq of
 * each joined session (a gap in live delivery is counted), and reconnects — after a planned close, with its
 * messages' acks drained first; after a close by the server, resending what had no ack with the same clientMsgId.
 */
export class SoakClient {
  ws: WebSocket | null = null;
  open = false;
  draining = false;
  nextId = 1;
  readonly pending = new Map<number, Pending>();
  /** Sessions joined, with the last seq seen in each. */
  readonly joined = new Map<string, number>();
  readonly wanted = new Set<string>();
  private replies = new Map<number, (f: any) => void>();
  private msgCounter = 0;

  constructor(
    readonly user: string,
    private readonly token: string,
    private readonly url: string,
    private readonly maxInFlight: number,
  ) {}

  async connect(): Promise<void> {
    const ws = new WebSocket(this.url, { headers: { Authorization: `Bearer ${this.token}` } } as unknown as string[]);
    this.ws = ws;
    ws.onmessage = (e) => this.onFrame(JSON.parse(String(e.data)));
    ws.onclose = () => {
      if (this.ws !== ws || !this.open) return;
      // Closed by the server (not by the soak): come back the way a client would.
      this.open = false;
      this.joinedBefore = new Map(this.joined);
      this.joined.clear();
      stats.dropped++;
      setTimeout(() => void this.connect().catch(() => countError("reconnect_failed")), 200);
    };
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("connect failed"));
    });
    this.open = true;
    const lastSeen = new Map(this.joinedBefore);
    for (const s of this.wanted) await this.join(s, lastSeen.get(s));
    // Anything sent on the old socket and never acknowledged goes again with the same clientMsgId.
    for (const [id, p] of [...this.pending]) {
      this.pending.delete(id);
      const nid = this.nextId++;
      p.resent = true;
      stats.resent++;
      this.pending.set(nid, p);
      ws.send(JSON.stringify({ ...p.frame, id: nid }));
    }
  }

  private joinedBefore = new Map<string, number>();

  async join(session: string, since?: number): Promise<void> {
    this.wanted.add(session);
    const reply = await this.request({ type: "join", session, ...(since !== undefined ? { since } : { limit: 1 }) });
    if (reply.type !== "joined") {
      this.wanted.delete(session);
      return;
    }
    stats.joins++;
    const messages = reply.messages as Array<{ seq: number }>;
    const last = messages.length > 0 ? messages[messages.length - 1]!.seq : reply.session.metrics.messageCount;
    this.joined.set(session, Math.max(since ?? 0, last));
  }

  async leave(session: string): Promise<void> {
    this.wanted.delete(session);
    this.joined.delete(session);
    await this.request({ type: "leave", session });
    stats.leaves++;
  }

  request(frame: Record<string, unknown>): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.replies.delete(id);
        resolve({ type: "timeout" });
      }, 10_000);
      this.replies.set(id, (f) => {
        clearTimeout(timer);
        resolve(f);
      });
      this.ws!.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** Sends one message into one of the joined sessions; false when this connection cannot take one now. */
  send(): boolean {
    if (!this.open || this.draining || this.pending.size >= this.maxInFlight || this.joined.size === 0) return false;
    const sessions = [...this.joined.keys()];
    const session = sessions[this.msgCounter % sessions.length]!;
    const frame = {
      type: "message",
      session,
      content: `soak ${this.user} #${this.msgCounter} ${"lorem ipsum dolor sit amet ".repeat(4)}`,
      clientMsgId: `${this.user}-${this.msgCounter++}`,
    };
    const id = this.nextId++;
    this.pending.set(id, { sentAt: performance.now(), frame, resent: false });
    this.ws!.send(JSON.stringify({ ...frame, id }));
    stats.sent++;
    return true;
  }

  /** Stops sending, waits for the acks in flight, then closes (cleanly or abruptly) and reconnects. */
  async reconnect(abrupt: boolean): Promise<void> {
    this.draining = true;
    for (let waited = 0; this.pending.size > 0 && waited < 2000; waited += 10) await Bun.sleep(10);
    this.joinedBefore = new Map(this.joined);
    const ws = this.ws!;
    if (abrupt) (ws as unknown as { terminate(): void }).terminate();
    else ws.close(1000);
    this.open = false;
    this.joined.clear();
    await Bun.sleep(50 + Math.random() * 150);
    try {
      await this.connect();
      stats.reconnects++;
    } finally {
      this.draining = false;
    }
  }

  private onFrame(f: any): void {
    const now = performance.now();
    if (f.type === "ack") {
      const p = this.pending.get(f.ref);
      if (!p) return;
      this.pending.delete(f.ref);
      stats.acked++;
      // A message resent after a reconnect waited for the reconnect: not an ack latency.
      if (!p.resent) stats.window.push(now - p.sentAt);
      return;
    }
    if (f.type === "error" && f.ref !== undefined && this.pending.has(f.ref)) {
      // Refused, nothing written: the soak counts it and moves on.
      countError(f.code);
      this.pending.delete(f.ref);
      return;
    }
    if (f.ref !== undefined) {
      const reply = this.replies.get(f.ref);
      if (reply) {
        this.replies.delete(f.ref);
        if (f.type === "error") countError(f.code);
        return reply(f);
      }
    }
    if (f.type === "message") {
      stats.delivered++;
      const last = this.joined.get(f.session);
      if (last !== undefined) {
        if (f.message.seq > last + 1) stats.gaps++;
        if (f.message.seq > last) this.joined.set(f.session, f.message.seq);
      }
    } else if (f.type === "session.status") {
      this.joined.delete(f.session);
      this.wanted.delete(f.session);
    }
  }
}
