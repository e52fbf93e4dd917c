/** Named shapes of the server's API, from the generated OpenAPI types (`npm run gen:api`). */
import type { components } from "@/api/schema.gen";

type Schemas = components["schemas"];
export type Conversation = Schemas["ConversationOut"];
export type ConversationSummary = Schemas["ConversationSummaryOut"];
export type Message = Schemas["MessageOut"];
export type MessagePage = Schemas["MessagePage"];
export type Member = Schemas["MemberOut"];
export type MemberPage = Schemas["MemberPage"];
export type PublicUser = Schemas["PublicUserOut"];
export type Me = Schemas["MeOut"];
export type Tokens = Schemas["TokensOut"];
export type Prelogin = Schemas["PreloginOut"];
export type KdfParamsWire = Schemas["KdfParamsIn"];
export type SendAck = Schemas["SendAck"];
export type Ticket = Schemas["TicketOut"];

/*
 * The account-keys contract (docs/protocol.md "Accounts and sessions", "Keys and devices";
 * decision 0003), written by hand from the spec so the client does not depend on when the
 * generated schema catches up. Binary fields are unpadded base64url.
 */

export type KeysStatus = "ready" | "setup_required";

export interface LoginOut extends Tokens {
  readonly keys: KeysStatus;
  readonly device_certified: boolean;
}

export interface VaultWire {
  readonly sealed: string;
  readonly password_wrapping: string;
  readonly recovery_wrapping: string;
}

export interface RegisterIn {
  readonly user_id: string;
  readonly display_name: string;
  readonly email: string;
  readonly kdf_salt: string;
  readonly kdf_params: KdfParamsWire;
  readonly auth_secret: string;
  readonly identity_key: string;
  readonly puk_certificate: string;
  readonly device: { readonly device_id: string; readonly name?: string; readonly certificate: string };
  readonly vault: VaultWire;
  readonly recovery_auth: string;
}

export interface RegisterOut {
  readonly user_id: string;
  readonly device_id: string;
}

export interface KeysSetupIn {
  readonly identity_key: string;
  readonly puk_certificate: string;
  readonly device_certificate: string;
  readonly vault: VaultWire;
  readonly recovery_auth: string;
}

export interface VaultOut {
  readonly user_id: string;
  readonly sealed_vault: string;
  readonly password_wrapping: string;
  readonly recovery_wrapping: string;
  readonly vault_version: number;
}

export interface RecoveryVaultOut {
  readonly user_id: string;
  readonly sealed_vault: string;
  readonly recovery_wrapping: string;
  readonly vault_version: number;
}

export interface RecoveryResetIn {
  readonly email: string;
  readonly recovery_auth: string;
  readonly kdf_salt: string;
  readonly kdf_params: KdfParamsWire;
  readonly auth_secret: string;
  readonly password_wrapping: string;
  readonly recovery_wrapping: string;
  readonly new_recovery_auth: string;
  readonly vault_version: number;
}

export interface DeviceOut {
  readonly device_id: string;
  readonly name: string | null;
  readonly created_at: number;
  readonly last_active_at: number | null;
  readonly revoked_at: number | null;
  readonly certified: boolean;
  readonly current: boolean;
}

export interface RevokeDeviceIn {
  readonly auth_secret: string;
  readonly vault_version: number;
  readonly vault: VaultWire;
  readonly recovery_auth: string;
  readonly puk_certificate: string;
}

export interface RevokeDeviceOut {
  readonly vault_version: number;
  readonly keys_version: number;
}

export interface ChangePasswordIn {
  readonly current_auth_secret: string;
  readonly kdf_salt: string;
  readonly kdf_params: KdfParamsWire;
  readonly auth_secret: string;
  readonly password_wrapping: string;
  readonly vault_version: number;
  readonly keep_other_sessions?: boolean;
}
