"""API keys: shown once, stored as salted, peppered hashes, found by their public id."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from serving.access.keys import (
    MalformedKey,
    Role,
    matches,
    new_key,
    normalised_offices,
    parse_key,
    secret_hash,
)

PEPPER = b"test-pepper-of-at-least-32-bytes!!"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_a_new_key_is_stored_only_as_its_hash() -> None:
    text, stored = new_key("desk 3", "officer", pepper=PEPPER, created_at=NOW)
    presented = parse_key(text)
    assert text == f"srk_{stored.key_id}_{presented.secret}"
    assert len(presented.secret) == 43  # token_urlsafe(32)
    assert presented.secret not in repr(stored)
    expected = hmac.new(
        PEPPER, bytes.fromhex(stored.salt) + presented.secret.encode(), hashlib.sha256
    ).hexdigest()
    assert stored.secret_hash == expected
    assert stored.role is Role.OFFICER
    assert stored.offices is None
    assert matches(presented, stored, PEPPER)


def test_two_keys_differ_in_id_secret_and_salt() -> None:
    first_text, first = new_key("a", Role.ADMIN, pepper=PEPPER, created_at=NOW)
    second_text, second = new_key("a", Role.ADMIN, pepper=PEPPER, created_at=NOW)
    assert first.key_id != second.key_id
    assert first.salt != second.salt
    assert parse_key(first_text).secret != parse_key(second_text).secret


def test_a_key_does_not_match_another_pepper_or_secret() -> None:
    text, stored = new_key("a", "risk_manager", pepper=PEPPER, created_at=NOW)
    presented = parse_key(text)
    assert not matches(presented, stored, b"another pepper")
    altered = presented.secret[:-1] + ("A" if presented.secret[-1] != "A" else "B")
    assert not matches(parse_key(f"srk_{stored.key_id}_{altered}"), stored, PEPPER)


def test_secret_hash_is_hmac_of_salt_and_secret() -> None:
    assert (
        secret_hash("abc", "00ff", b"p")
        == hmac.new(b"p", b"\x00\xffabc", hashlib.sha256).hexdigest()
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Bearer x",
        "srk_0123456789ab",
        "srk_0123456789AB_" + "a" * 43,  # upper-case hex id
        "srk_0123456789ab-" + "a" * 43,  # wrong separator
        "srk_0123456789ab_" + "a" * 42,  # secret too short
        "srk_0123456789ab_" + "a" * 42 + "!",
        "xyz_0123456789ab_" + "a" * 43,
    ],
)
def test_malformed_keys_are_refused_without_repeating_them(text: str) -> None:
    with pytest.raises(MalformedKey) as refused:
        parse_key(text)
    assert str(refused.value) == (
        "not a shiprisk API key: expected srk_<12 hex digits>_<43 characters>"
    )


def test_a_well_formed_key_splits_into_id_and_secret() -> None:
    presented = parse_key("srk_0123456789ab_" + "-_" * 21 + "Z")
    assert presented.key_id == "0123456789ab"
    assert presented.secret == "-_" * 21 + "Z"


def test_offices_are_a_sorted_remit_and_empty_means_all() -> None:
    assert normalised_offices(["RS02", " AL01", "RS02", ""]) == ("AL01", "RS02")
    assert normalised_offices([]) is None
    assert normalised_offices(None) is None
    _, stored = new_key("a", "officer", pepper=PEPPER, created_at=NOW, offices=["XK01"])
    assert stored.covers_office("XK01")
    assert not stored.covers_office("XK02")


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("", "officer", "a key needs a name of 1 to 200 characters"),
        ("x" * 201, "officer", "a key needs a name of 1 to 200 characters"),
        ("a", "chief", "unknown role 'chief': choose one of officer, risk_manager, admin"),
    ],
)
def test_bad_names_and_roles_are_refused(name: str, role: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        new_key(name, role, pepper=PEPPER, created_at=NOW)
    assert str(refused.value) == message
