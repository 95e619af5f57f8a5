// Sessions queued for insertion and not committed yet, by id and by room: every store shows them to reads before
// they commit and refuses a second one for the same id or room at once (pure).
import { SessiondError } from "../protocol/errors.ts";
import type { SessionRecord } from "./store.ts";

export class QueuedSessions {
  private readonly byId = new Map<string, SessionRecord>();
  private readonly byRoom = new Map<string, SessionRecord>();

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): SessionRecord | undefined {
    return this.byId.get(id);
  }

  /** The room's queued session, if any. */
  inRoom(room: string): SessionRecord | undefined {
    return this.byRoom.get(room);
  }

  /** Whether a queued session has the record's id or room. */
  blocks(record: SessionRecord): boolean {
    return this.byId.has(record.id) || (record.room !== null && this.byRoom.has(record.room));
  }

  /** Throws `conflict` when a session with the record's id, or an active one in its room, is already queued. */
  check(record: SessionRecord): void {
    if (this.byId.has(record.id)) throw new SessiondError("conflict", "A session with that id exists.");
    if (record.room !== null && this.byRoom.has(record.room)) throw new SessiondError("conflict", "The room already has an active session.");
  }

  add(record: SessionRecord): void {
    this.byId.set(record.id, record);
    if (record.room !== null) this.byRoom.set(record.room, record);
  }

  /** After its commit (or failure): forgotten, unless another record took its place. */
  remove(record: SessionRecord): void {
    if (this.byId.get(record.id) === record) this.byId.delete(record.id);
    if (record.room !== null && this.byRoom.get(record.room) === record) this.byRoom.delete(record.room);
  }
}
