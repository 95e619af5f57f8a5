// One way the domain tests build a SessionService: over any store, with a manual clock and no rate limit.
import { ManualClock, principal, SessionEvents, SessionService, type JoinResult, type SessionRules } from "../../src/sessions/index.ts";
import type { SessionStorage, SessionStore } from "../../src/sessions/store.ts";

export function serviceOn(store: SessionStore | SessionStorage, rules: Partial<SessionRules> = {}) {
  const clock = new ManualClock();
  const events = new SessionEvents();
  let ids = 0;
  const service = new SessionService({
    store,
    events,
    clock,
    limiter: { take: () => 0, refund: () => {} },
    newMessageId: () => `m${++ids}`,
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
