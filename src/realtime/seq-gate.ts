// Committed messages reach this node's subscribers in seq order, each once, whatever the broker did with them: a
// message at or below what was delivered is dropped, and a gap (the broker lost one, or the link was down) is filled
// from storage before anything after it goes out. With the in-process broker no gap ever happens; the gate costs a
// map lookup per message. Pure: storage is reached through `fill`.
import type { Message } from "../protocol/types.ts";

type Awaitable<T> = T | PromiseLike<T>;

export interface SeqGateOptions {
  /** Committed messages of the session with seq > afterSeq, ascending, at most `limit` (storage). */
  fill: (sessionId: string, afterSeq: number, limit: number) => Awaitable<Message[]>;
  /** Hands one message, in order, to the session's subscribers. */
  deliver: (message: Message) => void;
  /** A fill failed (storage down): the gate tries again with the next message or the next `recheck`. */
  onFillError?: (error: unknown, sessionId: string) => void;
  /** Messages read per fill. @default 500 */
  pageSize?: number;
}

interface Track {
  /** The highest seq delivered (or known delivered by a join's read). */
  last: number;
  /** Messages that arrived past a gap, waiting for the fill; ascending, unique. */
  held: Message[];
  filling: boolean;
  /** A recheck asked for while a fill ran: fill again once it ends. */
  again: boolean;
}

export class SeqGate {
  private readonly tracks = new Map<string, Track>();
  private readonly pageSize: number;
  /** Messages dropped as already delivered, and gaps filled from storage (for metrics and tests). */
  dropped = 0;
  filled = 0;

  constructor(private readonly options: SeqGateOptions) {
    this.pageSize = options.pageSize ?? 500;
  }

  /** Sessions followed now. */
  get size(): number {
    return this.tracks.size;
  }

  /**
   * A subscriber joined having read the history up to `lastSeq`: from here on the session is followed. If the gate
   * already delivered less than that, the difference is a gap the other subscribers missed (filled at once); with
   * no other subscriber (`alone`) there is nobody to fill for, and the gate starts from the join's read.
   */
  watch(sessionId: string, lastSeq: number, alone = false): void {
    const track = this.tracks.get(sessionId);
    if (!track) this.tracks.set(sessionId, { last: lastSeq, held: [], filling: false, again: false });
    else if (lastSeq <= track.last) return;
    else if (alone) {
      track.last = lastSeq;
      // Held messages past the join's read still wait for what comes between (a fill running or due).
      while (track.held.length > 0 && track.held[0]!.seq <= lastSeq) track.held.shift();
      if (track.held.length > 0 && !track.filling) this.startFill(sessionId, track);
    } else this.startFill(sessionId, track);
  }

  /** A committed message from the broker. The first one of a session not watched yet is taken as it comes. */
  offer(message: Message): void {
    const id = message.session;
    let track = this.tracks.get(id);
    if (!track) {
      this.tracks.set(id, (track = { last: message.seq - 1, held: [], filling: false, again: false }));
    }
    if (message.seq <= track.last) {
      this.dropped++;
      return;
    }
    if (!track.filling && message.seq === track.last + 1) {
      track.last = message.seq;
      this.options.deliver(message);
      return;
    }
    hold(track.held, message);
    if (!track.filling) this.startFill(id, track);
  }

  /** Stops following a session (it ended, or has no subscriber here any more). */
  forget(sessionId: string): void {
    this.tracks.delete(sessionId);
  }

  /**
   * The broker's link was down: anything may have been missed in every followed session. Each is read from
   * storage after its last delivered seq, so what was committed meanwhile goes out even if nothing new arrives.
   */
  recheckAll(): void {
    for (const [id, track] of this.tracks) this.startFill(id, track);
  }

  private startFill(id: string, track: Track): void {
    if (track.filling) {
      track.again = true;
      return;
    }
    track.filling = true;
    track.again = false;
    let page: Awaitable<Message[]>;
    try {
      page = this.options.fill(id, track.last, this.pageSize);
    } catch (e) {
      return this.failed(id, track, e);
    }
    if (isPromiseLike(page)) page.then((p) => this.filledWith(id, track, p), (e) => this.failed(id, track, e));
    else this.filledWith(id, track, page);
  }

  private filledWith(id: string, track: Track, page: Message[]): void {
    // Forgotten while the read ran (the session ended): its subscribers are gone.
    if (this.tracks.get(id) !== track) return;
    for (const m of page) {
      if (m.seq <= track.last) continue;
      if (m.seq !== track.last + 1) break;
      track.last = m.seq;
      this.filled++;
      this.options.deliver(m);
    }
    track.filling = false;
    // A full page: storage holds more; read on before releasing what is held.
    if (page.length >= this.pageSize || track.again) return this.startFill(id, track);
    this.release(track);
  }

  private failed(id: string, track: Track, error: unknown): void {
    track.filling = false;
    this.options.onFillError?.(error, id);
    // Nothing is delivered out of order: what is held waits for the next message or recheck to fill again.
  }

  /**
   * After a fill, storage is complete up to its head: held messages go out in order. One that still does not follow
   * on (storage answered without the seqs before it) is delivered anyway rather than held forever.
   */
  private release(track: Track): void {
    for (const m of track.held) {
      if (m.seq <= track.last) {
        this.dropped++;
        continue;
      }
      track.last = m.seq;
      this.options.deliver(m);
    }
    track.held.length = 0;
  }
}

/** Inserts into an ascending list of unique seqs. */
function hold(held: Message[], m: Message): void {
  let i = held.length;
  while (i > 0 && held[i - 1]!.seq > m.seq) i--;
  if (i > 0 && held[i - 1]!.seq === m.seq) return;
  held.splice(i, 0, m);
}

function isPromiseLike<T>(v: Awaitable<T>): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T>)?.then === "function";
}
