// A lean pipelined protocol client for the fault trials: keeps N messages in flight on one session, each with its
// own clientMsgId, and records every ack, every error reply and how the socket closed. No SDK: the trials judge the
// server's raw behaviour.

export interface Ack {
  seq: number;
  messageId: string;
}

export class LoadClient {
  /** clientMsgId -> ack (the first one heard). */
  readonly acks = new Map<string, Ack>();
  /** clientMsgIds sent, in order. */
  readonly sent: string[] = [];
  /** Error replies to messages, by code. */
  readonly errors = new Map<string, number>();
  /** Error replies by clientMsgId (the last one heard). */
  readonly refused = new Map<string, { code: string; retryAfterMs?: number }>();
  readonly otherFrames: Array<Record<string, unknown>> = [];
  closed: { code: number; reason: string; at: number } | null = null;
  private readonly inFlight = new Map<number, string>();
  private readonly replies = new Map<number, (f: Record<string, any>) => void>();
  private nextId = 1;
  private counter = 0;
  private pumping = false;
  private readonly closedPromise: Promise<void>;
  private ackWaiters: Array<() => void> = [];

  private constructor(
    readonly socket: WebSocket,
    readonly session: string,
    readonly prefix: string,
  ) {
    socket.addEventListener("message", (e) => this.onFrame(JSON.parse(String(e.data))));
    this.closedPromise = new Promise((resolve) =>
      socket.addEventListener("close", (e) => {
        this.closed = { code: e.code, reason: e.reason, at: performance.now() };
        resolve();
      }),
    );
  }

  static async open(url: string, token: string, session: string, prefix: string): Promise<LoadClient> {
    const socket = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } } as unknown as string[]);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error("websocket failed to open")), { once: true });
    });
    const client = new LoadClient(socket, session, prefix);
    await client.request({ type: "join", session, limit: 1 });
    return client;
  }

  /** Sends one frame with an id and resolves with the reply that carries it. */
  request(frame: Record<string, unknown>): Promise<Record<string, any>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      this.socket.send(JSON.stringify({ ...frame, id }));
    });
  }
  /** Keeps `depth` messages in flight until stop() or the socket closes. */
  pump(depth: number): void {
    this.pumping = true;
    for (let i = this.inFlight.size; i < depth; i++) this.sendNext();
  }

  stop(): void {
    this.pumping = false;
  }

  /** Sends one message with the given (or a fresh) clientMsgId. */
  send(clientMsgId = `${this.prefix}-${this.counter++}`): string {
    const id = this.nextId++;
    this.inFlight.set(id, clientMsgId);
    this.sent.push(clientMsgId);
    this.socket.send(JSON.stringify({ type: "message", id, session: this.session, content: `trial ${clientMsgId}`, clientMsgId }));
    return clientMsgId;
  }

  private sendNext(): void {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) return;
    this.send();
  }

  /** Resolves once `n` acks in total were heard (or the socket closed). */
  async waitForAcks(n: number, timeoutMs = 20_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.acks.size < n && !this.closed && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.ackWaiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  get pending(): number {
    return this.inFlight.size;
  }

  closedAt(): Promise<void> {
    return this.closedPromise;
  }

  private onFrame(f: Record<string, any>): void {
    if (typeof f.ref === "number") {
      const reply = this.replies.get(f.ref);
      if (reply) {
        this.replies.delete(f.ref);
        return reply(f);
      }
      const clientMsgId = this.inFlight.get(f.ref);
      if (clientMsgId !== undefined) {
        this.inFlight.delete(f.ref);
        if (f.type === "ack") {
          if (!this.acks.has(clientMsgId)) this.acks.set(clientMsgId, { seq: f.seq, messageId: f.messageId });
          for (const w of this.ackWaiters.splice(0)) w();
          if (this.pumping) this.sendNext();
        } else if (f.type === "error") {
          this.errors.set(f.code, (this.errors.get(f.code) ?? 0) + 1);
          this.refused.set(clientMsgId, { code: f.code, retryAfterMs: f.retryAfterMs });
          // Refused: a real client would wait retryAfterMs; the pipeline stops here.
          this.pumping = false;
        }
        return;
      }
    }
    if (f.type !== "message" && f.type !== "presence") this.otherFrames.push(f);
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
