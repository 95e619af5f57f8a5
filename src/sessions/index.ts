// The session domain: rules, cache, window, presence, access and events. Imports only protocol/.
export { SessionService, DEFAULT_HISTORY_LIMIT, DEFAULT_ASSISTANT, randomSessionId } from "./session-service.ts";
export type { SessionRules, SessionDefaults, SettingsInput, SessionChanges, MessageRateLimiter, JoinTarget, JoinResult, NewSession, NewMessage } from "./session-service.ts";
export { SessionEvents, type SessionEventMap } from "./events.ts";
export { canAccess, canManage, principal, type Principal } from "./access.ts";
export { systemClock, ManualClock, type Clock } from "./clock.ts";
export { MessageWindow } from "./message-window.ts";
export { SessionCache } from "./session-cache.ts";
export { Presence } from "./presence.ts";
export type { SessionStore, SessionRecord, AppendInput, AppendResult, AppendCallback, SessionListQuery } from "./store.ts";
