// The grace timers of `endOnDisconnect`: armed when a session's last connection goes, cancelled when someone
// returns, elapsed → the session ends. Pure bookkeeping over injected timers, so it is tested without sleeping.

/** Timers as a dependency (the global setTimeout in production, a manual one in tests). */
export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const systemTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class DisconnectGrace {
  private readonly armed = new Map<string, unknown>();
  private suspended = false;

  /**
   * @param onElapsed called once per armed session whose grace ran out without a `cancel`; it decides whether the
   *   session really ends (it re-checks presence and the setting). An exception is passed to `onError`.
   */
  constructor(
    private readonly timers: Timers,
    private readonly onElapsed: (sessionId: string) => void,
    private readonly onError: (error: unknown, sessionId: string) => void = (e) => console.error(e),
  ) {}

  /** Starts (or restarts) the session's grace period of `graceMs` milliseconds. Does nothing once suspended. */
  arm(sessionId: string, graceMs: number): void {
    if (this.suspended) return;
    this.cancel(sessionId);
    const handle = this.timers.set(() => {
      if (this.armed.get(sessionId) !== handle) return;
      this.armed.delete(sessionId);
      try {
        this.onElapsed(sessionId);
      } catch (e) {
        this.onError(e, sessionId);
      }
    }, Math.max(0, graceMs));
    this.armed.set(sessionId, handle);
  }

  /** Someone came back (or the session ended another way): the session no longer ends for being left. */
  cancel(sessionId: string): boolean {
    const handle = this.armed.get(sessionId);
    if (handle === undefined) return false;
    this.timers.clear(handle);
    this.armed.delete(sessionId);
    return true;
  }

  isArmed(sessionId: string): boolean {
    return this.armed.has(sessionId);
  }

  /** Sessions whose grace is running. */
  get size(): number {
    return this.armed.size;
  }

  /**
   * For shutdown: cancels every running grace and arms none from now on. The connections a shutdown closes were
   * not left by their people, so their sessions must not end for it (after the restart nothing is armed either).
   */
  suspend(): void {
    this.suspended = true;
    for (const handle of this.armed.values()) this.timers.clear(handle);
    this.armed.clear();
  }
}
