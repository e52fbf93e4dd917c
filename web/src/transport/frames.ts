/** WebSocket frames (docs/protocol.md "WebSocket"); every frame is one JSON object with a type. */
import type { Conversation, Message } from "@/api/types";

export type ServerFrame =
  /**
   * `protocol` 2 (absent before): no `message.new` echo of this socket's own sends (the ack is
   * the message) and several sends in flight at once, each ack carrying its `ref`.
   */
  | { type: "ready"; user_id: string; device_id: string; heartbeat_s: number; protocol?: number }
  | {
      type: "message.ack";
      ref: string | null;
      conversation_id: string;
      client_msg_id: string;
      seq: number;
      message_id: number;
      created_at: number;
      duplicate: boolean;
    }
  | { type: "message.new"; message: Message }
  | { type: "sync.gap"; conversation_id: string; after_seq: number; last_seq: number }
  | { type: "sync.done" }
  /** The server's fan-out lost events: `resume` within a random part of `within_ms`. */
  | { type: "sync.stale"; within_ms: number }
  | { type: "typing"; conversation_id: string; user_id: string }
  | { type: "receipt"; conversation_id: string; user_id: string; seq: number }
  | { type: "presence"; user_id: string; status: string; last_seen: number | null }
  /** The answer to `presence.watch`: the watched users this client may see. */
  | {
      type: "presence.snapshot";
      ref: string | null;
      presences: { user_id: string; status: string; last_seen: number | null }[];
    }
  | { type: "member.joined"; conversation_id: string; user_id: string }
  | { type: "member.left"; conversation_id: string; user_id: string }
  | { type: "conversation.updated"; conversation: Conversation }
  /** A server admin removed a public-room message: its seq stays, its text is gone. */
  | { type: "message.removed"; conversation_id: string; seq: number; message_id: number }
  /** A server admin deleted a public room. */
  | { type: "conversation.removed"; conversation_id: string }
  | { type: "session.revoked" }
  | { type: "pong"; ref: string | null }
  | {
      type: "error";
      code: string;
      message: string;
      ref?: string | null;
      field?: string | null;
      /** With `stale_key_generation`: the conversation's current generation and whether it is stale. */
      current_generation?: number;
      stale?: boolean;
    };

export type ClientFrame =
  | { type: "auth"; ticket: string }
  | { type: "resume"; positions: Record<string, number> }
  | { type: "message.send"; ref: string; conversation_id: string; client_msg_id: string; body: string }
  | {
      type: "message.send";
      ref: string;
      conversation_id: string;
      client_msg_id: string;
      envelope: { generation: number; ciphertext: string };
    }
  | { type: "typing"; conversation_id: string }
  | { type: "read"; conversation_id: string; seq: number }
  | { type: "presence.set"; status: "online" | "away" }
  | { type: "presence.watch"; user_ids: string[] }
  | { type: "ping"; ref: string };

export function parseServerFrame(data: unknown): ServerFrame | null {
  if (typeof data !== "string") {
    return null;
  }
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string") {
      return value as ServerFrame;
    }
  } catch {
    return null;
  }
  return null;
}
