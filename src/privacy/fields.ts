// Which columns hold content and are sealed at rest, and the additional data that binds each value to its row
// (pure). Stores and the re-encryption job (`sessiond rotate-key`, `sessiond encrypt`) share this one list.

export interface EncryptedField {
  table: string;
  column: string;
  /** The columns of the row's natural key, in the order they are bound. */
  key: readonly string[];
}

/** Every sealed column. A table that does not exist yet (a feature not installed) is skipped by the jobs. */
export const ENCRYPTED_FIELDS = [
  { table: "messages", column: "content", key: ["session_id", "seq"] },
  { table: "messages", column: "metadata", key: ["session_id", "seq"] },
  { table: "sessions", column: "config", key: ["id"] },
  { table: "message_analyses", column: "analysis", key: ["session_id", "seq"] },
  { table: "alerts", column: "triggers", key: ["session_id", "seq"] },
  { table: "alerts", column: "note", key: ["session_id", "seq"] },
  { table: "assistant_streams", column: "text", key: ["id"] },
  { table: "assistant_streams", column: "reasoning", key: ["id"] },
  { table: "webhook_outbox", column: "payload", key: ["id"] },
] as const satisfies readonly EncryptedField[];

export type FieldName = `${(typeof ENCRYPTED_FIELDS)[number]["table"]}.${(typeof ENCRYPTED_FIELDS)[number]["column"]}`;

/**
 * The additional data of one stored value: the field's name and the row's key, NUL-separated. A ciphertext copied
 * into another row or column does not open there.
 */
export function aadFor(field: FieldName | string, ...key: ReadonlyArray<string | number>): string {
  return `${field}\0${key.join("\0")}`;
}

/** Shorthands for the stores of this codebase. */
export const aad = {
  // Written out for the two on the hot path (the same text aadFor builds).
  messageContent: (sessionId: string, seq: number) => `messages.content\0${sessionId}\0${seq}`,
  messageMetadata: (sessionId: string, seq: number) => `messages.metadata\0${sessionId}\0${seq}`,
  sessionConfig: (sessionId: string) => aadFor("sessions.config", sessionId),
  analysis: (sessionId: string, seq: number) => aadFor("message_analyses.analysis", sessionId, seq),
  alertTriggers: (sessionId: string, seq: number) => aadFor("alerts.triggers", sessionId, seq),
  alertNote: (sessionId: string, seq: number) => aadFor("alerts.note", sessionId, seq),
  streamText: (streamId: string) => aadFor("assistant_streams.text", streamId),
  streamReasoning: (streamId: string) => aadFor("assistant_streams.reasoning", streamId),
  webhookPayload: (eventId: string) => aadFor("webhook_outbox.payload", eventId),
};
