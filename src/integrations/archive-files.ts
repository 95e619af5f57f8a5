// Where a session's archive files can be, for erasure (pure): every format's deterministic path under ARCHIVE_DIR,
// so a file is found even if its job row is gone or the format setting changed since it was written.
import { join } from "node:path";
import { archiveRelativePath } from "./archive-path.ts";
import { TRANSCRIPT_EXTENSIONS, type TranscriptFormat } from "../sessions/transcript.ts";

/** Paths relative to ARCHIVE_DIR, one per transcript format. */
export function archiveCandidates(s: { sessionId: string; ownerId: string; startedAt: number }): string[] {
  return (Object.keys(TRANSCRIPT_EXTENSIONS) as TranscriptFormat[]).map((format) => {
    const { dir, file } = archiveRelativePath(s.ownerId, s.startedAt, s.sessionId, format);
    return join(...dir, file);
  });
}
