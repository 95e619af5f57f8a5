// One way the domain tests build a SessionService: over any store, with a manual clock and no rate limit.
import { ManualClock, principal, SessionEvents, SessionService, type JoinResult, type MessageRateLimiter, type SessionRules } from "../../src/sessions/index.ts";
import type { MemorySessionStore } from "../../src/sessions/memory-store.ts";
import type { PresenceManager } from "../../src/sessions/presence.ts";
import type { SessionStorage, SessionStore } from "../../src/sessions/store.ts";

export interface ServiceOptions {
  /** @default no limit */
  limiter?: MessageRateLimiter;
  presence?: PresenceManager;
  /** Put before each message id (a node's name, so ids of several nodes differ). */
  idPrefix?: string;
}

export function serviceOn(store: SessionStore | SessionStorage, rules: Partial<SessionRules> = {}, options: ServiceOptions = {}) {
  const clock = new ManualClock();
  const events = new SessionEvents();
  let ids = 0;
  const service = new SessionService({
    store,
    events,
    clock,
    limiter: options.limiter ?? { take: () => 0, refund: () => {} },
    presence: options.presence,
    newMessageId: () => `${options.idPrefix ?? ""}m${++ids}`,
    rules: {
      expiryMs: 60_000,
      windowSize: 100,
      cacheMaxSessions: 1000,
      maxRecoveryMessages: 1000,
      maxMessageBytes: 65_536,
      createOnJoin: true,
      assistantAvailable: false,
      defaults: { analysis: { enabled: false, share: "staff" }, assistant: { enabled: false, name: "assistant", trigger: "every" }, endOnDisconnect: { enabled: false, graceSeconds: 30 } },
      ...rules,
    },
  });
  return { service, clock, events };
}

/** joinStored as a promise. */
export const joinStored = (service: SessionService, userId: string, session: string, options = {}) =>
  new Promise<JoinResult>((resolve, reject) => service.joinStored(principal(userId), { session }, options, (e, r) => (e ? reject(e) : resolve(r!))));

/** The memory store with every read and direct write answered a turn later (queued writes keep their callbacks). */
export function later(store: MemorySessionStore): SessionStorage & { reads: number } {
  const delay = <T>(v: T) => new Promise<T>((resolve) => setTimeout(() => resolve(v), 1));
  const wrapped = { reads: 0 } as SessionStorage & { reads: number };
  for (const name of ["flush", "getSession", "findActiveSessionByRoom", "insertSession", "updateSession", "endSession", "saveActivity", "addParticipant", "participants", "lastMessages", "messagesAfter", "idleSessionIds", "activeSessionIds", "listSessions", "probe", "addAssistantMetrics"] as const) {
    (wrapped as any)[name] = (...args: unknown[]) => {
      wrapped.reads++;
      try {
        return delay((store as any)[name](...args));
      } catch (e) {
        return Promise.reject(e);
      }
    };
  }
  for (const name of ["append", "queueSession", "queueParticipant", "afterQueued"] as const) (wrapped as any)[name] = (store as any)[name].bind(store);
  wrapped.iterateMessages = (id: string, size?: number) =>
    (async function* () {
      for (const page of store.iterateMessages(id, size)) yield await delay(page);
    })();
  return wrapped;
}
