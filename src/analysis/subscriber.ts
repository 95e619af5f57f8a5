// AnalysisSubscriber: every committed user message of a session with analysis on goes through a bounded queue to
// the analyzers; results are stored in batches (one transaction each) and announced once. Drops and crashes are
// recovered by the catch-up, which reads "user messages without an analysis" from storage (its cursor). A synchronous
// store is used in place (no promise per batch or read); an asynchronous one has one batch in flight at a time.
import { isPending, type Awaitable } from "../sessions/awaitable.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import { WorkQueue } from "../sessions/work-queue.ts";
import { alertFor, raisesAlert } from "./alerts.ts";
import type { TimeBudget } from "./budget.ts";
import type { PipelineResult } from "./pipeline.ts";
import type { AnalysisStorage, AnalysisWork, NewAnalysis, SaveOutcome } from "./store.ts";
import type { Alert, Analysis, AnalysisCore, RiskLevel } from "./types.ts";

/** Messages of sessions that ended longer ago than this are not caught up (they are read-only history). */
export const CATCH_UP_HORIZON_MS = 24 * 60 * 60 * 1000;

export interface AnalysisSubscriberOptions {
  /** ANALYSIS_QUEUE_MAX: messages that may wait. */
  queueMax: number;
  /** ALERT_MIN_RISK */
  alertMinRisk: Exclude<RiskLevel, "none">;
  /** ANALYSIS_DEFAULT=on: the setting of sessions stored without one. */
  defaultEnabled: boolean;
  /** Messages analysed at once (batched into the worker; with a model, requests in flight). @default 64 */
  concurrency?: number;
  /** How often a catch-up runs while dropped messages are outstanding, in ms. @default 5000 */
  catchUpIntervalMs?: number;
  /** Most results stored in one transaction. @default 256 */
  maxStoreBatch?: number;
  /** Least time between two storing transactions, in ms (results meanwhile share the next). @default 5 */
  flushIntervalMs?: number;
  /** Testing only (ANALYSIS_STORE_DELAY_MS): wait this long between analysing a message and storing it. @default 0 */
  storeDelayMs?: number;
  /** Longest stop() waits for analyses in flight before giving up on them (the catch-up redoes them), in ms. @default 3000 */
  stopWaitMs?: number;
}

export interface AnalysisSubscriberDeps {
  events: SessionEvents;
  service: SessionService;
  store: AnalysisStorage;
  analyze: (text: string) => Promise<PipelineResult>;
  newAlertId: () => string;
  now?: () => number;
  onDropped?: () => void;
  onAnalysed?: (seconds: number) => void;
  onAlert?: (alert: Alert) => void;
  /** Told when storing a batch failed (the messages stay unanalysed in storage and are caught up later). */
  onError?: (error: unknown, where: string) => void;
  onCatchUp?: (found: number, full: boolean) => void;
  /** The main thread's share for analysis; storing results counts against it. */
  budget?: TimeBudget;
}

interface Analysed {
  work: AnalysisWork;
  core: AnalysisCore;
  done: () => void;
}

const key = (session: string, seq: number) => `${session}\u0000${seq}`;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Rows read per catch-up query, and the widest seq range one query scans (bounds each synchronous read). */
const CATCH_UP_PAGE = 200;
/**
 * Main-thread CPU per analysed message outside the measured steps (posting, replies, storing): the commit listener,
 * the WorkQueue and promise hops, and the garbage collection of results. `bun run bench:analysis` measured about
 * 65 µs per analysed message in all on the reference machine (2-core EPYC), of which about 20 µs in the measured
 * steps; the rest is charged here per message, so the share the budget enforces is the real one.
 */
const PLUMBING_MS_PER_MESSAGE = 0.045;
const CATCH_UP_WINDOW = 2000;

