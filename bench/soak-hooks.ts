// Preloaded into the server by bench/soak.ts only, and inert unless SOAK_HEAP_DIR is set: on SIGUSR2 it writes a
// summary of the heap (object counts by type, after a full GC) and, unless SOAK_HEAP_SNAPSHOTS=0, a V8 heap snapshot.
import { heapStats } from "bun:jsc";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.SOAK_HEAP_DIR;
if (dir) {
  let n = 0;
  process.on("SIGUSR2", () => {
    const i = n++;
    Bun.gc(true);
    const stats = heapStats();
    const summary = {
      at: Date.now(),
      rss: process.memoryUsage.rss(),
      heapSize: stats.heapSize,
      heapCapacity: stats.heapCapacity,
      objectCount: stats.objectCount,
      objectTypeCounts: stats.objectTypeCounts,
    };
    writeFileSync(join(dir, `heap-${i}.json`), JSON.stringify(summary));
    if (process.env.SOAK_HEAP_SNAPSHOTS !== "0") {
      writeFileSync(join(dir, `heap-${i}.heapsnapshot`), Buffer.from(Bun.generateHeapSnapshot("v8", "arraybuffer")));
    }
    // Written last: the soak waits for it before reading the others.
    writeFileSync(join(dir, `heap-${i}.done`), "");
  });
}
