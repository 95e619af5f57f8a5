// Atomic file writes for archives: a temporary file in the target folder, fsync, rename over the final name,
// fsync the folder. A crash leaves either no file or the whole file, never a partial one under the final name.
import { mkdir, open, readdir, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * Writes `chunks` to `dir/name` atomically, creating `dir` and its parents as needed. Writing the
 * same name again replaces the file whole, so a retry after a crash never leaves two. Leftover temporary files of
 * this name (from a crash mid-write) are removed first. `dir` must be absolute.
 */
export async function writeFileAtomic(dir: string, name: string, chunks: Iterable<string> | AsyncIterable<string>): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o750 });
  for (const entry of await readdir(dir)) {
    if (entry.startsWith(`.${name}.`) && entry.endsWith(".tmp")) await unlink(join(dir, entry)).catch(() => {});
  }
  const tmp = join(dir, `.${name}.${process.pid}-${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16)}.tmp`);
  const fh = await open(tmp, "wx", 0o640);
  try {
    for await (const chunk of chunks) await fh.write(chunk, null, "utf8");
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, join(dir, name));
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
  // Folders made just now are entries in their parents: make those entries durable too, up to the first one made.
  if (created !== undefined) {
    for (let d = dirname(dir); ; d = dirname(d)) {
      await syncDir(d);
      if (d === dirname(created) || d === dirname(d)) break;
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
