// Builds the privacy features from the config: the encryption mode and field cipher for the stores (decided at
// start-up against what the database records), the epoch, the audit trail, erasure/export/retention, their routes.
import type { Database } from "bun:sqlite";
import type { SQL } from "bun";
import { readFileSync } from "node:fs";
import type { Config } from "../config/index.ts";
import { AuditStore } from "../db/audit-store.ts";
import { ensureEpoch, hasSessions, readEncryptionMeta, writeEncryptionMeta } from "../db/meta-store.ts";
import { PrivacyStore } from "../db/privacy-store.ts";
import type { PrivacyRouteDeps } from "../http/privacy.ts";
import type { Logger } from "../observability/logger.ts";
import type { Message } from "../protocol/types.ts";
import type { SessionEvents } from "../sessions/events.ts";
import type { SessionService } from "../sessions/session-service.ts";
import type { Subscriber } from "../sessions/subscriber.ts";
import { AuditRecorder } from "../privacy/audit-recorder.ts";
import { decideEncryption } from "../privacy/encryption-state.ts";
import { KeyRingCipher, PLAINTEXT, type EncryptionMode, type FieldCipher } from "../privacy/field-cipher.ts";
import { loadKeyRing, type KeyRing } from "../privacy/keys.ts";
import { PrivacyService } from "../privacy/privacy-service.ts";
import { SharedPrivacyService } from "../privacy/shared-privacy-service.ts";
import { PgAuditStore } from "../pg/audit-store.ts";
import { PgPrivacyStore } from "../pg/privacy-store.ts";
import type { SessionInfo } from "../protocol/types.ts";

/** A start-up problem with keys or the database's encryption, as one sentence. */
export class PrivacySetupError extends Error {}

export interface StorageSetup {
  epoch: string;
  mode: EncryptionMode;
  keyId: string | null;
  cipher: FieldCipher;
}

/** The key ring from the settings, reading ENCRYPTION_KEY_FILE; throws PrivacySetupError with the first problem. */
export function keyRingFromConfig(config: Pick<Config, "ENCRYPTION_KEY" | "ENCRYPTION_KEY_FILE" | "ENCRYPTION_KEYS_OLD">): KeyRing | null {
  const loaded = loadKeyRing(config, (path) => readFileSync(path, "utf8"));
  if (!loaded.ok) throw new PrivacySetupError(loaded.errors[0]!);
  return loaded.ring;
}

/**
 * Decides the encryption mode for this database and key (refusing a wrong or missing key), records what it
 * decided in sessiond_meta, and makes sure the database has an epoch. Call right after migrating.
 */
export function prepareStorage(config: Config, sqlite: Database, logger: Logger): StorageSetup {
  const ring = keyRingFromConfig(config);
  const decision = decideEncryption(ring, readEncryptionMeta(sqlite), hasSessions(sqlite));
  if (!decision.ok) throw new PrivacySetupError(`encryption: ${decision.error}`);
  if (decision.write) writeEncryptionMeta(sqlite, decision.write);
  const cipher = ring && decision.mode !== "off" ? new KeyRingCipher(ring, decision.mode) : PLAINTEXT;
  if (decision.notice === "encrypt") {
    logger.warn("encryption.migrating", { keyId: cipher.keyId, hint: "This database still holds plaintext from before the key was set: run `sessiond encrypt` to seal it (the server keeps running)." });
  } else if (decision.notice === "rotate") {
    logger.warn("encryption.rotating", { keyId: cipher.keyId, hint: "Values sealed with a previous key remain: run `sessiond rotate-key`, then drop the old key from ENCRYPTION_KEYS_OLD." });
  }
  return { epoch: ensureEpoch(sqlite), mode: decision.mode, keyId: cipher.keyId, cipher };
}

export interface PrivacyDeps {
  config: Config;
  sqlite: Database;
  storage: StorageSetup;
  service: SessionService;
  events: SessionEvents;
  logger: Logger;
  messagesAfter: (sessionId: string, afterSeq: number, limit: number) => Message[];
  /** Relative archive paths a session's transcript may have been written to (every format). */
  archiveCandidates?: (s: { sessionId: string; ownerId: string; startedAt: number }) => string[];
  disconnectUser: (userId: string) => number;
  onAuditError?: (error: unknown) => void;
}

export interface PrivacyParts {
  privacy: PrivacyService;
  audit: AuditRecorder;
  routes: PrivacyRouteDeps;
  subscriber: Subscriber;
  /** For /health and the start-up log. */
  details: { encryption: EncryptionMode; keyId?: string; epoch: string };
}

/** Reads by staff from outside a session, into the audit trail; returns the unsubscribe. */
function recordSessionReads(events: SessionEvents, audit: AuditRecorder): () => void {
  return events.on("session.read", ({ sessionId, reader, via }) =>
    audit.record({
      actorId: reader.userId,
      actorRole: reader.role,
      address: reader.address ?? "unknown",
      action: via === "export" ? "session.export" : "session.read",
      objectType: "session",
      objectId: sessionId,
      detail: { via },
    }),
  );
}

/** How often a server still migrating looks whether `sessiond encrypt` has finished, in ms. */
const ENCRYPTION_WATCH_MS = 1000;

