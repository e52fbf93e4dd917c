/**
 * The typed HTTP client. Access tokens live in memory only; on a 401 `token_invalid` the client
 * refreshes once through the HttpOnly cookie (`POST /auth/refresh`, same-origin credentials)
 * and retries. Errors are `ApiError` (problem+json) or `NetworkError`.
 */

import { ApiError, NetworkError } from "@/api/errors";
import type {
  AuditLogPage,
  ChangePasswordIn,
  Conversation,
  ConversationSummary,
  DeviceOut,
  KdfWire,
  KeysSetupIn,
  LoginOut,
  MemberPage,
  MessagePage,
  PendingSignup,
  Prelogin,
  ProviderStartIn,
  ProviderStartOut,
  PublicUser,
  Me,
  RecoveryResetIn,
  RecoveryVaultOut,
  RegisterIn,
  RegisterOut,
  ResetAccountIn,
  ResetAccountOut,
  ResetAccountStartOut,
  RevokeDeviceIn,
  RevokeDeviceOut,
  SendAck,
  SignInMethods,
  SignInProviders,
  SignupIn,
  Ticket,
  Tokens,
  UserStore,
  UserStorePut,
  VaultKdf,
  VaultOut,
} from "@/api/types";
import type { KeyDirectoryOut } from "@/session/contact-keys";
import type { KeySetListOut, KeySetOut } from "@/session/conversation-keys";
import type {
  CreateGroupIn,
  MembershipAppendOut,
  MembershipLogOut,
} from "@/features/conversations/wire";
import type { BlockListOut } from "@/features/requests/wire";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

interface RequestOptions {
  readonly method?: string;
  readonly body?: unknown;
  readonly auth?: boolean;
  readonly signal?: AbortSignal;
}

export class ApiClient {
  #accessToken: string | null = null;
  #refreshing: Promise<Tokens | null> | null = null;
  readonly #fetch: FetchLike;
  readonly #base: string;
  #onTokens: ((tokens: Tokens | null) => void) | null = null;

  constructor(fetchImpl: FetchLike = (i, init) => fetch(i, init), base = "") {
    this.#fetch = fetchImpl;
    this.#base = base;
  }

  /** Called with new tokens (refresh) or null (the session is gone). */
  setTokenListener(listener: ((tokens: Tokens | null) => void) | null): void {
    this.#onTokens = listener;
  }

  setAccessToken(token: string | null): void {
    this.#accessToken = token;
  }

  get hasToken(): boolean {
    return this.#accessToken !== null;
  }

