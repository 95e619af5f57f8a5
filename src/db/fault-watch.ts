// The storage fault monitor as a running server uses it: fault logs, the sessiond_storage_errors_total metric, and a
// recovery probe that, while a fault lasts, commits one tiny row a second, so the fault ends (and /health recovers)
// even on a node that a load balancer has drained of all traffic.
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import { StorageFaultMonitor } from "./storage-faults.ts";

export interface FaultWatch {
  readonly monitor: StorageFaultMonitor;
  /** Connects the probe write (the store's probeWrite) once the store exists. */
  attach(probeWrite: () => boolean): void;
  stop(): void;
}

/** @param probeIntervalMs how often the recovery probe writes while a fault lasts; @default 1000 */
export function watchStorageFaults({ logger, metrics, probeIntervalMs = 1000 }: { logger: Logger; metrics: Metrics; probeIntervalMs?: number }): FaultWatch {
  const errors = metrics.counter(
    "sessiond_storage_errors_total",
    "Storage operations that failed with a fault a retry may cure, by SQLite code (SQLITE_BUSY, SQLITE_FULL, SQLITE_IOERR, ...).",
  );
  let probe: (() => boolean) | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  const stopProbe = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const monitor = new StorageFaultMonitor({
    log: logger,
    count: (code) => errors.inc({ code }),
    onChange: (faulted) => {
      if (!faulted) return stopProbe();
      timer ??= setInterval(() => probe?.(), probeIntervalMs);
      (timer as { unref?: () => void }).unref?.();
    },
  });
  metrics.gauge("sessiond_storage_fault", "1 while a storage fault is in progress (no write has succeeded since it started), else 0.", () => (monitor.faulted ? 1 : 0));
  return {
    monitor,
    attach(probeWrite) {
      probe = probeWrite;
    },
    stop: stopProbe,
  };
}
