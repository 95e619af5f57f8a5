// An erased session's archive files, as both privacy services remove them once the erasure has committed.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../observability/logger.ts";
import type { SessionErasure } from "./store.ts";

export type ArchiveCandidates = (s: { sessionId: string; ownerId: string; startedAt: number }) => string[];

/** Absolute paths of the session's possible archive files: the recorded ones and every format's. */
export function archivePathsOf(e: SessionErasure, dir: string | undefined, candidates?: ArchiveCandidates): string[] {
  if (!dir) return [];
  const paths = new Set([...e.archivePaths, ...(candidates?.(e) ?? [])]);
  // Recorded paths are relative to ARCHIVE_DIR by construction; anything else is not ours to delete.
  return [...paths].filter((rel) => !rel.startsWith("/") && !rel.split(/[\\/]/).includes("..")).map((rel) => join(dir, rel));
}

/** Removes the files that exist; returns how many went. A failure other than "not there" is logged, not thrown. */
export function removeArchiveFiles(sessionId: string, paths: readonly string[], logger: Logger): number {
  let removed = 0;
  for (const file of paths) {
    try {
      rmSync(file);
      removed++;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== "ENOENT") logger.warn("privacy.archive_remove_failed", { session: sessionId, code: code ?? "unknown" });
    }
  }
  return removed;
}
