/**
 * The message pipeline: a server message in, what the UI shows out. Public rooms carry `body`
 * as text; private conversations carry an envelope, which the E2EE work decrypts here (the seam:
 * `MessageDecoder`). Until then an envelope shows as a locked placeholder, never as raw bytes.
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
}

export type MessageDecoder = (message: Message) => ChatMessage;

export const decodeMessage: MessageDecoder = (m) => ({
  id: m.id,
  conversationId: m.conversation_id,
  seq: m.seq,
  senderId: m.sender_id,
  clientMsgId: m.client_msg_id,
  createdAt: m.created_at,
  text: m.body ?? "Encrypted message (opens in the next version)",
  encrypted: m.body == null,
});
