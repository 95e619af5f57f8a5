// Crisis alerts: when an analysis raises one (pure), the acknowledge/resolve rules (pure), and AlertService, which
// lists and changes stored alerts for staff and tells the transports through `alert.updated`.
import { SessiondError } from "../protocol/errors.ts";
import { then, type Awaitable } from "../sessions/awaitable.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { AlertStorage } from "./store.ts";
import { riskRank, type Alert, type AlertStatus, type Analysis, type RiskLevel } from "./types.ts";

export type AlertAction = "acknowledge" | "resolve";

/** Whether a message at `level` raises an alert when ALERT_MIN_RISK is `minRisk`. Pure. */
export function raisesAlert(level: RiskLevel, minRisk: Exclude<RiskLevel, "none">): boolean {
  return riskRank(level) >= riskRank(minRisk);
}

/**
 * The alert a stored analysis raises, or null when its risk is below `minRisk`. The alert quotes the analysis'
 * triggers and action; it opens as `open`. Pure.
 */
export function alertFor(
  message: { session: string; seq: number; messageId: string; userId: string },
  analysis: Analysis,
  minRisk: Exclude<RiskLevel, "none">,
  id: string,
): Alert | null {
  if (!raisesAlert(analysis.crisis.risk_level, minRisk)) return null;
  return {
    id,
    session: message.session,
    seq: message.seq,
    messageId: message.messageId,
    userId: message.userId,
    risk_level: analysis.crisis.risk_level,
    triggers: analysis.crisis.triggers,
    recommended_action: analysis.crisis.recommended_action,
    status: "open",
    createdAt: analysis.at,
  };
}

/**
 * The alert after `action` by `by` at `at` (ISO 8601), or null when the action changes nothing. Rules:
 * acknowledge moves `open` to `acknowledged`; resolve moves `open` or `acknowledged` to `resolved`. Repeating an
 * action, and acknowledging a resolved alert, change nothing (the caller answers with the alert as it is), so
 * every call is idempotent. A note given with a change is stored (replacing an earlier one); a note given with a
 * call that changes nothing is ignored. Pure.
 */
export function applyAlertAction(alert: Alert, action: AlertAction, by: string, at: string, note?: string): Alert | null {
  if (action === "acknowledge") {
    if (alert.status !== "open") return null;
    return { ...alert, status: "acknowledged", acknowledgedBy: by, acknowledgedAt: at, ...(note !== undefined && { note }) };
  }
  if (alert.status === "resolved") return null;
  return { ...alert, status: "resolved", resolvedBy: by, resolvedAt: at, ...(note !== undefined && { note }) };
}

export interface AlertListQuery {
  status?: AlertStatus;
  session?: string;
  /** The id of the last alert of the previous page (its `nextAfter`). */
  after?: string;
  limit: number;
}

export interface AlertPage {
  alerts: Alert[];
  /** Pass as `after` for the next page; null on the last page. */
  nextAfter: string | null;
}

/**
 * Reads and changes alerts for staff; the HTTP routes check the caller is staff before calling. Answers come as the
 * storage gives them: at once from a synchronous store (an action's read, change and broadcast then run in one
 * turn, so two staff acting at once cannot both change an alert), later from an asynchronous one.
 */
export class AlertService {
  constructor(
    private readonly deps: {
      store: AlertStorage;
      events: SessionEvents;
      now?: () => number;
      /** Told of each change, for the log (ids only). */
      onChanged?: (alert: Alert, action: AlertAction, by: string) => void;
    },
  ) {}

  /** Newest first. Fails with `bad_request` when `after` names no alert. */
  list(query: AlertListQuery): Awaitable<AlertPage> {
    const page = (after: { createdAt: number; id: string } | undefined) =>
      then(this.deps.store.listAlerts({ status: query.status, session: query.session, after, limit: query.limit + 1 }), (rows) => {
        const more = rows.length > query.limit;
        const alerts = more ? rows.slice(0, query.limit) : rows;
        return { alerts, nextAfter: more ? alerts[alerts.length - 1]!.id : null };
      });
    if (query.after === undefined) return page(undefined);
    return then(this.deps.store.getAlert(query.after), (last) => {
      if (!last) throw new SessiondError("bad_request", 'Field "after" is invalid: expected the nextAfter of a previous page (an alert id).');
      return page({ createdAt: Date.parse(last.createdAt), id: last.id });
    });
  }

  /** Fails with `not_found` when there is no such alert. */
  get(id: string): Awaitable<Alert> {
    return then(this.deps.store.getAlert(id), (alert) => {
      if (!alert) throw new SessiondError("not_found", "No such alert.");
      return alert;
    });
  }

  /** Applies the action (see applyAlertAction); broadcasts `alert.updated` only when something changed. */
  act(id: string, action: AlertAction, by: string, note?: string): Awaitable<Alert> {
    return then(this.get(id), (current) => {
      const next = applyAlertAction(current, action, by, new Date((this.deps.now ?? Date.now)()).toISOString(), note);
      if (!next) return current;
      return then(this.deps.store.updateAlert(next), () => {
        this.deps.onChanged?.(next, action, by);
        this.deps.events.emit("alert.updated", { alert: next });
        return next;
      });
    });
  }

  count(session: string): Awaitable<number> {
    return this.deps.store.countAlerts(session);
  }
}
