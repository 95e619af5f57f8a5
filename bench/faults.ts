// The fault suite (`bun run bench:faults`): the long versions of test/faults, against real server processes on
// loopback, with a pass/fail summary. kill -9 under load (10 trials), SIGTERM under load (5 trials), a foreign write
// lock (5 s, and 10 s for the event-loop figure), a full disk on a small tmpfs (root only, skipped otherwise) and
// 2,000 malformed frames. Exit code 0 only when every trial passed.
import { canMountTmpfs, fullDiskTrial } from "../test/faults/full-disk.ts";
import { malformedTrial } from "../test/faults/malformed.ts";
import { kill9Trial, lockTrial, sigtermTrial } from "../test/faults/trials.ts";

const args = process.argv.slice(2);
const only = args.find((a) => !a.startsWith("--"));
const KILL_TRIALS = Number(process.env.FAULT_KILL_TRIALS ?? 10);
const TERM_TRIALS = Number(process.env.FAULT_TERM_TRIALS ?? 5);

interface Row {
  trial: string;
  ok: boolean | "skipped";
  figures: string;
}
const rows: Row[] = [];
const report = (trial: string, ok: boolean | "skipped", figures: string) => {
  rows.push({ trial, ok, figures });
  console.log(`${ok === "skipped" ? "SKIP" : ok ? "PASS" : "FAIL"}  ${trial}: ${figures}`);
};
const wanted = (name: string) => only === undefined || name.startsWith(only);

if (wanted("kill")) {
  let acked = 0;
  let lost = 0;
  let duplicates = 0;
  let gaps = 0;
  for (let i = 1; i <= KILL_TRIALS; i++) {
    const r = await kill9Trial({ connections: 4, depth: 64, acksBefore: 1500 + Math.floor(Math.random() * 3000) });
    acked += r.acked;
    lost += r.ackedLost;
    duplicates += r.duplicates;
    gaps += r.gaps;
    console.log(`  kill -9 trial ${i}: ${r.acked} acked of ${r.sent} sent, all ${r.resent} sent again; lost ${r.ackedLost}, duplicates ${r.duplicates}, gaps ${r.gaps}`);
  }
  report(`kill -9 under pipelined load, ${KILL_TRIALS} trials`, lost === 0 && duplicates === 0 && gaps === 0, `${acked} acks; ${lost} acknowledged lost; ${duplicates} duplicates and ${gaps} sessions with a gap after resending every message with its clientMsgId`);
}

if (wanted("sigterm")) {
  let acked = 0;
  let unacked = 0;
  let lost = 0;
  let refused = 0;
  let bad = 0;
  for (let i = 1; i <= TERM_TRIALS; i++) {
    const r = await sigtermTrial({ connections: 16, depth: 64, acksBefore: 3000 + Math.floor(Math.random() * 3000) });
    acked += r.acked;
    unacked += r.committedUnacked;
    lost += r.ackedLost;
    refused += r.refusedWhileDraining;
    if (r.exitCode !== 0 || r.closeCodes.join() !== "1001") bad++;
    console.log(`  SIGTERM trial ${i}: exit ${r.exitCode}, close ${r.closeCodes.join("/")}; ${r.acked} acked, ${r.stored} stored, ${r.committedUnacked} committed but unacknowledged, ${r.refusedWhileDraining} refused while draining`);
  }
  report(`SIGTERM under pipelined load (16 connections), ${TERM_TRIALS} trials`, unacked === 0 && lost === 0 && bad === 0, `${acked} acks; ${unacked} committed but unacknowledged; ${lost} acknowledged lost; ${refused} refused with unavailable while draining; ${bad} trials without exit 0 + 1001`);
}

