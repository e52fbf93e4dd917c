/**
 * Requests and blocking on the wire (docs/protocol.md "Requests and blocking", decision 0006),
 * written from the spec so this feature does not wait on the generated schema.
 */

export interface BlockOut {
  readonly user_id: string;
  readonly created_at: number;
}

export interface BlockListOut {
  readonly blocks: readonly BlockOut[];
}
