// Who answers next: one reply at a time per session in arrival order, at most `maxConcurrency` across all sessions,
// the rest waiting first come, first served (pure scheduling; the reply itself is the injected `run`).

export interface SchedulerOptions {
  /** Replies running at once over all sessions (AI_MAX_CONCURRENCY). @default 4 */
  maxConcurrency?: number;
  /** Replies that may wait in one session behind the one running or first in line. @default 8 */
  maxWaitingPerSession?: number;
  /** Told when `run` throws or rejects; the scheduler goes on. @default console.error */
  onError?: (error: unknown) => void;
}

interface SessionState {
  /** Places held for messages accepted but not yet committed. */
  reserved: number;
  waiting: number;
  running: boolean;
}

/**
 * A place is reserved when a message that asks for a reply is accepted (so its sender can be refused with
 * `limit_exceeded` before anything is written), and turned into a waiting job when the message commits.
 */
export class ReplyScheduler<J> {
  private readonly queue: Array<{ sessionId: string; job: J }> = [];
  private readonly sessions = new Map<string, SessionState>();
  private runningCount = 0;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];
  readonly maxConcurrency: number;
  readonly maxWaitingPerSession: number;

  constructor(
    private readonly run: (job: J, sessionId: string) => Promise<void>,
    private readonly options: SchedulerOptions = {},
  ) {
    this.maxConcurrency = options.maxConcurrency ?? 4;
    this.maxWaitingPerSession = options.maxWaitingPerSession ?? 8;
  }

  /** Replies running now. */
  get running(): number {
    return this.runningCount;
  }

  /** Replies waiting (committed, not started), over all sessions. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Holds a place in the session's line; false when it already holds one running and `maxWaitingPerSession` more. */
  reserve(sessionId: string): boolean {
    if (this.stopped) return false;
    const s = this.state(sessionId);
    if (s.reserved + s.waiting + (s.running ? 1 : 0) >= 1 + this.maxWaitingPerSession) return false;
    s.reserved++;
    return true;
  }

  /** Gives back a place whose message was not committed. */
  release(sessionId: string): void {
    const s = this.sessions.get(sessionId);
    if (!s || s.reserved === 0) return;
    s.reserved--;
    this.forgetIfIdle(sessionId, s);
  }

  /** Adds a job at the end of the line (using a reserved place if the session holds one). */
  enqueue(sessionId: string, job: J): void {
    if (this.stopped) return;
    const s = this.state(sessionId);
    if (s.reserved > 0) s.reserved--;
    s.waiting++;
    this.queue.push({ sessionId, job });
    this.pump();
  }

  /** Whether the session has a reply running, waiting or about to be queued. */
  busy(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** Forgets the session's waiting jobs and reserved places (the session ended); returns the jobs. */
  dropSession(sessionId: string): J[] {
    const s = this.sessions.get(sessionId);
    if (!s) return [];
    const dropped: J[] = [];
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i]!.sessionId === sessionId) dropped.unshift(this.queue.splice(i, 1)[0]!.job);
    }
    s.waiting = 0;
    s.reserved = 0;
    this.forgetIfIdle(sessionId, s);
    return dropped;
  }

  /** Starts nothing more and forgets every waiting job; returns how many were forgotten. */
  stop(): number {
    this.stopped = true;
    const n = this.queue.length;
    this.queue.length = 0;
    for (const [id, s] of this.sessions) {
      s.waiting = 0;
      s.reserved = 0;
      this.forgetIfIdle(id, s);
    }
    this.settleIdle();
    return n;
  }

  /** Resolves once nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.runningCount === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private state(sessionId: string): SessionState {
    let s = this.sessions.get(sessionId);
    if (!s) this.sessions.set(sessionId, (s = { reserved: 0, waiting: 0, running: false }));
    return s;
  }

  private forgetIfIdle(sessionId: string, s: SessionState): void {
    if (s.reserved === 0 && s.waiting === 0 && !s.running) this.sessions.delete(sessionId);
  }

  private pump(): void {
    while (!this.stopped && this.runningCount < this.maxConcurrency) {
      // The oldest job whose session is not already answering: first come, first served across sessions.
      const i = this.queue.findIndex((e) => !this.sessions.get(e.sessionId)!.running);
      if (i === -1) return;
      const { sessionId, job } = this.queue.splice(i, 1)[0]!;
      const s = this.sessions.get(sessionId)!;
      s.waiting--;
      s.running = true;
      this.runningCount++;
      void this.start(sessionId, job, s);
    }
  }

  private async start(sessionId: string, job: J, s: SessionState): Promise<void> {
    try {
      await this.run(job, sessionId);
    } catch (e) {
      (this.options.onError ?? console.error)(e);
    } finally {
      s.running = false;
      this.runningCount--;
      this.forgetIfIdle(sessionId, s);
      this.pump();
      this.settleIdle();
    }
  }

  private settleIdle(): void {
    if (this.runningCount > 0 || this.queue.length > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
