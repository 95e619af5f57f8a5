// Who may read, write and manage a session: the one access check every transport calls (pure).

/** An authenticated caller, as established by the auth module. */
export interface Principal {
  userId: string;
  admin: boolean;
  /** Sessions granted by the token's `sessions` claim: ids, and room keys (from `room:<key>` entries). */
  grantedSessions: ReadonlySet<string>;
  grantedRooms: ReadonlySet<string>;
}

export interface AccessSubject {
  id: string;
  room: string | null;
  ownerId: string;
  access: "private" | "open";
  members: readonly string[];
}

/** Read and write: admins, the owner, members, matching grants; anyone authenticated if open. */
export function canAccess(who: Principal, session: AccessSubject): boolean {
  return (
    who.admin ||
    session.access === "open" ||
    session.ownerId === who.userId ||
    session.members.includes(who.userId) ||
    who.grantedSessions.has(session.id) ||
    (session.room !== null && who.grantedRooms.has(session.room))
  );
}

/** Configure and end: the owner or an admin (a grant gives read and write only). */
export function canManage(who: Principal, session: AccessSubject): boolean {
  return who.admin || session.ownerId === who.userId;
}

export function principal(userId: string, options: { admin?: boolean; sessions?: readonly string[] } = {}): Principal {
  const grantedSessions = new Set<string>();
  const grantedRooms = new Set<string>();
  for (const entry of options.sessions ?? []) {
    if (entry.startsWith("room:")) grantedRooms.add(entry.slice(5));
    else grantedSessions.add(entry);
  }
  return { userId, admin: options.admin ?? false, grantedSessions, grantedRooms };
}
