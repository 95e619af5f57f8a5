// The stream rows' writes nobody waits for: each stream's writes run one after another in the order issued (a save
// issued before a delete lands before it; one issued after finds the row gone and leaves it gone), a failure is
// handed to `failed` and never becomes an unhandled rejection. A store that answers at once writes in place, in the
// caller's turn, exactly as a synchronous call.
import { isPending, type Awaitable } from "../sessions/awaitable.ts";

export type StreamWriteOp = "insert" | "save" | "delete";

export class StreamWrites {
  /** The last write still pending per stream id; the entry goes when it settles and nothing came after it. */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly failed: (op: StreamWriteOp, sessionId: string, streamId: string, error: unknown) => void) {}

  /** Runs `write` after the stream's earlier writes; `onError` runs (after `failed`) if it fails. */
  run(sessionId: string, streamId: string, op: StreamWriteOp, write: () => Awaitable<void>, onError?: () => void): void {
    const fail = (e: unknown) => {
      this.failed(op, sessionId, streamId, e);
      onError?.();
    };
    const tail = this.tails.get(streamId);
    if (tail === undefined) {
      let answer: Awaitable<void>;
      try {
        answer = write();
      } catch (e) {
        fail(e);
        return;
      }
      if (isPending(answer)) this.track(streamId, Promise.resolve(answer).then(undefined, fail));
      return;
    }
    this.track(streamId, tail.then(write).then(undefined, fail));
  }

  /** Whether a write of this stream has not answered yet (a new save would only queue behind it). */
  pending(streamId: string): boolean {
    return this.tails.has(streamId);
  }

  /** Resolves once every write issued so far (and any issued meanwhile) has answered. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }

  private track(streamId: string, p: Promise<void>): void {
    this.tails.set(streamId, p);
    void p.then(() => {
      if (this.tails.get(streamId) === p) this.tails.delete(streamId);
    });
  }
}
