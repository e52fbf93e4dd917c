"""The membership log (docs/crypto.md §8.6): frozen vectors ``membership.json`` and scenarios."""

from __future__ import annotations

from typing import Any

import pytest

from hushroom.crypto.device import DeviceCertificate, DeviceKey, verify_device_certificate
from hushroom.crypto.encoding import encode, encode_signed
from hushroom.crypto.errors import ContextMismatch, Malformed, NotAuthorized
from hushroom.crypto.identity import IdentityPublicKey
from hushroom.crypto.membership import (
    ADMIN,
    CHANGE_LABEL,
    MEMBER,
    MEMBERSHIP_LABEL,
    REMOVED,
    MembershipChange,
    MembershipState,
    decode_membership_entry,
    membership_entry_hash,
    sign_membership_entry,
    verify_membership_log,
)
from tests.crypto.support import expect, ids, load, x

V = load("membership")
CONV = V["conversation_id"]


class Person:
    def __init__(self, record: dict[str, Any]) -> None:
        self.user_id: str = record["user_id"]
        self.device = DeviceKey(x(record["device_seed"]))
        identity = IdentityPublicKey(x(record["identity_public"]))
        self.cert = verify_device_certificate(
            x(record["device_certificate"]), identity, self.user_id, record["device_id"]
        )


PEOPLE = {p["user_id"]: Person(p) for p in V["people"]}
LOG = [x(e["entry"]) for e in V["log"]]


def lookup(
    extra: dict[tuple[str, str], DeviceCertificate] | None = None,
) -> Any:
    def certificate_for(user_id: str, device_id: str) -> DeviceCertificate | None:
        if extra and (user_id, device_id) in extra:
            return extra[(user_id, device_id)]
        person = PEOPLE.get(user_id)
        if person is not None and person.cert.device_id == device_id:
            return person.cert
        return None

    return certificate_for


def _state_json(state: MembershipState) -> dict[str, Any]:
    return {
        "index": state.index,
        "head": state.head.hex(),
        "members": dict(sorted(state.members.items())),
    }


def test_valid_log_signs_byte_for_byte_and_verifies() -> None:
    state = MembershipState.empty(CONV)
    for v in V["log"]:
        signer = PEOPLE[v["signer"]]
        changes = [MembershipChange(u, r) for u, r in v["changes"]]
        entry = sign_membership_entry(
            state, v["action"], changes, signer.device, signer.cert, v["created_at"]
        )
        assert entry.hex() == v["entry"]
        state, parsed = state.apply(entry, lookup())
        assert parsed.index == v["index"]
        assert parsed.action == v["action"]
        assert parsed.signer_user_id == v["signer"]
        assert parsed.hash.hex() == v["hash"] == membership_entry_hash(entry).hex()
        assert _state_json(state) == v["state"]
    states = verify_membership_log(CONV, LOG, lookup())
    assert [_state_json(s) for s in states] == [v["state"] for v in V["log"]]


@pytest.mark.parametrize("v", V["invalid"], ids=ids(V["invalid"]))
def test_invalid_entries(v: dict[str, Any]) -> None:
    extra = {
        (c["user_id"], c["device_id"]): PEOPLE[c["person"]].cert
        for c in v.get("extra_certificates", [])
    }
    prefix = v["prefix_length"]
    states = verify_membership_log(CONV, LOG[:prefix], lookup())
    state = states[-1] if states else MembershipState.empty(CONV)
    with expect(v["error"]):
        state.apply(x(v["entry"]), lookup(extra))
    with expect(v["error"]):
        verify_membership_log(CONV, [*LOG[:prefix], x(v["entry"])], lookup(extra))


def test_decode_gives_the_signer_without_checking_anything() -> None:
    entry = decode_membership_entry(LOG[3])
    assert (entry.signer_user_id, entry.signer_device_id) == ("bob", "bob-dev")
    assert entry.changes == (MembershipChange("carol", REMOVED),)
    assert entry.previous == membership_entry_hash(LOG[2])
    with pytest.raises(Malformed):
        decode_membership_entry(LOG[3][:-1])


def test_round_trip_and_state_helpers() -> None:
    alice, bob, carol = PEOPLE["alice"], PEOPLE["bob"], PEOPLE["carol"]
    s0 = MembershipState.empty("room-x")
    assert (s0.index, s0.head, dict(s0.members)) == (-1, bytes(32), {})
    e0 = sign_membership_entry(
        s0, "create", [MembershipChange("alice", ADMIN)], alice.device, alice.cert, 5
    )
    s1, _ = s0.apply(e0, lookup())
    e1 = sign_membership_entry(
        s1,
        "add",
        [MembershipChange("carol", MEMBER), MembershipChange("bob", ADMIN)],
        alice.device,
        alice.cert,
        6,
    )
    states = verify_membership_log("room-x", [e0, e1], lookup())
    assert states[-1].admins() == {"alice", "bob"}
    assert states[-1].member_ids() == {"alice", "bob", "carol"}
    assert states[-1].head == membership_entry_hash(e1)
    with pytest.raises(TypeError):
        states[-1].members["mallory"] = ADMIN  # type: ignore[index]
    # Carol is a member, not an admin: signing refuses what verification would refuse.
    with pytest.raises(NotAuthorized):
        sign_membership_entry(
            states[-1], "remove", [MembershipChange("bob", REMOVED)], carol.device, carol.cert, 7
        )
    with pytest.raises(Malformed):
        sign_membership_entry(states[-1], "leave", [], bob.device, bob.cert, 7)
    with pytest.raises(ContextMismatch):
        sign_membership_entry(
            states[-1], "leave", [MembershipChange("bob", REMOVED)], carol.device, bob.cert, 7
        )


def test_server_inserted_ghost_entry_is_refused() -> None:
    """The server appends an entry adding mallory, signed by mallory's own certified device."""
    mallory = PEOPLE["mallory"]
    states = verify_membership_log(CONV, LOG[:2], lookup())
    tbs = encode(
        MEMBERSHIP_LABEL,
        1,
        [
            CONV,
            2,
            states[-1].head,
            "add",
            "mallory",
            "mallory-dev",
            1,
            [encode(CHANGE_LABEL, 1, ["mallory", MEMBER])],
        ],
    )
    ghost = encode_signed(tbs, mallory.device.sign(tbs))
    with pytest.raises(NotAuthorized):
        verify_membership_log(CONV, [*LOG[:2], ghost], lookup())
    # Claiming to be alice (the admin) with mallory's key fails the signature check.
    forged = encode(
        MEMBERSHIP_LABEL,
        1,
        [
            CONV,
            2,
            states[-1].head,
            "add",
            "alice",
            "alice-dev",
            1,
            [encode(CHANGE_LABEL, 1, ["mallory", MEMBER])],
        ],
    )
    with expect("InvalidSignature"):
        states[-1].apply(encode_signed(forged, mallory.device.sign(forged)), lookup())
    # An entry that was valid elsewhere in the log cannot be replayed or reordered.
    with expect("ContextMismatch"):
        verify_membership_log(CONV, [LOG[0], LOG[2]], lookup())
    # Truncation is not detectable from the entries alone; the caller remembers the index.
    assert verify_membership_log(CONV, LOG[:3], lookup())[-1].index == 2
