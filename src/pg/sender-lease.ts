// One webhook sender among the nodes of one PostgreSQL database: a session-level advisory lock (see PgSenderLease).
import type { ReservedSQL, SQL } from "bun";

type Row = Record<string, unknown>;

/** Any fixed 64-bit key, the same on every node: "sessiond webhooks" as digits. */
export const SENDER_LOCK_KEY = 5_353_010_100_000_002n;

/**
 * Which node's webhook sender delivers: the one holding a session-level advisory lock on a connection it keeps
 * reserved. When that node dies its connection closes, PostgreSQL frees the lock, and another node's next
 * `acquire` takes it over. Reserving takes a connection out of the pool for as long as the lease is held.
 */
export class PgSenderLease {
  private conn: ReservedSQL | null = null;
  private attempt: Promise<boolean> | null = null;

  constructor(
    private readonly sql: SQL,
    private readonly key: bigint = SENDER_LOCK_KEY,
  ) {}

  /** True while this node holds the lease (checked on its connection each call); never throws. */
  acquire(): Promise<boolean> {
    // Overlapping calls share one attempt, so a node never reserves two connections for one lease.
    this.attempt ??= this.tryAcquire().finally(() => (this.attempt = null));
    return this.attempt;
  }

  private async tryAcquire(): Promise<boolean> {
    if (this.conn) {
      try {
        // The lock lives as long as the session: a connection that still answers still holds it.
        await this.conn.unsafe("SELECT 1");
        return true;
      } catch {
        // The connection broke, and the lock with it: drop it, and try a new one on the next call.
        await this.drop();
        return false;
      }
    }
    let conn: ReservedSQL;
    try {
      conn = await this.sql.reserve();
    } catch {
      return false;
    }
    try {
      const [r]: Row[] = await conn.unsafe("SELECT pg_try_advisory_lock($1::bigint) AS ok", [this.key.toString()]);
      if (r?.ok === true) {
        this.conn = conn;
        return true;
      }
      await conn.release();
    } catch {
      await conn.close().catch(() => {});
    }
    return false;
  }

  /** Whether this node held the lease at its last `acquire` (no round trip). */
  get held(): boolean {
    return this.conn !== null;
  }

  /** Unlocks and gives the connection back; a connection whose unlock failed is closed (which frees the lock). */
  async release(): Promise<void> {
    const conn = this.conn;
    if (!conn) return;
    this.conn = null;
    try {
      const [r]: Row[] = await conn.unsafe("SELECT pg_advisory_unlock($1::bigint) AS ok", [this.key.toString()]);
      if (r?.ok === true) {
        await conn.release();
        return;
      }
    } catch {
      // fall through: close it
    }
    await conn.close().catch(() => {});
  }

  private async drop(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    await conn?.close().catch(() => {});
  }
}
