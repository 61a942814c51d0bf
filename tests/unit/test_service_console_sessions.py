"""The console's sign-in: an admin or read key becomes an 8-hour session stored only as hashes; an ingest key,
a wrong key or a revoked one cannot sign in; an expired session, a signed-out one, or one whose key
was revoked is refused; the CSRF token is checked against its hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from meterbill.errors import ForbiddenError, UnauthorizedError
from meterbill.services.apikeys import create_key, revoke_key
from meterbill.services.console_sessions import csrf_token_matches, resolve, sign_in, sign_out
from tests.fakes import FakeKeyStore, FakeSessionStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def keys() -> FakeKeyStore:
    return FakeKeyStore()


@pytest.fixture
def sessions() -> FakeSessionStore:
    return FakeSessionStore()


@pytest.mark.parametrize(
    ("scopes", "scope"),
    [(["admin"], "admin"), (["read"], "read"), (["read", "ingest"], "read"), (["admin", "read"], "admin")],
)
def test_an_admin_or_read_key_signs_in_for_eight_hours_with_the_keys_scope(keys, sessions, scopes, scope):
    info, key = create_key("acc_a", "console", scopes, keys, NOW)

    session_text, csrf_token, session = sign_in(key, keys, sessions, NOW)

    assert (session.account, session.key_id, session.scope) == ("acc_a", info.key_id, scope)
    assert (session.created_at, session.expires_at) == (NOW, datetime(2026, 3, 1, 20, 0, tzinfo=UTC))
    assert (len(session_text), len(csrf_token)) == (43, 43)
    assert list(sessions.sessions) == [hashlib.sha256(session_text.encode()).digest()]
    assert session.csrf_token_hash == hashlib.sha256(csrf_token.encode()).digest()


def test_the_stored_session_holds_neither_the_session_id_nor_the_csrf_token(keys, sessions):
    _, key = create_key("acc_a", "console", ["admin"], keys, NOW)

    session_text, csrf_token, _ = sign_in(key, keys, sessions, NOW)

    stored = repr(sessions.sessions)
    assert session_text not in stored and csrf_token not in stored


def test_two_sign_ins_make_two_sessions_with_different_ids_and_tokens(keys, sessions):
    _, key = create_key("acc_a", "console", ["admin"], keys, NOW)

    first, second = sign_in(key, keys, sessions, NOW), sign_in(key, keys, sessions, NOW)

    assert first[0] != second[0] and first[1] != second[1]
    assert len(sessions.sessions) == 2


def test_an_ingest_key_cannot_sign_in(keys, sessions):
    _, key = create_key("acc_a", "collector", ["ingest"], keys, NOW)

    with pytest.raises(ForbiddenError) as refused:
        sign_in(key, keys, sessions, NOW)

    assert refused.value.field == "key"
    assert str(refused.value) == (
        "an ingest key cannot sign in to the console; sign in with an admin or read key"
    )
    assert sessions.sessions == {}


@pytest.mark.parametrize("wrong", ["", "mb_nope", "mb_0123456789abcdef_" + "A" * 43])
def test_a_wrong_key_cannot_sign_in(keys, sessions, wrong):
    create_key("acc_a", "console", ["admin"], keys, NOW)

    with pytest.raises(UnauthorizedError) as refused:
        sign_in(wrong, keys, sessions, NOW)

    assert (refused.value.field, str(refused.value)) == ("key", "invalid API key")
    assert sessions.sessions == {}


def test_a_revoked_key_cannot_sign_in(keys, sessions):
    info, key = create_key("acc_a", "console", ["admin"], keys, NOW)
    revoke_key("acc_a", info.key_id, keys, NOW)

    with pytest.raises(UnauthorizedError):
        sign_in(key, keys, sessions, NOW)


def test_a_session_resolves_until_just_before_it_expires_and_not_at_expires_at(keys, sessions):
    _, key = create_key("acc_a", "console", ["read"], keys, NOW)
    session_text, _, session = sign_in(key, keys, sessions, NOW)

    assert resolve(session_text, keys, sessions, NOW + timedelta(hours=8, microseconds=-1)) == session
    with pytest.raises(UnauthorizedError) as refused:
        resolve(session_text, keys, sessions, NOW + timedelta(hours=8))
    assert str(refused.value) == "no valid session: sign in again"


def test_a_session_does_not_slide_however_often_it_is_used(keys, sessions):
    _, key = create_key("acc_a", "console", ["read"], keys, NOW)
    session_text, _, _ = sign_in(key, keys, sessions, NOW)
    for minutes in range(0, 8 * 60, 10):
        resolve(session_text, keys, sessions, NOW + timedelta(minutes=minutes))

    with pytest.raises(UnauthorizedError):
        resolve(session_text, keys, sessions, NOW + timedelta(hours=8))


def test_revoking_the_key_ends_its_sessions(keys, sessions):
    info, key = create_key("acc_a", "console", ["admin"], keys, NOW)
    session_text, _, _ = sign_in(key, keys, sessions, NOW)

    revoke_key("acc_a", info.key_id, keys, NOW + timedelta(minutes=5))

    with pytest.raises(UnauthorizedError):
        resolve(session_text, keys, sessions, NOW + timedelta(minutes=6))


@pytest.mark.parametrize("session_text", ["", "short", "A" * 43, "A" * 42 + "!"])
def test_an_unknown_or_malformed_session_id_is_refused(keys, sessions, session_text):
    with pytest.raises(UnauthorizedError):
        resolve(session_text, keys, sessions, NOW)


def test_sign_out_ends_the_session_and_only_that_one(keys, sessions):
    _, key = create_key("acc_a", "console", ["admin"], keys, NOW)
    ended, _, _ = sign_in(key, keys, sessions, NOW)
    kept, _, kept_session = sign_in(key, keys, sessions, NOW)

    sign_out(ended, sessions)
    sign_out(ended, sessions)  # again: nothing left to end, no error
    sign_out("not a session id", sessions)

    with pytest.raises(UnauthorizedError):
        resolve(ended, keys, sessions, NOW)
    assert resolve(kept, keys, sessions, NOW) == kept_session


def test_the_csrf_token_matches_only_itself(keys, sessions):
    _, key = create_key("acc_a", "console", ["admin"], keys, NOW)
    _, csrf_token, session = sign_in(key, keys, sessions, NOW)

    assert csrf_token_matches(csrf_token, session.csrf_token_hash) is True
    assert csrf_token_matches(csrf_token[:-1], session.csrf_token_hash) is False
    assert csrf_token_matches("", session.csrf_token_hash) is False
    assert csrf_token_matches(None, session.csrf_token_hash) is False


def test_time_must_be_aware(keys, sessions):
    _, key = create_key("acc_a", "console", ["admin"], keys, NOW)

    with pytest.raises(ValueError, match="naive"):
        sign_in(key, keys, sessions, datetime(2026, 3, 1, 12, 0))
