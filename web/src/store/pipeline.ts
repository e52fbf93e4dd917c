/**
 * The message pipeline: server messages in, what the UI shows out. Public rooms carry `body` as
 * text; private conversations carry an envelope, which `MessageCrypto` (session/message-crypto)
 * opens: asynchronously, in chunks, in seq order. A message that cannot be opened still comes
 * out, with `failure` set to the honest reason (never blank, never dropped).
 */
import type { Message } from "@/api/types";

export interface ChatMessage {
  readonly id: number;
  readonly conversationId: string;
  readonly seq: number;
  readonly senderId: string;
  readonly clientMsgId: string;
  readonly createdAt: number;
  readonly text: string;
  readonly encrypted: boolean;
  /** Why an encrypted message could not be opened (then `text` is this reason). */
  readonly failure?: string;
  /** A server admin removed this public-room message: it has no text any more. */
  readonly removed?: boolean;
}

/** Decodes a batch (a page, a backfill, one live frame); the result is in ascending seq. */
export type MessageDecoder = (messages: readonly Message[]) => Promise<ChatMessage[]>;

/** Shown for an envelope when this browser has no keys to try (signed out, locked). */
export const LOCKED_TEXT = "Encrypted message (unlock to read)";

/** Shown in place of a message a server admin removed. */
export const REMOVED_TEXT = "Message removed by a moderator";

/** Without the crypto: public text as is, an envelope as a locked placeholder. */
export function decodePlain(m: Message): ChatMessage {
  if (m.removed === true) return removedMessage(m);
  return {
    id: m.id,
    conversationId: m.conversation_id,
    seq: m.seq,
    senderId: m.sender_id,
    clientMsgId: m.client_msg_id,
    createdAt: m.created_at,
    text: m.body ?? LOCKED_TEXT,
    encrypted: m.body == null,
  };
}

export const decodeMessages: MessageDecoder = (messages) =>
  Promise.resolve([...messages].sort((a, b) => a.seq - b.seq).map(decodePlain));

/** A removed message keeps its place (its seq) with no text; the server sends no body for it. */
export function removedMessage(
  m: Pick<Message, "id" | "conversation_id" | "seq" | "sender_id" | "client_msg_id" | "created_at">,
): ChatMessage {
  return {
    id: m.id,
    conversationId: m.conversation_id,
    seq: m.seq,
    senderId: m.sender_id,
    clientMsgId: m.client_msg_id,
    createdAt: m.created_at,
    text: REMOVED_TEXT,
    encrypted: false,
    removed: true,
  };
}
