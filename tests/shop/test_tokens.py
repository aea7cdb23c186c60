"""JWT signing and verification, and the seeded credentials."""

from __future__ import annotations

import pytest

from surge.shop import tokens
from surge.shop.credentials import password_for, signing_key_for, usernames

KEY = signing_key_for("surge")


def test_a_signed_token_verifies_and_returns_its_claims():
    token = tokens.sign({"sub": "u1", "exp": 2000}, KEY)
    assert tokens.verify(token, KEY, now=1000) == {"sub": "u1", "exp": 2000}


def test_an_expired_token_is_rejected():
    token = tokens.sign({"sub": "u1", "exp": 1000}, KEY)
    with pytest.raises(tokens.TokenRejected) as info:
        tokens.verify(token, KEY, now=1000)
    assert info.value.problem is tokens.TokenProblem.EXPIRED


def test_a_token_signed_with_another_key_is_rejected():
    token = tokens.sign({"sub": "u1", "exp": 2000}, signing_key_for("other"))
    with pytest.raises(tokens.TokenRejected) as info:
        tokens.verify(token, KEY, now=1000)
    assert info.value.problem is tokens.TokenProblem.BAD_SIGNATURE


def test_a_tampered_payload_is_rejected():
    header, _, signature = tokens.sign({"sub": "u1", "exp": 2000}, KEY).split(".")
    forged_payload = tokens.sign({"sub": "admin", "exp": 2000}, KEY).split(".")[1]
    with pytest.raises(tokens.TokenRejected) as info:
        tokens.verify(f"{header}.{forged_payload}.{signature}", KEY, now=1000)
    assert info.value.problem is tokens.TokenProblem.BAD_SIGNATURE


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "!!.??.**"])
def test_garbage_is_malformed(token):
    with pytest.raises(tokens.TokenRejected) as info:
        tokens.verify(token, KEY, now=1000)
    assert info.value.problem is tokens.TokenProblem.MALFORMED


def test_bearer_token_reads_the_header_and_refuses_a_missing_one():
    assert tokens.bearer_token("Bearer abc") == "abc"
    assert tokens.bearer_token("abc") == "abc"
    for header in (None, "", "Bearer "):
        with pytest.raises(tokens.TokenRejected) as info:
            tokens.bearer_token(header)
        assert info.value.problem is tokens.TokenProblem.MISSING


def test_passwords_depend_on_user_and_seed_and_are_stable():
    assert usernames(3) == ["user0001", "user0002", "user0003"]
    assert password_for("user0001", "s") == password_for("user0001", "s")
    assert password_for("user0001", "s") != password_for("user0002", "s")
    assert password_for("user0001", "s") != password_for("user0001", "t")
    assert password_for("user0001").startswith("Aa1!")