export class AnalysisSubscriber implements Subscriber {
  readonly name = "analysis";
  private readonly queue: WorkQueue<AnalysisWork>;
  private readonly queued = new Set<string>();
  /** Per session, the lowest seq that was dropped (or failed to store) since the last catch-up of it. */
  private floors = new Map<string, number>();
  private pendingStore: Analysed[] = [];
  private storeScheduled = false;
  private lastFlushAt = -Infinity;
  /** The batch an asynchronous store is saving, until it is stored and announced; results meanwhile wait for the next. */
  private saving: Promise<void> | null = null;
  private catchingUp: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  /** Set once stop() has stored what it could; later results are left for the catch-up after the restart. */
  private storeClosed = false;
  private lastProgressAt: number;
  private readonly opts: Required<AnalysisSubscriberOptions>;
  private readonly now: () => number;

  constructor(
    private readonly deps: AnalysisSubscriberDeps,
    options: AnalysisSubscriberOptions,
  ) {
    this.opts = { concurrency: 64, catchUpIntervalMs: 5000, maxStoreBatch: 256, flushIntervalMs: 5, storeDelayMs: 0, stopWaitMs: 3000, ...options };
    this.now = deps.now ?? Date.now;
    this.lastProgressAt = this.now();
    this.queue = new WorkQueue<AnalysisWork>((work) => this.handle(work), {
      capacity: this.opts.queueMax,
      concurrency: this.opts.concurrency,
      onDrop: (work) => this.dropped(work),
      onError: (e) => deps.onError?.(e, "analysis.handle"),
      now: this.now,
    });
  }

  /** Messages waiting for analysis. */
  get depth(): number {
    return this.queue.depth;
  }

  /**
   * False when the queue is stuck: messages have waited longer than `ms` while nothing was stored for that long.
   */
  healthy(ms = 60_000): boolean {
    return this.queue.oldestWaitMs() <= ms || this.now() - this.lastProgressAt <= ms;
  }

  start(): void {
    this.unsubscribe = this.deps.events.on("message.committed", ({ message }) => {
      if (message.role !== "user") return;
      if (!this.deps.service.analysisSetting(message.session)?.enabled) return;
      this.enqueue({ session: message.session, seq: message.seq, messageId: message.id, userId: message.userId, content: message.content });
    });
    this.timer = setInterval(() => this.maybeCatchUp(), this.opts.catchUpIntervalMs);
    // Messages committed while the server was down, or analysed but not stored when it stopped.
    this.catchUp("all");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    this.queue.stop();
    await Promise.race([this.queue.idle(), Bun.sleep(this.opts.stopWaitMs)]);
    await this.catchingUp;
    // An asynchronous store: the batch it is saving, then one more with what is left (each as long as stopWaitMs at
    // most: an unreachable database must not hold the shutdown; the catch-up redoes what was not stored).
    if (this.saving) await this.settled(this.saving);
    this.flushStore();
    if (this.saving) await this.settled(this.saving);
    this.storeClosed = true;
  }

  private settled(saving: Promise<void>): Promise<void> {
    return Promise.race([saving, Bun.sleep(this.opts.stopWaitMs)]);
  }

