// The messages table's one codec: a stored row to a Message and a Message's sealed columns, through the field
// cipher (content, metadata, and the joined analysis). Used by every store that reads or rewrites messages.
import type { Analysis } from "../protocol/analysis.ts";
import type { Message } from "../protocol/types.ts";
import type { FieldCipher } from "../privacy/field-cipher.ts";
import { aad } from "../privacy/fields.ts";

export interface MessageRow {
  id: string;
  session_id: string;
  seq: number;
  user_id: string;
  role: Message["role"];
  kind: Message["kind"];
  content: string;
  metadata: string | null;
  client_msg_id: string | null;
  created_at: number;
  /** The stored analysis (JSON), on history reads; the reader's view is decided by the service. */
  analysis?: string | null;
}

/** The stored forms of a message's content and metadata (JSON text or null) for row (sessionId, seq). */
export function sealMessage(cipher: FieldCipher, sessionId: string, seq: number, content: string, metadataJson: string | null): { content: string; metadata: string | null } {
  // Plaintext mode (the default) builds no additional-data strings: the hot path pays nothing for the feature.
  if (cipher.mode === "off") return { content, metadata: metadataJson };
  return {
    content: cipher.seal(content, aad.messageContent(sessionId, seq)),
    metadata: cipher.sealNullable(metadataJson, aad.messageMetadata(sessionId, seq)),
  };
}

/** A stored message row as the domain sees it: the one place its sealed columns are opened. */
export function messageFromRow(cipher: FieldCipher, row: MessageRow): Message {
  if (cipher.mode === "off") return plainMessage(row);
  const message: Message = {
    id: row.id,
    seq: row.seq,
    session: row.session_id,
    userId: row.user_id,
    role: row.role,
    kind: row.kind,
    content: cipher.open(row.content, aad.messageContent(row.session_id, row.seq)),
    createdAt: new Date(row.created_at).toISOString(),
  };
  if (row.metadata !== null) message.metadata = JSON.parse(cipher.open(row.metadata, aad.messageMetadata(row.session_id, row.seq))) as Record<string, unknown>;
  if (row.client_msg_id !== null) message.clientMsgId = row.client_msg_id;
  if (row.analysis) message.analysis = JSON.parse(cipher.open(row.analysis, aad.analysis(row.session_id, row.seq))) as Analysis;
  return message;
}

function plainMessage(row: MessageRow): Message {
  const message: Message = {
    id: row.id,
    seq: row.seq,
    session: row.session_id,
    userId: row.user_id,
    role: row.role,
    kind: row.kind,
    content: row.content,
    createdAt: new Date(row.created_at).toISOString(),
  };
  if (row.metadata !== null) message.metadata = JSON.parse(row.metadata) as Record<string, unknown>;
  if (row.client_msg_id !== null) message.clientMsgId = row.client_msg_id;
  if (row.analysis) message.analysis = JSON.parse(row.analysis) as Analysis;
  return message;
}
