// Health checks: what /health reports. The probes live with what they check (storage, subscribers).

export interface HealthProbe {
  /** True while the server accepts work; false while starting and while draining at shutdown. */
  ready(): boolean;
  /** Whether storage can commit; false makes the server unhealthy (503). */
  database(): boolean;
  /**
   * Further checks by name (e.g. `analysis`, `ai`): a false one makes the server `degraded`, still 200, because
   * messages are still committed and delivered.
   */
  checks?: () => Record<string, boolean>;
  connections(): number;
  activeSessions(): number;
  startedAt: number;
  /** Facts about the running server shown on /health as they are (e.g. `encryption: "on"`): no secrets. */
  details?: () => Record<string, string | number | boolean>;
}

/** The status and named checks that GET /health reports (also sent to the operator console). */
export function healthReport(health: HealthProbe): { status: "healthy" | "degraded" | "unhealthy"; checks: Record<string, boolean> } {
  const database = health.database();
  const websocket = health.ready();
  const extra = health.checks?.() ?? {};
  const degraded = !websocket || Object.values(extra).some((ok) => !ok);
  return { status: !database ? "unhealthy" : degraded ? "degraded" : "healthy", checks: { database, websocket, ...extra } };
}