  /** Resolves when nothing waits, is in flight, or is being caught up (for tests and shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      await this.catchingUp;
      await this.queue.idle();
      if (this.pendingStore.length === 0 && !this.catchingUp && !this.saving && this.queue.depth === 0 && this.queue.inFlight === 0) return;
      await nextTurn();
    }
  }

  private enqueue(work: AnalysisWork): void {
    // A full queue refuses (and counts) it at once; the de-duplication only matters for what can get in.
    if (this.queue.depth >= this.opts.queueMax) {
      this.queue.push(work);
      return;
    }
    const k = key(work.session, work.seq);
    if (this.queued.has(k)) return;
    if (this.queue.push(work)) this.queued.add(k);
  }

  private dropped(work: AnalysisWork): void {
    this.deps.onDropped?.();
    this.remember(work.session, work.seq);
  }

  private remember(session: string, seq: number): void {
    const floor = this.floors.get(session);
    if (floor === undefined || seq < floor) this.floors.set(session, seq);
  }

  private async handle(work: AnalysisWork): Promise<void> {
    const k = key(work.session, work.seq);
    try {
      let result: PipelineResult;
      try {
        result = await this.deps.analyze(work.content);
      } catch (e) {
        // A stopped worker rejects at shutdown: the message stays unanalysed for the catch-up after the restart.
        if (this.stopped) return;
        // Anything else is a bug; the catch-up tries the message again rather than let it go unanalysed.
        this.remember(work.session, work.seq);
        throw e;
      }
      const { core, seconds } = result;
      this.deps.onAnalysed?.(seconds);
      // The queue and promise plumbing of one message, which no clock around a single step sees.
      this.deps.budget?.spend(PLUMBING_MS_PER_MESSAGE);
      if (this.opts.storeDelayMs > 0) await Bun.sleep(this.opts.storeDelayMs);
      if (this.storeClosed) return;
      await new Promise<void>((done) => {
        this.pendingStore.push({ work, core, done });
        if (this.pendingStore.length >= this.opts.maxStoreBatch) this.flushStore();
        else this.scheduleStore();
      });
    } finally {
      this.queued.delete(k);
    }
  }

  private scheduleStore(): void {
    if (this.storeScheduled) return;
    this.storeScheduled = true;
    // Results that arrive in the same turn share one transaction, and transactions are at least flushIntervalMs
    // apart: a lone result is stored at once, a busy stream of them in a few larger transactions.
    const fire = () => {
      this.storeScheduled = false;
      this.flushStore();
    };
    const wait = this.lastFlushAt + this.opts.flushIntervalMs - performance.now();
    if (wait > 0) setTimeout(fire, wait);
    else setImmediate(fire);
  }

  private flushStore(): void {
    // While a batch is being saved, results wait: it schedules the next flush when it settles.
    if (this.pendingStore.length === 0 || this.saving) return;
    if (this.deps.budget) this.deps.budget.measure(() => this.storeBatch());
    else this.storeBatch();
  }

  private storeBatch(): void {
    // Up to maxStoreBatch: more wait only while an asynchronous store is saving the batch before.
    const batch = this.pendingStore.splice(0, this.opts.maxStoreBatch);
    this.lastFlushAt = performance.now();
    if (this.storeClosed) {
      for (const b of batch) b.done();
      return;
    }
    const at = new Date(this.now()).toISOString();
    const { alertMinRisk } = this.opts;
    const items: NewAnalysis[] = batch.map(({ work, core }) => {
      const analysis: Analysis = { ...core, at };
      return {
        session: work.session,
        seq: work.seq,
        messageId: work.messageId,
        analysis,
        alert: raisesAlert(core.crisis.risk_level, alertMinRisk) ? alertFor(work, analysis, alertMinRisk, this.deps.newAlertId()) : null,
      };
    });
    let saved: Awaitable<SaveOutcome[]>;
    try {
      saved = this.deps.store.save(items);
    } catch (e) {
      this.stored(batch, items, null, e);
      return;
    }
    if (!isPending(saved)) {
      this.stored(batch, items, saved, null);
      return;
    }
    // The answer comes later: announced then, and counted against the budget like the synchronous store's work.
    const settle = (outcomes: SaveOutcome[] | null, error: unknown) => {
      if (this.deps.budget) this.deps.budget.measure(() => this.stored(batch, items, outcomes, error));
      else this.stored(batch, items, outcomes, error);
    };
    const saving: Promise<void> = Promise.resolve(saved)
      .then(
        (outcomes) => settle(outcomes, null),
        (e: unknown) => settle(null, e),
      )
      .finally(() => {
        if (this.saving === saving) this.saving = null;
        if (this.pendingStore.length > 0) this.scheduleStore();
      });
    this.saving = saving;
  }

  /** A batch's save has answered: `outcomes`, or `error` (then nothing of it was stored: one transaction). */
  private stored(batch: readonly Analysed[], items: readonly NewAnalysis[], outcomes: SaveOutcome[] | null, error: unknown): void {
    let failed = false;
    try {
      if (outcomes === null) throw error;
      this.lastProgressAt = this.now();
      outcomes.forEach((outcome, i) => {
        if (!outcome.stored) return;
        const item = items[i]!;
        this.announce(item, outcome.alert);
      });
    } catch (e) {
      // Nothing of the batch was stored (one transaction): the catch-up finds these messages again.
      failed = true;
      this.deps.onError?.(e, "analysis.store");
      for (const item of items) this.remember(item.session, item.seq);
    } finally {
      for (const b of batch) b.done();
    }
    // After a failure, the periodic catch-up tries again (not at once: the fault may last); by then each handle() of
    // the batch has let go of its message, so the catch-up finds it again instead of taking it for still in hand.
    if (!failed && this.queue.depth === 0) this.maybeCatchUp();
  }

