// Exactly-once, in-seq-order delivery of one session's messages (pure): drops what was already delivered and
// holds back what arrives ahead of a gap until the gap is filled.
import type { Message } from "../protocol/types.ts";

export class OrderedDelivery {
  readonly #held = new Map<number, Message>();

  /** `lastSeq`: the highest seq already delivered to the app. */
  constructor(
    public lastSeq: number,
    /** Held messages are only a shortcut (a catch-up from lastSeq returns them again), so the buffer is bounded. */
    private readonly maxHeld = 10_000,
  ) {}

  /** True while messages are held behind a missing seq: the caller should catch up from `lastSeq`. */
  get hasGap(): boolean {
    return this.#held.size > 0;
  }

  /** One message from the live stream; returns those now deliverable, in order. */
  accept(message: Message): Message[] {
    if (message.seq <= this.lastSeq) return [];
    if (message.seq !== this.lastSeq + 1) {
      if (this.#held.size < this.maxHeld) this.#held.set(message.seq, message);
      return [];
    }
    this.lastSeq = message.seq;
    const out = [message];
    for (let next = this.#held.get(this.lastSeq + 1); next; next = this.#held.get(this.lastSeq + 1)) {
      this.#held.delete(next.seq);
      this.lastSeq = next.seq;
      out.push(next);
    }
    return out;
  }

  /**
   * Messages the server returned for `since = lastSeq`. That answer is complete by contract, so a seq it skips no
   * longer exists (retention removed it) and is not waited for.
   */
  acceptRecovered(messages: readonly Message[]): Message[] {
    const out: Message[] = [];
    for (const message of messages) {
      if (message.seq > this.lastSeq + 1) this.lastSeq = message.seq - 1;
      out.push(...this.accept(message));
    }
    for (const seq of this.#held.keys()) if (seq <= this.lastSeq) this.#held.delete(seq);
    return out;
  }

  clear(): void {
    this.#held.clear();
  }
}
