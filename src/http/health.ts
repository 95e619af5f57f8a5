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
}
