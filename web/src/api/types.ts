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
export type AuditEntry = Schemas["AuditEntryOut"];
export type AuditLogPage = Schemas["AuditLogPage"];
export type Tokens = Schemas["TokensOut"];
export type Prelogin = Schemas["PreloginOut"];
/** Argon2id parameters and salt, the JSON form of docs/crypto.md §5.1 (`KdfParams.fromJSON`). */
export type KdfWire = Schemas["Kdf"];
export type SendAck = Schemas["SendAck"];
export type Ticket = Schemas["TicketOut"];
/** An encrypted per-user store (docs/crypto.md §6.6) and the answer to replacing it. */
export type UserStore = Schemas["UserStoreOut"];
export type UserStorePut = Schemas["UserStorePutOut"];

/*
 * Sign-in providers (Google, Facebook, any OpenID Connect provider; docs/decisions/0007). The
 * provider only confirms who signs in: the vault stays wrapped by the account's password, or by
 * the chat passphrase of an account a provider created.
 */
export type SignInProvider = Schemas["ProviderOut"];
export type SignInProviders = Schemas["ProvidersOut"];
export type ProviderStartIn = Schemas["StartIn"];
export type ProviderStartOut = Schemas["StartOut"];
/** A first sign-in through a provider, waiting for this browser's keys (`GET /auth/signup`). */
export type PendingSignup = Schemas["SignupOut"];
export type SignInMethods = Schemas["SignInMethodsOut"];
export type LinkedIdentity = Schemas["IdentityOut"];
/** `GET /keys/vault/kdf`: the parameters of the secret that unlocks the vault, and which one. */
export type VaultKdf = Schemas["VaultKdfOut"];
/** "password" for an account with one; "passphrase" for an account a provider created. */
export type SecretKind = VaultKdf["secret"];

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

/** A new password's Argon2id parameters and the auth secret it derives. */
export interface NewPasswordWire {
  readonly kdf: KdfWire;
  readonly auth_secret: string;
}

/** A new account's keys as registration and account reset upload them. */
export interface NewAccountKeysWire extends NewPasswordWire {
  readonly identity_key: string;
  readonly puk_certificate: string;
  readonly device: { readonly device_id: string; readonly name?: string; readonly certificate: string };
  readonly vault: VaultWire;
  readonly recovery_auth: string;
}

export interface RegisterIn extends NewAccountKeysWire {
  readonly user_id: string;
  readonly display_name: string;
  readonly email: string;
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
  /**
   * Left out for a session that signed in through a provider: `POST /keys/vault/unlock` hands
   * it over once the password or passphrase is proven.
   */
  readonly password_wrapping?: string;
  readonly recovery_wrapping: string;
  readonly vault_version: number;
}

export interface RecoveryVaultOut {
  readonly user_id: string;
  readonly sealed_vault: string;
  readonly recovery_wrapping: string;
  readonly vault_version: number;
}

export interface RecoveryResetIn extends NewPasswordWire {
  readonly email: string;
  readonly recovery_auth: string;
  readonly password_wrapping: string;
  readonly recovery_wrapping: string;
  readonly new_recovery_auth: string;
  readonly vault_version: number;
}

/**
 * Account reset (both the password and the recovery code lost): the operator's one-time reset
 * code first names the account (`user_id`: the new vault and certificates bind it), then the
 * new keys replace the old ones as at registration.
 */
export interface ResetAccountStartOut {
  readonly user_id: string;
}

export interface ResetAccountIn extends NewAccountKeysWire {
  readonly email: string;
  readonly reset_code: string;
}

export type ResetAccountOut = RegisterOut;

/** A provider's first sign-in: the keys as at registration; the email is the provider's. */
export interface SignupIn extends NewAccountKeysWire {
  readonly user_id: string;
  readonly display_name: string;
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

export interface ChangePasswordIn extends NewPasswordWire {
  readonly current_auth_secret: string;
  readonly password_wrapping: string;
  readonly vault_version: number;
  readonly keep_other_sessions?: boolean;
}
