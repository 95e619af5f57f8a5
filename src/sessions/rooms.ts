// Rules for rooms (pure): which fields of a create request disagree with the room's active session, and the
// sentence a refused person gets, naming what access they lack.
import type { SessionAccess } from "../protocol/types.ts";
import type { AccessSubject } from "./access.ts";

export interface RoomSettings {
  members?: readonly string[];
  access?: SessionAccess;
  config?: Record<string, unknown>;
}

/**
 * The fields of `requested` that are given and differ from `current` (members compare as sets, config by value
 * whatever the key order). Empty when the request agrees with the session, or gives none of them.
 */
export function conflictingFields(current: Required<RoomSettings>, requested: RoomSettings): Array<keyof RoomSettings> {
  const out: Array<keyof RoomSettings> = [];
  if (requested.members !== undefined && !sameSet(current.members, requested.members)) out.push("members");
  if (requested.access !== undefined && requested.access !== current.access) out.push("access");
  if (requested.config !== undefined && canonical(requested.config) !== canonical(current.config)) out.push("config");
  return out;
}

/** Why a caller may not enter a private session: for a room, the two ways in (open access, a room grant). */
export function forbiddenMessage(session: Pick<AccessSubject, "room">): string {
  if (session.room === null) {
    return "You do not have access to this session: it is private; its owner can add you to its members, or your token's sessions claim can list it.";
  }
  return (
    `You do not have access to room "${session.room}": its current session is private, and your token has no "room:${session.room}" grant. ` +
    `A team room needs either open access (ROOM_ACCESS_DEFAULT=open on the server, or the owner sets access "open") or tokens whose sessions claim lists "room:${session.room}".`
  );
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}

/** JSON with object keys sorted at every level, so equal values compare equal as strings. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
