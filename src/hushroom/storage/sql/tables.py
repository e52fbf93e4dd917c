"""The schema, in SQLAlchemy Core. Times are integer milliseconds since the epoch (portable)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    # Both "" since migration 0010 (NOT NULL cannot be dropped on SQLite without rebuilding
    # `users`): the name is in `display_name_sealed` (storage/at_rest.py).
    Column("display_name", String(64), nullable=False),
    Column("display_name_lower", String(64), nullable=False),
    Column("display_name_sealed", LargeBinary(), nullable=True),
    Column("kdf_salt", LargeBinary(64), nullable=False),
    Column("kdf_params", JSON(), nullable=False),
    Column("auth_hash", String(200), nullable=False),
    # Keys (docs/decisions/0003): all NULL only for an account created before real keys, which
    # sets them up at its next login. The server holds public keys and sealed blobs only.
    Column("identity_key", LargeBinary(32), nullable=True),
    Column("vault", LargeBinary(), nullable=True),
    Column("password_wrapping", LargeBinary(), nullable=True),
    Column("recovery_wrapping", LargeBinary(), nullable=True),
    # SHA-256 of the recovery authenticator (docs/crypto.md §6.5), never the code.
    Column("recovery_auth_hash", LargeBinary(32), nullable=True),
    Column("vault_version", Integer(), nullable=False),
    # Grows with every change of the key directory (PUKs, device certificates, revocations).
    Column("keys_version", Integer(), nullable=False, default=0),
    # An operator-issued account reset code (SHA-256) and when it expires (single use).
    Column("reset_code_hash", LargeBinary(32), nullable=True),
    Column("reset_expires_at", BigInteger(), nullable=True),
    Column("is_admin", Boolean(), nullable=False, default=False),
    Column("created_at", BigInteger(), nullable=False),
    # Set by a server admin (migration 0007): the account cannot log in or refresh.
    Column("disabled_at", BigInteger(), nullable=True),
    # False for an account created through a sign-in provider (migration 0009): its kdf and auth
    # hash then belong to the chat passphrase, which unlocks the vault but never signs in.
    Column("password_login", Boolean(), nullable=False, server_default=text("true")),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
    Column("revoked_at", BigInteger(), nullable=True),
    Column("last_active_at", BigInteger(), nullable=True),
    # The device certificate (signed by the identity key) and the key it certifies.
    Column("certificate", LargeBinary(), nullable=True),
    Index("ix_devices_user", "user_id"),
)

# Every PUK generation's certificate, signed by the identity key (docs/crypto.md §7).
puk_certificates = Table(
    "puk_certificates",
    metadata,
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("generation", Integer(), primary_key=True, autoincrement=False),
    Column("certificate", LargeBinary(), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
)

# One row per login: the refresh-token family. Revoking it ends every token of the family.
sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Uuid(), ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
    Column("revoked_at", BigInteger(), nullable=True),
    # The sign-in provider this session signed in with; NULL: the password (migration 0009).
    Column("provider", String(32), nullable=True),
    Index("ix_sessions_user", "user_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("session_id", Uuid(), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
    Column("expires_at", BigInteger(), nullable=False),
    Column("used_at", BigInteger(), nullable=True),
    # The token this one was rotated into, sealed under a key derived from this token: lets a
    # second tab that presents it within the grace window get the same successor.
    Column("successor_sealed", LargeBinary(), nullable=True),
    Index("ix_refresh_tokens_session", "session_id"),
)

ws_tickets = Table(
    "ws_tickets",
    metadata,
    Column("ticket_hash", LargeBinary(32), primary_key=True),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Uuid(), nullable=False),
    Column("session_id", Uuid(), nullable=False),
    Column("expires_at", BigInteger(), nullable=False),
)

ROOM_NAME_INDEX = "uq_conversations_room_name_hash"

conversations = Table(
    "conversations",
    metadata,
    Column("id", Uuid(), primary_key=True),
    # "room" (public, plaintext), "dm" or "group" (private, envelopes only).
    Column("kind", String(8), nullable=False),
    # Plaintext name and topic: NULL since migration 0010, which moved them into the sealed
    # columns (storage/at_rest.py). `name_hash`: the keyed blind index of the lower-cased name.
    Column("name", String(80), nullable=True),
    Column("name_lower", String(80), nullable=True),
    Column("topic", String(300), nullable=True),
    Column("name_sealed", LargeBinary(), nullable=True),
    Column("topic_sealed", LargeBinary(), nullable=True),
    Column("name_hash", LargeBinary(32), nullable=True),
    Column("created_by", Uuid(), ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
    Column("last_seq", BigInteger(), nullable=False, default=0),
    Column("member_count", Integer(), nullable=False, default=0),
    # "<smaller uuid>:<larger uuid>" for DMs: one DM per pair.
    Column("dm_pair", String(80), nullable=True, unique=True),
    # Private conversations (decision 0005): the latest key set's generation (0 = none yet),
    # and whether membership or a member's PUK changed since (envelopes are refused until a
    # new generation is uploaded).
    # Server defaults only (no Python-side ones), so inserts written against older revisions work.
    Column("key_generation", Integer(), nullable=False, server_default=text("0")),
    Column("keys_stale", Boolean(), nullable=False, server_default=text("false")),
    # Groups: index and hash of the membership log's head (-1 / NULL before the first entry).
    Column("log_index", Integer(), nullable=False, server_default=text("-1")),
    Column("log_head", LargeBinary(32), nullable=True),
    # Public room names are unique, ignoring case (migration 0003; by blind index since 0010).
    Index(
        ROOM_NAME_INDEX,
        "name_hash",
        unique=True,
        sqlite_where=text("kind = 'room'"),
        postgresql_where=text("kind = 'room'"),
    ),
)

members = Table(
    "members",
    metadata,
    Column(
        "conversation_id",
        Uuid(),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), nullable=False),
    Column("joined_at", BigInteger(), nullable=False),
    Column("last_read_seq", BigInteger(), nullable=False, default=0),
    # Consent (docs/decisions/0006): a member added by someone they share no private
    # conversation with has not accepted yet (a request: their presence, typing and receipts stay
    # theirs); `hidden` leaves the conversation out of their list. Not accepted and hidden is an
    # ignored request: nothing about the conversation is pushed to them.
    Column("accepted", Boolean(), nullable=False, default=True, server_default=text("true")),
    Column("hidden", Boolean(), nullable=False, default=False, server_default=text("false")),
    Index("ix_members_user", "user_id"),
)

# Who blocks whom (docs/decisions/0006). The blocked user is never told.
blocks = Table(
    "blocks",
    metadata,
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("blocked_user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", BigInteger(), nullable=False),
    # "Who blocks this sender / inviter" is asked from the blocked side.
    Index("ix_blocks_blocked_user", "blocked_user_id"),
)

# The predicates of the partial indexes on rows still in clear (storage/sql/reseal.py `legacy`).
_BODY_IN_CLEAR = "body_sealed IS NULL AND body IS NOT NULL"
_DETAIL_IN_CLEAR = "detail_sealed IS NULL AND detail IS NOT NULL"

messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "conversation_id",
        Uuid(),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", BigInteger(), nullable=False),
    Column("sender_id", Uuid(), ForeignKey("users.id"), nullable=False),
    Column("sender_device_id", Uuid(), nullable=False),
    Column("client_msg_id", String(32), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
    # Public rooms: the body sealed at rest (`body_sealed`; `body` is NULL since migration
    # 0010). Private conversations: generation + opaque end-to-end ciphertext only.
    Column("body", Text(), nullable=True),
    Column("body_sealed", LargeBinary(), nullable=True),
    Column("generation", Integer(), nullable=True),
    Column("ciphertext", LargeBinary(), nullable=True),
    # A public-room message a server admin removed: the row stays (seq stays contiguous), the
    # body is cleared (migration 0007).
    Column("removed_at", BigInteger(), nullable=True),
    Column("removed_by", Uuid(), nullable=True),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    UniqueConstraint("sender_device_id", "client_msg_id", name="uq_messages_device_client_msg"),
    # Rows still in clear (written before 0010): the start-up reseal finds them without reading
    # the whole table (migration 0011). Empty once sealed, so it costs nothing to keep.
    Index(
        "ix_messages_body_in_clear",
        "id",
        sqlite_where=text(_BODY_IN_CLEAR),
        postgresql_where=text(_BODY_IN_CLEAR),
    ),
)

# One signed key set per (conversation, generation); the primary key decides racing uploads.
key_sets = Table(
    "key_sets",
    metadata,
    Column(
        "conversation_id",
        Uuid(),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("generation", Integer(), primary_key=True, autoincrement=False),
    Column("creator_user_id", Uuid(), nullable=False),
    Column("creator_device_id", Uuid(), nullable=False),
    Column("statement", LargeBinary(), nullable=False),
    # Groups: the membership log index that was the head at upload; NULL for DMs (no log).
    Column("membership_index", Integer(), nullable=True),
    Column("created_at", BigInteger(), nullable=False),
)

# The conversation key of one generation sealed to one member's PUK.
key_set_boxes = Table(
    "key_set_boxes",
    metadata,
    Column(
        "conversation_id",
        Uuid(),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("generation", Integer(), primary_key=True, autoincrement=False),
    Column("user_id", Uuid(), primary_key=True),
    Column("box", LargeBinary(), nullable=False),
    Index("ix_key_set_boxes_user", "user_id"),
)

# A private group's signed, hash-chained membership log (docs/crypto.md §8.6).
membership_log = Table(
    "membership_log",
    metadata,
    Column(
        "conversation_id",
        Uuid(),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("idx", Integer(), primary_key=True, autoincrement=False),
    Column("entry", LargeBinary(), nullable=False),
    Column("entry_hash", LargeBinary(32), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
)

# Every moderation action of a server admin (migration 0007). No foreign keys: the record
# outlives the accounts, rooms and messages it names.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # NULL: the operator, at the command line (`hushroom disable-account`).
    Column("actor_user_id", Uuid(), nullable=True),
    Column("action", String(32), nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("target_id", String(64), nullable=False),
    # NULL since migration 0010: the detail is JSON sealed at rest in `detail_sealed`.
    Column("detail", JSON(), nullable=True),
    Column("created_at", BigInteger(), nullable=False, index=True),
    Column("detail_sealed", LargeBinary(), nullable=True),
    Index(
        "ix_audit_log_detail_in_clear",
        "id",
        sqlite_where=text(_DETAIL_IN_CLEAR),
        postgresql_where=text(_DETAIL_IN_CLEAR),
    ),
)

# At-rest data keys (migration 0010, docs/decisions/0008): random AES-256 keys wrapped by the
# operator's key-encryption key. New values are sealed under the newest key whose
# `active_from` has passed (every node has loaded it by then); `retired_at` is set once
# `hushroom keys rotate` has re-sealed every value under it.
at_rest_keys = Table(
    "at_rest_keys",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("wrapped", LargeBinary(), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
    Column("active_from", BigInteger(), nullable=False),
    Column("retired_at", BigInteger(), nullable=True),
)

# Encrypted per-user stores (migration 0008): one opaque blob per (user, store name), replaced
# by compare-and-swap on `version`. `contacts` holds the verified contacts (docs/crypto.md §6.6).
user_stores = Table(
    "user_stores",
    metadata,
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("version", Integer(), nullable=False),
    Column("blob", LargeBinary(), nullable=False),
    Column("updated_at", BigInteger(), nullable=False),
)

# Sign-in providers (migration 0009, docs/decisions/0007). A provider identity (provider id, the
# provider's stable subject) linked to one account.
identity_links = Table(
    "identity_links",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=True),
    Column("created_at", BigInteger(), nullable=False),
    Column("last_used_at", BigInteger(), nullable=True),
    Index("ix_identity_links_user", "user_id"),
)

# A sign-in through a provider in progress: SHA-256 of its `state` and of the browser-binding
# cookie; taken (deleted) by the callback, so a replayed callback finds nothing.
sign_in_flows = Table(
    "sign_in_flows",
    metadata,
    Column("state_hash", LargeBinary(32), primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("intent", String(16), nullable=False),
    Column("binding_hash", LargeBinary(32), nullable=False),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("device_id", Uuid(), nullable=True),
    Column("device_name", String(100), nullable=True),
    Column("created_at", BigInteger(), nullable=False),
    Column("expires_at", BigInteger(), nullable=False),
)

# A first sign-in through a provider, waiting for the browser to create the account's keys:
# SHA-256 of the HttpOnly sign-up cookie. No account exists until the keys arrive.
pending_signups = Table(
    "pending_signups",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("email", String(320), nullable=False),
    Column("display_name", String(64), nullable=False),
    Column("device_name", String(100), nullable=True),
    Column("created_at", BigInteger(), nullable=False),
    Column("expires_at", BigInteger(), nullable=False),
)