  async #raw(path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (options.auth !== false && this.#accessToken !== null) {
      headers.Authorization = `Bearer ${this.#accessToken}`;
    }
    const init: RequestInit = {
      method: options.method ?? "GET",
      headers,
      credentials: "same-origin",
    };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
    }
    if (options.signal !== undefined) {
      init.signal = options.signal;
    }
    try {
      return await this.#fetch(this.#base + path, init);
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") {
        throw error;
      }
      throw new NetworkError("the server could not be reached");
    }
  }

  async #request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    let response = await this.#raw(path, options);
    if (
      response.status === 401 &&
      options.auth !== false &&
      this.#accessToken !== null &&
      // A wrong password or passphrase is not a stale token: asking again would count twice.
      (await problemCode(response)) !== "invalid_credentials"
    ) {
      const tokens = await this.refresh();
      if (tokens !== null) {
        response = await this.#raw(path, options);
      }
    }
    return parse<T>(response);
  }

  /**
   * Silent refresh through the HttpOnly cookie; null when there is no live session.
   *
   * Tabs of one browser share the cookie, and the server rotates it on every use, so two tabs
   * presenting it at once would look like reuse. The Web Lock serialises them: the second tab
   * sends its request after the first one's answer has replaced the cookie, so it presents the
   * successor and both stay signed in. (Without Web Locks the server's 10 s grace window covers
   * the race.)
   */
  refresh(): Promise<Tokens | null> {
    this.#refreshing ??= withRefreshLock(async () => {
      const response = await this.#raw("/api/v1/auth/refresh", { method: "POST", auth: false });
      if (response.status === 401 || response.status === 403) {
        this.#accessToken = null;
        this.#onTokens?.(null);
        return null;
      }
      const tokens = await parse<Tokens>(response);
      this.#accessToken = tokens.access_token;
      this.#onTokens?.(tokens);
      return tokens;
    }).finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  prelogin(email: string): Promise<Prelogin> {
    return this.#request("/api/v1/auth/prelogin", { method: "POST", body: { email }, auth: false });
  }

  register(body: RegisterIn): Promise<RegisterOut> {
    return this.#request("/api/v1/auth/register", { method: "POST", body, auth: false });
  }

  /** `deviceId`: sign in as a device that already exists (the one registration created). */
  async login(
    email: string,
    authSecret: string,
    deviceName: string,
    deviceId?: string,
  ): Promise<LoginOut> {
    const out = await this.#request<LoginOut>("/api/v1/auth/login", {
      method: "POST",
      body: {
        email,
        auth_secret: authSecret,
        device_name: deviceName,
        ...(deviceId === undefined ? {} : { device_id: deviceId }),
      },
      auth: false,
    });
    this.#accessToken = out.access_token;
    return out;
  }

  recoveryVault(email: string, recoveryAuth: string): Promise<RecoveryVaultOut> {
    return this.#request("/api/v1/auth/recovery/vault", {
      method: "POST",
      body: { email, recovery_auth: recoveryAuth },
      auth: false,
    });
  }

  recoveryReset(body: RecoveryResetIn): Promise<void> {
    return this.#request("/api/v1/auth/recovery/reset-password", {
      method: "POST",
      body,
      auth: false,
    });
  }

  /** Account reset, step 1: the operator's reset code names the account (nothing changes). */
  resetAccountStart(email: string, resetCode: string): Promise<ResetAccountStartOut> {
    return this.#request("/api/v1/auth/reset-account/start", {
      method: "POST",
      body: { email, reset_code: resetCode },
      auth: false,
    });
  }

  /** Account reset, step 2: new keys and password replace the old ones; the code is spent. */
  resetAccount(body: ResetAccountIn): Promise<ResetAccountOut> {
    return this.#request("/api/v1/auth/reset-account", { method: "POST", body, auth: false });
  }

  /** The sign-in providers this server offers (an empty list: none). */
  providers(): Promise<SignInProviders> {
    return this.#request("/api/v1/auth/providers", { auth: false });
  }

  /**
   * Start a provider's sign-in; the page then goes to `authorization_url`. The answer sets the
   * HttpOnly cookie that binds the provider's redirect back to this browser. A `link` goes with
   * this session's token and the current password's (or passphrase's) auth secret.
   */
  startProvider(providerId: string, body: ProviderStartIn): Promise<ProviderStartOut> {
    return this.#request(`/api/v1/auth/providers/${encodeURIComponent(providerId)}/start`, {
      method: "POST",
      body,
      auth: body.intent === "link",
    });
  }

  /** Who the provider said signed in for the first time (the sign-up cookie; 401 `signup_expired`). */
  pendingSignup(): Promise<PendingSignup> {
    return this.#request("/api/v1/auth/signup", { auth: false });
  }

  /** The account of a provider's first sign-in, with its keys; signs in as the uploaded device. */
  async completeSignup(body: SignupIn): Promise<LoginOut> {
    const out = await this.#request<LoginOut>("/api/v1/auth/signup", {
      method: "POST",
      body,
      auth: false,
    });
    this.#accessToken = out.access_token;
    return out;
  }

  /** The account's password (whether it has one) and the providers linked to it. */
  signInMethods(): Promise<SignInMethods> {
    return this.#request("/api/v1/account/sign-in-methods");
  }

  /** 409 `last_sign_in_method` when it is the account's only way to sign in. */
  unlinkIdentity(providerId: string): Promise<void> {
    return this.#request(`/api/v1/account/identities/${encodeURIComponent(providerId)}`, {
      method: "DELETE",
    });
  }

  vault(): Promise<VaultOut> {
    return this.#request("/api/v1/keys/vault");
  }

  /** The Argon2id parameters of the secret that unlocks the vault, and which secret it is. */
  vaultKdf(): Promise<VaultKdf> {
    return this.#request("/api/v1/keys/vault/kdf");
  }

  /** The whole vault, password wrapping included, once the secret's auth secret is proven
   * (401 `invalid_credentials`; guesses count toward the login limits). */
  unlockVault(authSecret: string): Promise<VaultOut> {
    return this.#request("/api/v1/keys/vault/unlock", {
      method: "POST",
      body: { auth_secret: authSecret },
    });
  }

  /** This user's encrypted contacts store (docs/crypto.md §6.6); version 0, no blob, before any. */
  contactsStore(): Promise<UserStore> {
    return this.#request("/api/v1/keys/stores/contacts");
  }

  /** Replace it by compare-and-swap: `ApiError` 409 `store_conflict` when another write was first. */
  putContactsStore(expectedVersion: number, blob: string): Promise<UserStorePut> {
    return this.#request("/api/v1/keys/stores/contacts", {
      method: "PUT",
      body: { expected_version: expectedVersion, blob },
    });
  }

  setupKeys(body: KeysSetupIn): Promise<void> {
    return this.#request("/api/v1/keys/setup", { method: "POST", body });
  }

  devices(): Promise<DeviceOut[]> {
    return this.#request("/api/v1/devices");
  }

  certifyDevice(deviceId: string, certificate: string): Promise<void> {
    return this.#request(`/api/v1/devices/${encodeURIComponent(deviceId)}/certificate`, {
      method: "PUT",
      body: { certificate },
    });
  }

  renameDevice(deviceId: string, name: string): Promise<void> {
    return this.#request(`/api/v1/devices/${encodeURIComponent(deviceId)}`, {
      method: "PATCH",
      body: { name },
    });
  }

  revokeDevice(deviceId: string, body: RevokeDeviceIn): Promise<RevokeDeviceOut> {
    return this.#request(`/api/v1/devices/${encodeURIComponent(deviceId)}/revoke`, {
      method: "POST",
      body,
    });
  }

  changePassword(body: ChangePasswordIn): Promise<void> {
    return this.#request("/api/v1/account/password", { method: "POST", body });
  }

  async logout(everywhere = false): Promise<void> {
    try {
      await this.#request(everywhere ? "/api/v1/auth/logout-all" : "/api/v1/auth/logout", {
        method: "POST",
      });
    } finally {
      this.#accessToken = null;
    }
  }

  me(): Promise<Me> {
    return this.#request("/api/v1/me");
  }

  user(userId: string): Promise<PublicUser> {
    return this.#request(`/api/v1/users/${encodeURIComponent(userId)}`);
  }

  /** A user's published keys (verify them with `fetchKeyDirectory`, never use them raw). */
  keyDirectory(userId: string): Promise<KeyDirectoryOut> {
    return this.#request(`/api/v1/users/${encodeURIComponent(userId)}/keys`);
  }

  wsTicket(): Promise<Ticket> {
    return this.#request("/api/v1/ws-ticket", { method: "POST" });
  }

  searchRooms(q: string): Promise<Conversation[]> {
    const query = q.trim() === "" ? "" : `?q=${encodeURIComponent(q.trim())}`;
    return this.#request(`/api/v1/rooms${query}`);
  }

  createRoom(name: string, topic: string | null): Promise<Conversation> {
    return this.#request("/api/v1/rooms", { method: "POST", body: { name, topic } });
  }

  joinRoom(roomId: string): Promise<Conversation> {
    return this.#request(`/api/v1/rooms/${roomId}/join`, { method: "POST" });
  }

  leaveRoom(roomId: string): Promise<void> {
    return this.#request(`/api/v1/rooms/${roomId}/leave`, { method: "POST" });
  }

  /** Server admins: remove a public-room message (its seq stays, its text goes). */
  removeMessage(messageId: number): Promise<void> {
    return this.#request(`/api/v1/admin/messages/${String(messageId)}`, { method: "DELETE" });
  }

  /** Server admins: sign an account out everywhere and refuse its logins (or allow them again). */
  setAccountDisabled(userId: string, disabled: boolean): Promise<void> {
    const action = disabled ? "disable" : "enable";
    return this.#request(`/api/v1/admin/users/${encodeURIComponent(userId)}/${action}`, { method: "POST" });
  }

  /** Server admins: moderation actions, newest first. */
  auditLog(limit = 50): Promise<AuditLogPage> {
    return this.#request(`/api/v1/admin/audit-log?limit=${String(limit)}`);
  }

  conversations(): Promise<ConversationSummary[]> {
    return this.#request("/api/v1/conversations");
  }

  conversation(id: string): Promise<Conversation> {
    return this.#request(`/api/v1/conversations/${id}`);
  }

  members(id: string): Promise<MemberPage> {
    return this.#request(`/api/v1/conversations/${id}/members?limit=1000`);
  }

  messages(
    id: string,
    page: { before?: number; after?: number; limit?: number } = {},
  ): Promise<MessagePage> {
    const params = new URLSearchParams();
    if (page.before !== undefined) params.set("before", String(page.before));
    if (page.after !== undefined) params.set("after", String(page.after));
    params.set("limit", String(page.limit ?? 50));
    return this.#request(`/api/v1/conversations/${id}/messages?${params.toString()}`);
  }

  send(id: string, clientMsgId: string, body: string): Promise<SendAck> {
    return this.#request(`/api/v1/conversations/${id}/messages`, {
      method: "POST",
      body: { client_msg_id: clientMsgId, body },
    });
  }

  markRead(id: string, seq: number): Promise<void> {
    return this.#request(`/api/v1/conversations/${id}/read`, { method: "POST", body: { seq } });
  }

  /** People by display name (substring) or exact email; never another user's email. */
  searchUsers(q: string, limit = 20): Promise<PublicUser[]> {
    const params = new URLSearchParams({ q: q.trim(), limit: String(limit) });
    return this.#request(`/api/v1/users?${params.toString()}`);
  }

  /** The direct conversation with `userId`, created when there is none yet. */
  openDm(userId: string): Promise<Conversation> {
    return this.#request("/api/v1/dms", { method: "POST", body: { user_id: userId } });
  }

  /** Accept a message request (presence, typing and receipts start to flow). */
  acceptConversation(id: string): Promise<void> {
    return this.#request(`/api/v1/conversations/${encodeURIComponent(id)}/accept`, { method: "POST" });
  }

  /** Decline a request: a DM is left, a group request is ignored (409 `not_a_request` once accepted). */
  declineConversation(id: string): Promise<void> {
    return this.#request(`/api/v1/conversations/${encodeURIComponent(id)}/decline`, { method: "POST" });
  }

  /** Hide a conversation from the list (a new message brings an accepted one back), or show it. */
  setConversationHidden(id: string, hidden: boolean): Promise<void> {
    const action = hidden ? "hide" : "unhide";
    return this.#request(`/api/v1/conversations/${encodeURIComponent(id)}/${action}`, { method: "POST" });
  }

  /** Leave a direct conversation (the partner sees `member.left`). */
  leaveDm(id: string): Promise<void> {
    return this.#request(`/api/v1/dms/${encodeURIComponent(id)}/leave`, { method: "POST" });
  }

  /** The users the signed-in user blocks. */
  blocks(): Promise<BlockListOut> {
    return this.#request("/api/v1/blocks");
  }

  /** Block or unblock a user (both idempotent; the blocked user is never told). */
  setBlocked(userId: string, blocked: boolean): Promise<void> {
    return this.#request(`/api/v1/blocks/${encodeURIComponent(userId)}`, {
      method: blocked ? "PUT" : "DELETE",
    });
  }

  /** A private group from its signed `create` membership entry (session/group-membership). */
  createGroup(body: CreateGroupIn): Promise<Conversation> {
    return this.#request("/api/v1/groups", { method: "POST", body });
  }

  /** Append a signed membership entry; 409 `membership_conflict` when the log moved on. */
  appendMembership(groupId: string, entry: string): Promise<MembershipAppendOut> {
    return this.#request(`/api/v1/groups/${encodeURIComponent(groupId)}/membership`, {
      method: "POST",
      body: { entry },
    });
  }

  /** A group's membership log after index `after` (all of it by default). */
  membershipLog(conversationId: string, after?: number): Promise<MembershipLogOut> {
    const query = after === undefined ? "" : `?after=${String(after)}`;
    return this.#request(
      `/api/v1/conversations/${encodeURIComponent(conversationId)}/membership${query}`,
    );
  }

  renameGroup(groupId: string, name: string): Promise<Conversation> {
    return this.#request(`/api/v1/groups/${encodeURIComponent(groupId)}`, {
      method: "PATCH",
      body: { name },
    });
  }

  /** Key sets of a private conversation where the caller has a box (decision 0005). */
  keySets(conversationId: string, after = 0, limit = 100): Promise<KeySetListOut> {
    const params = new URLSearchParams({ after: String(after), limit: String(limit) });
    return this.#request(
      `/api/v1/conversations/${encodeURIComponent(conversationId)}/key-sets?${params.toString()}`,
    );
  }

  /** One generation's key set with the caller's box (404 `not_found` when there is none). */
  keySet(conversationId: string, generation: number): Promise<KeySetOut> {
    return this.#request(
      `/api/v1/conversations/${encodeURIComponent(conversationId)}/key-sets/${String(generation)}`,
    );
  }

  /** Upload generation `generation` (current + 1); 409 `key_generation_taken` when it lost a race. */
  uploadKeySet(conversationId: string, generation: number, upload: string): Promise<{ generation: number }> {
    return this.#request(`/api/v1/conversations/${encodeURIComponent(conversationId)}/key-sets`, {
      method: "POST",
      body: { generation, upload },
    });
  }
}

/** Runs `fn` under the browser-wide "hushroom-refresh" Web Lock when the browser has one. */
function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
  if (typeof locks?.request !== "function") return fn();
  return locks.request("hushroom-refresh", fn);
}

/** The problem's `code` without consuming the response. */
async function problemCode(response: Response): Promise<string | null> {
  try {
    const data: unknown = await response.clone().json();
    return typeof data === "object" && data !== null && "code" in data && typeof data.code === "string"
      ? data.code
      : null;
  } catch {
    return null;
  }
}

async function parse<T>(response: Response): Promise<T> {
  if (response.status === 204) {
    return undefined as T;
  }
  const text = await response.text();
  let data: unknown = null;
  if (text !== "") {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const problem = (typeof data === "object" && data !== null ? data : {}) as Record<
      string,
      unknown
    >;
    const retry = Number(response.headers.get("Retry-After"));
    throw new ApiError(
      response.status,
      typeof problem.code === "string" ? problem.code : `http_${String(response.status)}`,
      typeof problem.detail === "string"
        ? problem.detail
        : typeof problem.title === "string"
          ? problem.title
          : response.statusText,
      Number.isFinite(retry) && retry > 0 ? retry : null,
    );
  }
  return data as T;
}

export type { KdfWire };
