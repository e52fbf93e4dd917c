/**
 * Wire shapes of the private-conversation endpoints (docs/decisions/0005, docs/protocol.md
 * "Private conversations"), written by hand so the client does not wait for the generated schema.
 * Binary fields are unpadded base64url.
 */

/** `POST /api/v1/groups`: the group's id (a fresh UUID v4) and its signed `create` entry. */
export interface CreateGroupIn {
  readonly conversation_id: string;
  readonly name: string;
  readonly entry: string;
}

/** `POST /api/v1/groups/{id}/membership` answers with the index the entry got. */
export interface MembershipAppendOut {
  readonly index: number;
}

/** `GET /api/v1/conversations/{id}/membership?after=I`. */
export interface MembershipLogOut {
  readonly entries: readonly { readonly index: number; readonly entry: string }[];
  readonly head_index: number;
}