  /** After the commit: cached aggregates, then the frames (each announcement once, for a newly stored row only). */
  private announce(item: NewAnalysis, alert: Alert | null): void {
    const { service, events } = this.deps;
    try {
      service.recordAnalysis(item.session, item.seq, item.analysis);
      const share = service.analysisSetting(item.session)?.share ?? "staff";
      events.emit("analysis.stored", { sessionId: item.session, seq: item.seq, analysis: item.analysis, share });
      if (alert) {
        this.deps.onAlert?.(alert);
        events.emit("alert.raised", { alert });
      }
    } catch (e) {
      this.deps.onError?.(e, "analysis.announce");
    }
  }

  private maybeCatchUp(): void {
    if (this.stopped || this.catchingUp || this.floors.size === 0) return;
    if (this.queue.depth > this.opts.queueMax / 2) return;
    this.catchUp("dropped");
  }

  /**
   * `all`: every eligible session from its first message (at start). `dropped`: only sessions with dropped or
   * unstored messages, from the lowest such seq. Reads bounded pages and waits for room in the queue, so it never
   * causes drops itself.
   */
  private catchUp(scope: "all" | "dropped"): void {
    if (this.catchingUp) return;
    const targets = this.floors;
    if (scope === "dropped") this.floors = new Map();
    const run = async () => {
      let found = 0;
      try {
        const since = this.now() - CATCH_UP_HORIZON_MS;
        if (scope === "all") {
          let after = "";
          for (;;) {
            const read = this.deps.store.catchUpSessions(since, this.opts.defaultEnabled, after, 200);
            const page = isPending(read) ? await read : read;
            for (const s of page) found += await this.scan(s.id, 0, s.lastSeq);
            if (page.length < 200 || this.stopped) break;
            after = page[page.length - 1]!.id;
            await nextTurn();
          }
        } else {
          for (const [session, floor] of targets) {
            if (this.stopped) {
              this.remember(session, floor);
              continue;
            }
            const read = this.deps.store.catchUpSession(session, since);
            const s = isPending(read) ? await read : read;
            if (!s || !this.deps.service.analysisSetting(session)?.enabled) continue;
            found += await this.scan(session, floor - 1, s.lastSeq);
          }
        }
      } catch (e) {
        this.deps.onError?.(e, "analysis.catch_up");
        for (const [session, floor] of targets) if (scope === "dropped") this.remember(session, floor);
      }
      this.deps.onCatchUp?.(found, scope === "all");
    };
    // Cleared after it settles (a run with nothing to read finishes before this assignment would otherwise happen).
    const running: Promise<void> = run().finally(() => {
      if (this.catchingUp === running) this.catchingUp = null;
      // Drops that happened meanwhile, once the queue has room.
      if (this.queue.depth === 0) this.maybeCatchUp();
    });
    this.catchingUp = running;
  }

  /** Queues the session's unanalysed user messages after `afterSeq` up to `lastSeq`; returns how many. */
  private async scan(session: string, afterSeq: number, lastSeq: number): Promise<number> {
    let cursor = afterSeq;
    let found = 0;
    while (cursor < lastSeq && !this.stopped) {
      const through = Math.min(cursor + CATCH_UP_WINDOW, lastSeq);
      const read = this.deps.store.unanalysed(session, cursor, through, CATCH_UP_PAGE);
      const rows = isPending(read) ? await read : read;
      for (const work of rows) {
        while (this.queue.depth >= this.opts.queueMax / 2 && !this.stopped) await Bun.sleep(20);
        if (this.stopped) {
          this.remember(session, work.seq);
          return found;
        }
        this.enqueue(work);
        found++;
      }
      cursor = rows.length === CATCH_UP_PAGE ? rows[rows.length - 1]!.seq : through;
      await nextTurn();
    }
    return found;
  }
}