if (wanted("lock")) {
  for (const lockMs of [5000, 10_000]) {
    const r = await lockTrial({ lockMs, retryMs: 2000 });
    const quick = r.writePaths.filter((w) => !w.path.endsWith("/messages")).every((w) => w.status === 503 && w.code === "unavailable" && w.ms < 100);
    const ok =
      r.unavailable > 0 && r.otherErrors.length === 0 && r.inOrder && r.recovered && r.stallsOver20ms === 0 && !(r.blockedMaxMs > 20) && r.healthDuring === 503 && r.healthAfter === 200 && quick && r.internalErrors.length === 0 &&
      r.logEvents.filter((e) => e === "storage.fault_started").length === 1 && r.logEvents.at(-1) === "storage.fault_ended";
    report(
      `foreign write lock for ${lockMs / 1000} s (DB_RETRY_MS=2000)`,
      ok,
      `${r.unavailable} unavailable (retryAfterMs ${r.retryAfterMs.join("/")}), ${r.ackedAfterRelease} committed after the release, in order: ${r.inOrder}; ` +
        `${r.pings} pings, slowest ${r.pingMaxMs} ms; worst server stall ${r.stallMaxMs} ms (its own ${r.blockedMaxMs} ms), stalls of its own over 20 ms: ${r.stallsOver20ms}; health ${r.healthDuring} then ${r.healthAfter}; ` +
        `other writes: ${r.writePaths.map((w) => `${w.path} ${w.status} in ${w.ms} ms`).join(", ")}; logs: ${r.logEvents.join(", ")}; SQLITE_BUSY counted ${r.storageErrors}; internal errors logged ${r.internalErrors.length}`,
    );
  }
}

if (wanted("full")) {
  const reason = canMountTmpfs();
  if (reason !== null) report("full disk on a small tmpfs", "skipped", reason);
  else {
    const r = await fullDiskTrial();
    const ok =
      r.firstRefusal?.code === "unavailable" && r.healthWhileFull.health === 503 && r.healthWhileFull.ready === 503 && r.healthAfterSpace.health === 200 && r.ackedAfterSpace &&
      r.sigtermWhileFull.exitCode === 0 && r.sigtermWhileFull.closeCode === 1001 && r.integrity === "ok" && r.ackedLost === 0;
    report(
      "full disk on a 16 MB tmpfs",
      ok,
      `first refusal ${r.firstRefusal?.code} (retryAfterMs ${r.firstRefusal?.retryAfterMs}) in ${r.refusalMs.toFixed(1)} ms; while full /health ${r.healthWhileFull.health} ${r.healthWhileFull.status}, /health/ready ${r.healthWhileFull.ready}; ` +
        `logged ${r.logged.join(", ")}; after freeing space /health ${r.healthAfterSpace.health}, a message acknowledged: ${r.ackedAfterSpace}; ` +
        `SIGTERM while full: exit ${r.sigtermWhileFull.exitCode}, close ${r.sigtermWhileFull.closeCode}; integrity_check ${r.integrity}; acknowledged lost ${r.ackedLost}`,
    );
  }
}

if (wanted("malformed")) {
  const r = await malformedTrial({ frames: 2000 });
  const closes = Object.entries(r.documentedCloses).map(([c, n]) => `${n}×${c}`).join(", ");
  report(
    "2,000 malformed frames",
    r.unexpected.length === 0 && r.serverUp && r.internalErrorsLogged === 0 && r.sessionsWritten === 0 && r.messagesWritten === 0,
    `${r.errorReplies} error frames, closes ${closes}; unexpected ${r.unexpected.length}${r.unexpected.length ? ` (${JSON.stringify(r.unexpected.slice(0, 3))})` : ""}; server up: ${r.serverUp}; ` +
      `internal errors logged ${r.internalErrorsLogged}; sessions written ${r.sessionsWritten}, messages written ${r.messagesWritten}`,
  );
}

const failed = rows.filter((r) => r.ok === false);
console.log(`\n${rows.length - failed.length} of ${rows.length} trials passed${rows.some((r) => r.ok === "skipped") ? " (skipped ones count as passed)" : ""}.`);
process.exit(failed.length === 0 ? 0 : 1);