export function createPrivacy(deps: PrivacyDeps): PrivacyParts {
  const { config, sqlite, storage, events, logger } = deps;
  const auditStore = new AuditStore(sqlite);
  const audit = new AuditRecorder(auditStore, {
    onError: (e, pending) => {
      logger.error("audit.write_failed", { pending });
      deps.onAuditError?.(e);
    },
  });
  const privacy = new PrivacyService({
    service: deps.service,
    store: new PrivacyStore(sqlite, storage.cipher),
    events,
    audit,
    logger,
    messagesAfter: deps.messagesAfter,
    archiveCandidates: deps.archiveCandidates,
    archiveDir: config.ARCHIVE_DIR,
    disconnectUser: deps.disconnectUser,
    retentionDays: config.RETENTION_DAYS,
    erasedBefore: (id) => auditStore.mentions("session", id, ["session.erase", "retention.erase"]),
  });
  let off: (() => void) | null = null;
  let watching: ReturnType<typeof setInterval> | null = null;
  const cipher = storage.cipher;
  const subscriber: Subscriber = {
    name: "audit",
    start() {
      // `sessiond encrypt` runs beside the server and records when it has sealed everything: from then on every
      // value must open (plaintext is no longer accepted) and /health says "on".
      if (cipher instanceof KeyRingCipher && cipher.mode === "migrating") {
        watching = setInterval(() => {
          let state: string | null;
          try {
            state = readEncryptionMeta(sqlite).state;
          } catch {
            return; // a busy database: asked again at the next tick
          }
          if (state !== "on") return;
          cipher.mode = "on";
          clearInterval(watching!);
          watching = null;
          logger.info("encryption.on", { keyId: cipher.keyId });
        }, ENCRYPTION_WATCH_MS);
      }
      // Reads by staff from outside a session; the entry is queued, written with others a moment later.
      off = recordSessionReads(events, audit);
    },
    async stop() {
      off?.();
      if (watching !== null) clearInterval(watching);
      privacy.stop();
      audit.close();
    },
  };
  return {
    privacy,
    audit,
    routes: { privacy, audit, listAudit: (q) => auditStore.list(q) },
    subscriber,
    details: {
      get encryption() {
        return cipher.mode;
      },
      ...(storage.keyId !== null && { keyId: storage.keyId }),
      epoch: storage.epoch,
    },
  };
}

export interface SharedPrivacyDeps {
  config: Config;
  /** The pool of the PostgreSQL database every node shares. */
  sql: SQL;
  /** The epoch and the encryption decided for that database (preparePgStorage). */
  storage: StorageSetup;
  service: SessionService;
  events: SessionEvents;
  logger: Logger;
  messagesAfter: (sessionId: string, afterSeq: number, limit: number) => Message[] | Promise<Message[]>;
  /** A session's description read from the database (for exports of sessions this node does not hold). */
  sessionInfo: (id: string) => SessionInfo | null | Promise<SessionInfo | null>;
  /** Relative archive paths a session's transcript may have been written to (every format). */
  archiveCandidates?: (s: { sessionId: string; ownerId: string; startedAt: number }) => string[];
  disconnectUser: (userId: string) => number;
  onAuditError?: (error: unknown) => void;
}

export interface SharedPrivacyParts {
  privacy: SharedPrivacyService;
  audit: AuditRecorder;
  routes: PrivacyRouteDeps;
  subscriber: Subscriber;
  details: { encryption: EncryptionMode; epoch: string };
}

/**
 * The privacy features on PostgreSQL (DATABASE_URL): erasure, export, retention and the audit trail in the shared
 * database. Await `privacy.load()` before serving, so that ids erased earlier (by any node) are known to `wasErased`.
 */
export function createSharedPrivacy(deps: SharedPrivacyDeps): SharedPrivacyParts {
  const { config, sql, events, logger } = deps;
  const auditStore = new PgAuditStore(sql);
  const audit = new AuditRecorder(auditStore, {
    onError: (e, pending) => {
      logger.error("audit.write_failed", { pending });
      deps.onAuditError?.(e);
    },
  });
  const privacy = new SharedPrivacyService({
    service: deps.service,
    store: new PgPrivacyStore(sql, deps.storage.cipher),
    events,
    audit,
    logger,
    messagesAfter: deps.messagesAfter,
    sessionInfo: deps.sessionInfo,
    archiveCandidates: deps.archiveCandidates,
    archiveDir: config.ARCHIVE_DIR,
    disconnectUser: deps.disconnectUser,
    retentionDays: config.RETENTION_DAYS,
  });
  let off: (() => void) | null = null;
  const subscriber: Subscriber = {
    name: "audit",
    start() {
      off = recordSessionReads(events, audit);
    },
    async stop() {
      off?.();
      audit.close();
      await audit.settled();
    },
  };
  return {
    privacy,
    audit,
    routes: { privacy, audit, listAudit: (q) => auditStore.list(q) },
    subscriber,
    details: { encryption: deps.storage.mode, ...(deps.storage.keyId !== null && { keyId: deps.storage.keyId }), epoch: deps.storage.epoch },
  };
}
