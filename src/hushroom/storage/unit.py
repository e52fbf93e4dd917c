"""A unit of work: one transaction with every repository bound to it.

Services write `async with storage.write() as tx: ... tx.messages.insert_many(...)`; the transaction
commits when the block exits cleanly, so an ack sent after the block is an ack after commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from hushroom.errors import HushroomError, ServiceUnavailable, ValidationFailed, WriteConflict
from hushroom.storage.accounts import (
    DeviceRepository,
    PukCertificateRepository,
    SessionRepository,
    TicketRepository,
    UserRepository,
)
from hushroom.storage.at_rest import AtRestCipher, UnknownDataKey
from hushroom.storage.conversations import (
    BlockRepository,
    ConversationRepository,
    KeySetRepository,
    MemberRepository,
    MembershipLogRepository,
    MessageRepository,
)
from hushroom.storage.engine import Database
from hushroom.storage.identities import (
    IdentityLinkRepository,
    PendingSignupRepository,
    SignInFlowRepository,
)
from hushroom.storage.moderation import AuditLogRepository
from hushroom.storage.send_batch import SendBatch
from hushroom.storage.sql import pg_send_batch
from hushroom.storage.sql.accounts import (
    SqlDeviceRepository,
    SqlPukCertificateRepository,
    SqlSessionRepository,
    SqlTicketRepository,
    SqlUserRepository,
)
from hushroom.storage.sql.at_rest_keys import AtRestKeys
from hushroom.storage.sql.conversations import (
    SqlBlockRepository,
    SqlConversationRepository,
    SqlKeySetRepository,
    SqlMemberRepository,
    SqlMembershipLogRepository,
    SqlMessageRepository,
)
from hushroom.storage.sql.identities import (
    SqlIdentityLinkRepository,
    SqlPendingSignupRepository,
    SqlSignInFlowRepository,
)
from hushroom.storage.sql.moderation import SqlAuditLogRepository
from hushroom.storage.sql.send_batch import SqlSendBatch
from hushroom.storage.sql.user_stores import SqlUserStoreRepository
from hushroom.storage.user_stores import UserStoreRepository


class Repos:
    def __init__(self, conn: AsyncConnection, cipher: AtRestCipher) -> None:
        self.conn = conn
        # Typed by the interfaces, so mypy checks each SQL repository against its Protocol.
        # The repositories holding free text seal it at rest with `cipher`.
        self.users: UserRepository = SqlUserRepository(conn, cipher)
        self.devices: DeviceRepository = SqlDeviceRepository(conn)
        self.puks: PukCertificateRepository = SqlPukCertificateRepository(conn)
        self.sessions: SessionRepository = SqlSessionRepository(conn)
        self.tickets: TicketRepository = SqlTicketRepository(conn)
        self.conversations: ConversationRepository = SqlConversationRepository(conn, cipher)
        self.members: MemberRepository = SqlMemberRepository(conn)
        self.messages: MessageRepository = SqlMessageRepository(conn, cipher)
        self.key_sets: KeySetRepository = SqlKeySetRepository(conn)
        self.membership_log: MembershipLogRepository = SqlMembershipLogRepository(conn)
        self.blocks: BlockRepository = SqlBlockRepository(conn)
        self.audit: AuditLogRepository = SqlAuditLogRepository(conn, cipher)
        self.user_stores: UserStoreRepository = SqlUserStoreRepository(conn)
        self.identities: IdentityLinkRepository = SqlIdentityLinkRepository(conn)
        self.sign_in_flows: SignInFlowRepository = SqlSignInFlowRepository(conn)
        self.pending_signups: PendingSignupRepository = SqlPendingSignupRepository(conn)


def _is_connection_error(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or exc.connection_invalidated


def _is_data_error(exc: DBAPIError) -> bool:
    # SQLSTATE class 22 "data exception": NUL in text, integers out of range, bad encodings.
    # Input validation should catch these first; this keeps a miss from becoming a 500.
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(exc, DataError) or (isinstance(sqlstate, str) and sqlstate.startswith("22"))


def _translate(exc: DBAPIError | OSError) -> HushroomError | None:
    if isinstance(exc, OSError):
        return ServiceUnavailable("the database is unreachable")
    if _is_connection_error(exc):
        return ServiceUnavailable("the database is unreachable")
    if _is_data_error(exc):
        return ValidationFailed("the request contains a value that cannot be stored")
    if isinstance(exc, IntegrityError):
        # A unique index refused a concurrent write: services retry on this domain error.
        return WriteConflict()
    return None


@asynccontextmanager
async def _domain_errors(
    keys: AtRestKeys, driver: Callable[[Exception], HushroomError | None] | None = None
) -> AsyncIterator[None]:
    """Errors of a transaction as domain errors (503 / 422, a lost unique race →
    WriteConflict); `driver` translates what the raw driver raises (asyncpg), last."""
    try:
        yield
    except UnknownDataKey as exc:
        # A key another process just added: re-read the key table before the next transaction.
        keys.mark_stale()
        raise ServiceUnavailable("the server is loading a new data key", retry_after=1.0) from exc
    except PoolTimeout as exc:
        raise ServiceUnavailable("the server is busy", retry_after=1.0) from exc
    except (DBAPIError, OSError) as exc:
        translated = _translate(exc)
        if translated is None:
            raise
        raise translated from exc
    except Exception as exc:
        driver_error = driver(exc) if driver is not None else None
        if driver_error is None:
            raise
        raise driver_error from exc


@asynccontextmanager
async def _translated(
    keys: AtRestKeys, db: Database, conns: AbstractAsyncContextManager[AsyncConnection]
) -> AsyncIterator[Repos]:
    """Repositories over one transaction; driver errors become domain errors (503 / 422)."""
    async with _domain_errors(keys):
        await keys.ensure(db)
        async with conns as conn:
            yield Repos(conn, keys.cipher)


@asynccontextmanager
async def _sql_send_batch(repos: AbstractAsyncContextManager[Repos]) -> AsyncIterator[SendBatch]:
    async with repos as tx:
        yield SqlSendBatch(tx)


@asynccontextmanager
async def _driver_send_batch(keys: AtRestKeys, db: Database) -> AsyncIterator[SendBatch]:
    """The send batch on the asyncpg connection; its errors become the same domain errors as
    `_translated`'s (a lost unique race → WriteConflict, an outage → 503)."""
    async with _domain_errors(keys, pg_send_batch.translate):
        await keys.ensure(db)
        async with db.driver_write() as conn:
            yield pg_send_batch.PgSendBatch(conn, keys.cipher)


class Storage:
    def __init__(self, db: Database, keys: AtRestKeys) -> None:
        self.db = db
        self.keys = keys

    def write(self) -> AbstractAsyncContextManager[Repos]:
        return _translated(self.keys, self.db, self.db.write())

    def read(self) -> AbstractAsyncContextManager[Repos]:
        return _translated(self.keys, self.db, self.db.read())

    def send_batch(self) -> AbstractAsyncContextManager[SendBatch]:
        """One transaction storing a batch of sends (storage/send_batch.py)."""
        if self.db.has_driver_write:
            return _driver_send_batch(self.keys, self.db)
        return _sql_send_batch(self.write())
