// Error reporting with @sentry/bun, only when SENTRY_DSN is set. Events are scrubbed of anything a person
// wrote and of every credential before they leave the process.
import * as Sentry from "@sentry/bun";

const SENSITIVE_KEYS = /token|authorization|cookie|secret|password|content|config|metadata|sec-websocket-protocol|body|data/i;

export interface ErrorContext {
  sessionId?: string;
  userId?: string;
  code?: string;
  where?: string;
}

export interface ErrorReporter {
  capture(error: unknown, context?: ErrorContext): void;
  close(timeoutMs?: number): Promise<void>;
}

export const noopReporter: ErrorReporter = { capture() {}, async close() {} };

export function initSentry(dsn: string, environment?: string, release?: string): ErrorReporter {
  Sentry.init({
    dsn,
    environment,
    release,
    // @sentry/bun 11 replaced `sendDefaultPii` with per-category switches: collect none of them.
    dataCollection: {
      userInfo: false,
      cookies: false,
      httpHeaders: false,
      httpBodies: [],
      urlQueryParams: false,
      databaseQueryData: false,
      queues: false,
      stackFrameVariables: false,
      frameContextLines: 0,
      genAI: { inputs: false, outputs: false },
    },
    tracesSampleRate: 0,
    // Default integrations would attach request bodies and console output; keep only what cannot carry content.
    defaultIntegrations: false,
    integrations: [Sentry.linkedErrorsIntegration(), Sentry.dedupeIntegration()],
    beforeSend: (event) => scrubEvent(event),
    beforeBreadcrumb: () => null,
  });
  return {
    capture(error, context = {}) {
      Sentry.withScope((scope) => {
        if (context.sessionId) scope.setTag("session_id", context.sessionId);
        if (context.userId) scope.setTag("user_id", context.userId);
        if (context.code) scope.setTag("error_code", context.code);
        if (context.where) scope.setTag("where", context.where);
        Sentry.captureException(error);
      });
    },
    async close(timeoutMs = 2000) {
      await Sentry.close(timeoutMs);
    },
  };
}

/** Removes request data, user data, breadcrumbs and any sensitive key, at any depth. */
export function scrubEvent<E extends Sentry.ErrorEvent>(event: E): E {
  delete event.request;
  delete event.breadcrumbs;
  if (event.user) event.user = event.user.id ? { id: event.user.id } : {};
  if (event.extra) event.extra = scrub(event.extra) as typeof event.extra;
  if (event.contexts) event.contexts = scrub(event.contexts) as typeof event.contexts;
  for (const ex of event.exception?.values ?? []) {
    for (const frame of ex.stacktrace?.frames ?? []) delete frame.vars;
  }
  return event;
}

function scrub(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE_KEYS.test(k) ? "[scrubbed]" : scrub(v, depth + 1);
  return out;
}
