// Which reads the audit trail records (pure): a read of a session by anyone who neither owns it nor belongs to it
// (members, or a grant in their token): staff reading any session, or a user reading an open one. The session's own
// people reading it are not audited.
import type { AccessSubject, Principal } from "./access.ts";

/** How a session was read: a join (WebSocket or SSE), its description, a history page, or its transcript. */
export type ReadVia = "join" | "get" | "history" | "export";

export function isOutsideRead(who: Principal, s: AccessSubject): boolean {
  return (
    s.ownerId !== who.userId &&
    !s.members.includes(who.userId) &&
    !who.grantedSessions.has(s.id) &&
    !(s.room !== null && who.grantedRooms.has(s.room))
  );
}
