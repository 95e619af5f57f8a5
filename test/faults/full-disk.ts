// The full-disk trial: DATA_DIR on a small tmpfs (Linux, root only), filled to the last byte while a client writes.
// Shared by test/faults/storage.test.ts and `bun run bench:faults`.
import { Database } from "bun:sqlite";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, startServer, token, type ServerProcess } from "../helpers.ts";
import { LoadClient } from "./load-client.ts";
import { TRIAL_ENV } from "./trials.ts";

/** Null when a small tmpfs can be mounted here; otherwise why not (printed by the caller as the skip reason). */
export function canMountTmpfs(): string | null {
  if (process.platform !== "linux") return "a tmpfs needs Linux";
  if (process.getuid?.() !== 0) return "mounting a small tmpfs needs root";
  const dir = mkdtempSync(join(tmpdir(), "sessiond-tmpfs-probe-"));
  try {
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    if (mounted.exitCode !== 0) return `mount -t tmpfs failed: ${mounted.stderr.toString().trim() || `exit ${mounted.exitCode}`}`;
    Bun.spawnSync(["umount", dir]);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes `path` until the file system refuses another byte. */
function fillDisk(path: string): void {
  const fd = openSync(path, "a");
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 512, 1]) {
      const chunk = Buffer.alloc(size, 120);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (e) {
          if ((e as { code?: string }).code === "ENOSPC") break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function health(server: ServerProcess): Promise<{ health: number; ready: number; status: string }> {
  const h = await api(server.http, "GET", "/health");
  const r = await api(server.http, "GET", "/health/ready");
  return { health: h.status, ready: r.status, status: h.body.status };
}

/** Sends one message at a time until one is refused (or `max` were acknowledged). */
async function sendUntilRefused(client: LoadClient, max: number): Promise<{ code: string; retryAfterMs?: number; ms: number } | null> {
  for (let i = 0; i < max; i++) {
    const t0 = performance.now();
    const id = client.send();
    while (!client.acks.has(id) && !client.refused.has(id) && !client.closed) await Bun.sleep(1);
    const refused = client.refused.get(id);
    if (refused) return { ...refused, ms: performance.now() - t0 };
  }
  return null;
}

export interface FullDiskResult {
  firstRefusal: { code: string; retryAfterMs?: number } | null;
  refusalMs: number;
  healthWhileFull: { health: number; ready: number; status: string };
  logged: string[];
  healthAfterSpace: { health: number; ready: number; status: string };
  ackedAfterSpace: boolean;
  sigtermWhileFull: { exitCode: number; closeCode: number | undefined };
  integrity: string;
  ackedLost: number;
  /** Seqs missing between 1 and the highest stored: refused commits must not use any up. */
  seqGaps: number;
}

/** Fills a 16 MB tmpfs under a running server, frees it, fills it again and stops the server while it is full. */
export async function fullDiskTrial({ sizeMb = 16 } = {}): Promise<FullDiskResult> {
  const mountPoint = mkdtempSync(join(tmpdir(), "sessiond-full-"));
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", mountPoint]);
  if (mounted.exitCode !== 0) throw new Error(`mount failed: ${mounted.stderr.toString()}`);
  const dataDir = join(mountPoint, "data");
  const filler = join(mountPoint, "filler");
  let server: ServerProcess | null = null;
  try {
    server = await startServer({ dataDir, env: TRIAL_ENV });
    const client = await LoadClient.open(server.ws, await token("full-u0"), "full-s0", "full");
    for (let i = 0; i < 50; i++) client.send();
    await client.waitForAcks(50);

    fillDisk(filler);
    // The WAL may still have room from before: writing on fills it, then every commit is refused.
    const firstRefusal = await sendUntilRefused(client, 20_000);
    const healthWhileFull = await health(server);
    const logged = server.logs.filter((l) => l.includes('"storage.fault_started"')).map((l) => JSON.parse(l).code as string);

    rmSync(filler);
    const deadline = performance.now() + 10_000;
    let healthAfterSpace = await health(server);
    while (healthAfterSpace.health !== 200 && performance.now() < deadline) {
      await Bun.sleep(100);
      healthAfterSpace = await health(server);
    }
    const probe = client.send();
    await client.waitForAcks(client.acks.size + 1, 5000);
    const ackedAfterSpace = client.acks.has(probe);

    // Full again, and a SIGTERM while it is: the sockets still close with 1001 and the process exits 0.
    fillDisk(filler);
    await sendUntilRefused(client, 20_000);
    const exitCode = await server.stop("SIGTERM");
    await client.closedAt();
    const sigtermWhileFull = { exitCode, closeCode: client.closed?.code };
    server = null;

    rmSync(filler);
    const db = new Database(join(dataDir, "sessiond.db"));
    const integrity = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()!.integrity_check;
    const rows = db.query<{ client_msg_id: string; seq: number }, []>("SELECT client_msg_id, seq FROM messages WHERE session_id = 'full-s0'").all();
    db.close();
    const stored = new Set(rows.map((r) => r.client_msg_id));
    const seqGaps = Math.max(0, ...rows.map((r) => r.seq)) - rows.length;
    let ackedLost = 0;
    for (const id of client.acks.keys()) if (!stored.has(id)) ackedLost++;
    return {
      firstRefusal: firstRefusal && { code: firstRefusal.code, retryAfterMs: firstRefusal.retryAfterMs },
      refusalMs: firstRefusal?.ms ?? NaN,
      healthWhileFull,
      logged,
      healthAfterSpace,
      ackedAfterSpace,
      sigtermWhileFull,
      integrity,
      ackedLost,
      seqGaps,
    };
  } finally {
    if (server) {
      server.proc.kill("SIGKILL");
      await server.exited;
    }
    Bun.spawnSync(["umount", "-l", mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
}
