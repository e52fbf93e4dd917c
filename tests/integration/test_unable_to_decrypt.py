"""The "unable to decrypt" harness: seeded random sequences of what real clients do to private
conversations, each followed by a check that every message a user is entitled to decrypts and
every message they are not entitled to does not.

One server and a small pool of accounts serve every sequence (registration and logins reuse the
derived password keys, so only password changes and device revocations pay for Argon2id).
A sequence is a few operations on one conversation, chosen by a seeded RNG:

- send (over the socket or HTTP, by any current member's session);
- duplicate send (the same client message id again: acked as a duplicate, stored once);
- dropped live frames (the TCP connection cut: frames are lost, the client resumes; what it
  missed it reads from history);
- reconnect (socket paused and started again);
- reload (a new SDK client object with its memory dropped, the same device key and counters,
  like a browser tab reload);
- new device (a new client object and a new device: its counters start at 1);
- group member add / remove / leave (signed membership entries; keys rotate on the next send);
- password change (history stays readable);
- device revocation (the PUK rotates; the next send rotates the conversation key).

After each sequence, for the conversation it touched: each current member's session reads the new
history (a fresh session reads all of it) and every message must decrypt, with the right text,
iff the user was a member when it was sent; live messages that arrived must match too; a user who
was not a member at a message's generation has no box for it (`GET key-sets/{g}` refuses) and
cannot open its envelope.

`HUSHROOM_UTD_SEQUENCES` (default 1000) and `HUSHROOM_UTD_SEED` set the run; `run_harness` is
what `make bench` calls (`python -m tests.integration.test_unable_to_decrypt --url …`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import ssl
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from hushroom.client import (
    ApiError,
    DecryptedMessage,
    HushroomClient,
    Message,
    new_client_msg_id,
)
from hushroom.client.session import derive_keys, http_limits
from hushroom.crypto.password import PasswordKeys
from tests.integration.helpers import PASSWORD
from tests.support.server import ServerProcess

DEFAULT_SEQUENCES = 1000
_TLS = ssl.create_default_context()
POOL = ("Ada", "Bea", "Cal", "Dov", "Eli")
# Probabilities of the expensive operations (Argon2id) per sequence.
P_PASSWORD_CHANGE = 0.006
P_REVOCATION = 0.006
SEQUENCE_TIMEOUT_S = 60.0


@dataclass
class Account:
    name: str
    email: str
    user_id: str
    password: str
    derived: PasswordKeys = field(repr=False)
    session: HushroomClient = field(repr=False)
    # Last history seq checked per conversation by the current session.
    checked: dict[str, int] = field(default_factory=dict)
    devices_made: int = 1


@dataclass
class Sent:
    seq: int
    text: str
    sender: str
    entitled: frozenset[str]
    generation: int | None = None


@dataclass
class Conv:
    id: str
    kind: str  # "dm" | "group"
    admin: str
    members: set[str]
    messages: dict[int, Sent] = field(default_factory=dict)
    # (sender, sender's device, client_msg_id, text): client message ids are unique per device.
    last_sent: tuple[str, str, str, str] | None = None


@dataclass
class Report:
    sequences: int = 0
    operations: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    checked_decrypts: int = 0
    checked_refusals: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    op_seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, op: str, seconds: float) -> None:
        self.op_seconds[op] = self.op_seconds.get(op, 0.0) + seconds

    def count(self, op: str) -> None:
        self.operations[op] = self.operations.get(op, 0) + 1

    def as_json(self) -> dict[str, Any]:
        return {
            "sequences": self.sequences,
            "operations": dict(sorted(self.operations.items())),
            "messages": self.messages,
            "checked_decrypts": self.checked_decrypts,
            "checked_refusals": self.checked_refusals,
            "failures": self.failures[:20],
            "failure_count": len(self.failures),
            "seconds": round(self.seconds, 1),
            "op_seconds": {k: round(v, 1) for k, v in sorted(self.op_seconds.items())},
        }


class Harness:
    def __init__(self, base_url: str, seed: int, *, groups: bool = True) -> None:
        self.base_url = base_url
        self.rng = random.Random(seed)
        self.seed = seed
        self.groups = groups
        self.accounts: dict[str, Account] = {}
        self.convs: list[Conv] = []
        self.report = Report()
        self.log: list[str] = []
        self.membership_changed = False
        self.progress = os.environ.get("HUSHROOM_UTD_PROGRESS") == "1"

    # --- accounts and sessions ---------------------------------------------------------------

    async def setup(self) -> None:
        made = await asyncio.gather(*(self._register(name) for name in POOL))
        self.accounts = {a.user_id: a for a in made}
        ids = list(self.accounts)
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                dm = await self.accounts[a].session.open_private_dm(b)
                self.convs.append(Conv(str(dm.id), "dm", a, {a, b}))
        if self.groups:
            for _ in range(2):
                await self._new_group()

    def _client(self) -> HushroomClient:
        # Loading the CA bundle for every client costs ~0.1 s of CPU: share one TLS context.
        transport = httpx.AsyncHTTPTransport(verify=_TLS, limits=http_limits())
        return HushroomClient(self.base_url, transport=transport)

    async def _register(self, name: str) -> Account:
        email = f"utd-{name.lower()}-{secrets.token_hex(4)}@example.test"
        client = self._client()
        await client.register_and_login(name, email, PASSWORD, device_name=name)
        derived = await derive_keys(PASSWORD, await client.prelogin(email))
        await client.connect()
        return Account(name, email, str(client.user_id), PASSWORD, derived, client)

    async def _login(self, account: Account, client: HushroomClient) -> HushroomClient:
        await client.login_with_auth_secret(
            account.email,
            account.derived.auth_secret.reveal(),
            password_key=account.derived.password_key,
        )
        return client

    async def _replace_session(self, account: Account, *, keep_device: bool) -> None:
        old = account.session
        client = self._client()
        if keep_device:
            client.restore_device(old.e2ee.device_state())
        await self._login(account, client)
        if keep_device:
            assert client.device_id == old.device_id, "a reload must keep its device"
        else:
            account.devices_made += 1
        await old.aclose()
        account.session = client
        account.checked = {}  # a fresh session reads every history from the start
        if self.rng.random() < 0.5:
            await client.connect()

    async def close(self) -> None:
        for account in self.accounts.values():
            await account.session.aclose()

    # --- conversations -----------------------------------------------------------------------

    async def _new_group(self) -> Conv:
        ids = list(self.accounts)
        admin = self.rng.choice(ids)
        others = self.rng.sample([u for u in ids if u != admin], self.rng.randint(1, 3))
        session = self.accounts[admin].session
        group = await session.create_private_group("utd", others)  # type: ignore[arg-type]
        conv = Conv(str(group.id), "group", admin, {admin, *others})
        self.convs.append(conv)
        self.report.count("group_create")
        return conv

    # --- operations --------------------------------------------------------------------------

    def _text(self) -> str:
        return f"utd {uuid.uuid4().hex[:12]} {self.rng.random():.6f}"

    async def _send(self, conv: Conv, sender: str | None = None) -> None:
        sender = sender or self.rng.choice(sorted(conv.members))
        session = self.accounts[sender].session
        text, cmid = self._text(), new_client_msg_id()
        http = self.rng.random() < 0.2
        ack = await session.send_text(conv.id, text, client_msg_id=cmid, http=http)
        assert not ack.duplicate
        conv.messages[ack.seq] = Sent(ack.seq, text, sender, frozenset(conv.members))
        conv.last_sent = (sender, str(session.device_id), cmid, text)
        self.report.messages += 1

    async def _duplicate(self, conv: Conv) -> None:
        last = conv.last_sent
        if (
            last is None
            or last[0] not in conv.members
            or str(self.accounts[last[0]].session.device_id) != last[1]
        ):
            await self._send(conv)
            return
        sender, _, cmid, text = last
        session = self.accounts[sender].session
        ack = await session.send_text(conv.id, text, client_msg_id=cmid)
        original = conv.messages.get(ack.seq)
        if not ack.duplicate or original is None or original.text != text:
            self.fail(f"duplicate send stored again: {ack}")

    async def _drop(self, conv: Conv) -> None:
        account = self.accounts[self.rng.choice(sorted(conv.members))]
        rt = account.session.realtime
        if rt.started:
            await rt.drop_connection()
        else:
            await account.session.connect()

    async def _reconnect(self, conv: Conv) -> None:
        account = self.accounts[self.rng.choice(sorted(conv.members))]
        rt = account.session.realtime
        if rt.started:
            await rt.pause()
        await rt.start()

    async def _member_change(self, conv: Conv) -> None:
        admin = self.accounts[conv.admin].session
        outsiders = [u for u in self.accounts if u not in conv.members]
        removable = [u for u in conv.members if u != conv.admin]
        roll = self.rng.random()
        if outsiders and (roll < 0.4 or len(removable) < 1):
            new = self.rng.choice(outsiders)
            await admin.add_members(conv.id, [new])
            conv.members.add(new)
            self.report.count("member_add")
        elif removable and roll < 0.8:
            gone = self.rng.choice(removable)
            await admin.remove_group_member(conv.id, gone)
            conv.members.discard(gone)
            self.report.count("member_remove")
        elif removable:
            gone = self.rng.choice(removable)
            await self.accounts[gone].session.leave_group(conv.id)
            conv.members.discard(gone)
            self.report.count("member_leave")

    async def _password_change(self, account: Account) -> None:
        new_password = f"{PASSWORD} {secrets.token_hex(3)}"
        await account.session.change_password(
            account.password, new_password, keep_other_sessions=True
        )
        account.password = new_password
        account.derived = await derive_keys(
            new_password, await account.session.prelogin(account.email)
        )
        self.report.count("password_change")

    async def _revocation(self, account: Account) -> None:
        other = await self._login(account, self._client())
        device_id = other.device_id
        await other.aclose()
        assert device_id is not None
        await account.session.revoke_device(device_id, account.password)
        self.report.count("device_revocation")

    async def sequence(self) -> Conv:
        rng = self.rng
        if self.groups and rng.random() < 0.01:
            conv = await self._new_group()
        else:
            conv = rng.choice(self.convs)
        ops = rng.randint(1, 4)
        self.membership_changed = False
        for _ in range(ops):
            t0 = time.monotonic()
            roll = rng.random()
            if roll < 0.55:
                op = "send"
                await self._send(conv)
            elif roll < 0.63:
                op = "duplicate"
                await self._duplicate(conv)
            elif roll < 0.69:
                op = "drop_live"
                await self._drop(conv)
            elif roll < 0.74:
                op = "reconnect"
                await self._reconnect(conv)
            elif roll < 0.80:
                op = "reload"
                await self._replace_session(
                    self.accounts[rng.choice(sorted(conv.members))], keep_device=True
                )
            elif roll < 0.83:
                op = "new_device"
                await self._replace_session(
                    self.accounts[rng.choice(sorted(conv.members))], keep_device=False
                )
            elif conv.kind == "group":
                op = "membership"
                await self._member_change(conv)
                self.membership_changed = True
            else:
                op = "send"
                await self._send(conv)
            self.report.count(op)
            self.report.timed(op, time.monotonic() - t0)
            self.log.append(op)
        if rng.random() < P_PASSWORD_CHANGE:
            await self._password_change(self.accounts[rng.choice(sorted(conv.members))])
        if rng.random() < P_REVOCATION:
            await self._revocation(self.accounts[rng.choice(sorted(conv.members))])
        return conv

    # --- checks ------------------------------------------------------------------------------

    def fail(self, what: str) -> None:
        self.report.failures.append(
            f"seed {self.seed} sequence {self.report.sequences}: {what} (ops {self.log[-6:]})"
        )

    def _judge(self, user: str, conv: Conv, got: DecryptedMessage, where: str) -> None:
        sent = conv.messages.get(got.seq)
        if sent is None:
            self.fail(f"{where}: unknown message seq {got.seq} in {conv.kind}")
            return
        if user in sent.entitled and user not in conv.members and got.error == "no_key":
            # Removed (or left) before this session fetched the key: the server no longer
            # hands it out. What a removed member already had stays theirs; this was not.
            return
        if user in sent.entitled:
            self.report.checked_decrypts += 1
            if got.text != sent.text or got.error is not None or not got.verified_device:
                self.fail(
                    f"{where}: {self.accounts[user].name} cannot read seq {got.seq} "
                    f"({conv.kind}, gen {got.generation}): error {got.error}"
                )
        else:
            self.report.checked_refusals += 1
            if got.text is not None or got.error is None:
                self.fail(f"{where}: {self.accounts[user].name} read seq {got.seq} unentitled")

    async def _drain_live(self, account: Account) -> None:
        """Whatever arrived live meanwhile must be right (frames may have been dropped)."""
        session = account.session
        rt = session.realtime
        if not rt.started:
            return
        by_id = {c.id: c for c in self.convs}
        while rt.pending_events():
            event = await session.next_decrypted()
            if isinstance(event, DecryptedMessage):
                conv = by_id.get(str(event.conversation_id))
                if conv is not None:
                    self._judge(account.user_id, conv, event, "live")

    async def check(self, conv: Conv) -> None:
        """Every member whose session has not read this conversation yet (a reload, a new
        device, a new member) reads all of it; one more member reads what is new."""
        members = sorted(conv.members)
        readers = {u for u in members if conv.id not in self.accounts[u].checked}
        readers.add(self.rng.choice(members))
        for user in sorted(readers):
            account = self.accounts[user]
            await self._drain_live(account)
            after = account.checked.get(conv.id, 0)
            got = await account.session.history_decrypted(conv.id, after=after)
            seqs = [m.seq for m in got]
            entitled = [
                s for s, m in sorted(conv.messages.items()) if s > after and user in m.entitled
            ]
            if not set(entitled) <= set(seqs) or not set(seqs) <= set(conv.messages):
                self.fail(f"history of {account.name}: seqs {seqs}, entitled to {entitled}")
            for message in got:
                self._judge(user, conv, message, "history")
            if got:
                account.checked[conv.id] = got[-1].seq
        if self.membership_changed or self.rng.random() < 0.25:
            await self._check_outsiders(conv)

    async def _check_outsiders(self, conv: Conv) -> None:
        """Someone not entitled to the newest message has no box for its generation and cannot
        open its envelope (handed over by a member)."""
        if not conv.messages:
            return
        newest = conv.messages[max(conv.messages)]
        outsiders = [u for u in self.accounts if u not in newest.entitled]
        if not outsiders:
            return
        outsider = self.accounts[self.rng.choice(outsiders)].session
        member = self.accounts[sorted(conv.members)[0]].session
        raw = await _message_at(member, conv.id, newest.seq)
        if raw is None or raw.generation is None:
            self.fail(f"newest message {newest.seq} not found")
            return
        try:
            await outsider.http.request(
                "GET", f"/api/v1/conversations/{conv.id}/key-sets/{raw.generation}"
            )
            self.fail(f"an outsider has a box for generation {raw.generation}")
        except ApiError as exc:
            if exc.status not in (403, 404):
                raise
        got = await outsider.e2ee.decrypt(raw)
        self.report.checked_refusals += 1
        if got.text is not None or got.error is None or outsider.undecryptable < 1:
            self.fail(f"an outsider opened seq {newest.seq}: {got}")

    async def run(self, sequences: int) -> Report:
        started = time.monotonic()
        await self.setup()
        try:
            for _ in range(sequences):
                try:
                    async with asyncio.timeout(SEQUENCE_TIMEOUT_S):
                        conv = await self.sequence()
                        t0 = time.monotonic()
                        await self.check(conv)
                        self.report.timed("check", time.monotonic() - t0)
                except TimeoutError:
                    self.fail(f"sequence took more than {SEQUENCE_TIMEOUT_S} s")
                    break
                self.report.sequences += 1
                if self.progress and self.report.sequences % 50 == 0:
                    elapsed = time.monotonic() - started
                    sys.stderr.write(
                        f"utd seed {self.seed}: {self.report.sequences} in {elapsed:.0f} s\n"
                    )
                if len(self.report.failures) > 50:
                    break
        finally:
            self.report.seconds = time.monotonic() - started
            await self.close()
        return self.report


async def _message_at(client: HushroomClient, conv: str, seq: int) -> Message | None:
    page = await client.history(conv, after=seq - 1, limit=1)
    return next((m for m in page.messages if m.seq == seq), None)


async def run_harness(
    base_url: str,
    sequences: int,
    seed: int | None = None,
    *,
    groups: bool = True,
    lanes: int = 4,
) -> Report:
    """Run `sequences` sequences against the server at `base_url` (what `make bench` calls), in
    `lanes` concurrent harnesses with their own accounts (seeds `seed`, `seed + 1`, …)."""
    seed = secrets.randbits(32) if seed is None else seed
    shares = [sequences // lanes + (1 if i < sequences % lanes else 0) for i in range(lanes)]
    started = time.monotonic()
    reports = await asyncio.gather(
        *(Harness(base_url, seed + i, groups=groups).run(n) for i, n in enumerate(shares) if n)
    )
    total = Report(seconds=time.monotonic() - started)
    for report in reports:
        total.sequences += report.sequences
        total.messages += report.messages
        total.checked_decrypts += report.checked_decrypts
        total.checked_refusals += report.checked_refusals
        total.failures += report.failures
        for op, n in report.operations.items():
            total.operations[op] = total.operations.get(op, 0) + n
        for op, t in report.op_seconds.items():
            total.timed(op, t)
    return total


def _sequences() -> int:
    return int(os.environ.get("HUSHROOM_UTD_SEQUENCES", DEFAULT_SEQUENCES))


def _seed(default: int) -> int:
    value = os.environ.get("HUSHROOM_UTD_SEED")
    return int(value) if value else default


def _share(server: ServerProcess) -> int:
    """This backend's part of the run's sequences: the default 1000 are split between SQLite and
    PostgreSQL (all on SQLite when PostgreSQL is skipped)."""
    total = _sequences()
    if os.environ.get("HUSHROOM_SKIP_POSTGRES") and not os.environ.get("CI"):
        return total
    on_sqlite = server.database_url.startswith("sqlite")
    return total // 2 + (total % 2 if on_sqlite else 0)


@pytest.mark.timeout(1800)
def test_unable_to_decrypt_harness(server: ServerProcess) -> None:
    seed = _seed(secrets.randbits(32))
    groups = os.environ.get("HUSHROOM_UTD_GROUPS", "1") != "0"
    sequences = _share(server)
    report = asyncio.run(run_harness(server.base_url, sequences, seed, groups=groups))
    print(json.dumps({"seed": seed, **report.as_json()}))  # noqa: T201 (the run's figures)
    assert report.failures == [], "\n".join(report.failures[:10])
    assert report.sequences == sequences
    assert report.checked_decrypts > report.messages
    if sequences >= 100:
        assert report.checked_refusals > 0
        for op in ("send", "duplicate", "drop_live", "reconnect", "reload", "new_device"):
            assert report.operations.get(op, 0) > 0, op


def _main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="unable-to-decrypt harness")
    parser.add_argument("--url", required=True)
    parser.add_argument("--sequences", type=int, default=_sequences())
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    report = asyncio.run(run_harness(args.url, args.sequences, args.seed))
    print(json.dumps(report.as_json()))  # noqa: T201
    raise SystemExit(1 if report.failures else 0)


if __name__ == "__main__":
    _main()
