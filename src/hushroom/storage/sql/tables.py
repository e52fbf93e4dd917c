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
    Column("display_name", String(64), nullable=False),
    Column("display_name_lower", String(64), nullable=False, index=True),
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

ROOM_NAME_INDEX = "uq_conversations_room_name"

conversations = Table(
    "conversations",
    metadata,
    Column("id", Uuid(), primary_key=True),
    # "room" (public, plaintext), "dm" or "group" (private, envelopes only).
    Column("kind", String(8), nullable=False),
    Column("name", String(80), nullable=True),
    Column("name_lower", String(80), nullable=True, index=True),
    Column("topic", String(300), nullable=True),
    Column("created_by", Uuid(), ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger(), nullable=False),
    Column("last_seq", BigInteger(), nullable=False, default=0),
    Column("member_count", Integer(), nullable=False, default=0),
    # "<smaller uuid>:<larger uuid>" for DMs: one DM per pair.
    Column("dm_pair", String(80), nullable=True, unique=True),
    # Public room names are unique, ignoring case (migration 0003).
    Index(
        ROOM_NAME_INDEX,
        "name_lower",
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
    Index("ix_members_user", "user_id"),
)

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
    # Public rooms: plaintext body. Private conversations: generation + opaque ciphertext only.
    Column("body", Text(), nullable=True),
    Column("generation", Integer(), nullable=True),
    Column("ciphertext", LargeBinary(), nullable=True),
    UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
    UniqueConstraint("sender_device_id", "client_msg_id", name="uq_messages_device_client_msg"),
)
