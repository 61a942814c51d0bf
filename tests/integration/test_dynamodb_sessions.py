"""SessionStore on DynamoDB (moto): one item per session under the hash of its id, holding neither the
session id nor the CSRF token; read back exactly; deleted by sign-out; expired by TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterbill.errors import AlreadyExistsError
from meterbill.ports import Session, Stores
from meterbill.services.apikeys import create_key
from meterbill.services.console_sessions import digest, resolve, sign_in, sign_out
from tests.integration.conftest import CATALOG_TABLE, Tables

SIGNED_IN = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def session(id_hash: bytes = bytes(range(32))) -> Session:
    return Session(
        id_hash=id_hash,
        account="acme",
        key_id="0123456789abcdef",
        scope="read",
        created_at=SIGNED_IN,
        expires_at=SIGNED_IN + timedelta(hours=8),
        csrf_token_hash=bytes(range(32, 64)),
    )


def test_put_stores_the_session_under_the_hash_of_its_id_with_its_ttl(stores: Stores, tables: Tables) -> None:
    assert stores.sessions is not None
    stores.sessions.put(session())

    key = "session#" + bytes(range(32)).hex()
    assert tables.catalog(key, "session") == {
        "pk": {"S": key},
        "sk": {"S": "session"},
        "account": {"S": "acme"},
        "key_id": {"S": "0123456789abcdef"},
        "scope": {"S": "read"},
        "created_at": {"S": "2026-03-01T09:00:00.000000+0000"},
        "expires_at": {"S": "2026-03-01T17:00:00.000000+0000"},
        "csrf_token_hash": {"B": bytes(range(32, 64))},
        "ttl": {"N": str(int(datetime(2026, 3, 1, 17, 0, tzinfo=UTC).timestamp()))},  # 1772384400
    }


def test_a_signed_in_session_is_stored_without_its_id_or_csrf_token(stores: Stores, tables: Tables) -> None:
    assert stores.sessions is not None
    _, key = create_key("acme", "console", ["admin"], stores.keys, SIGNED_IN)

    session_text, csrf_token, _ = sign_in(key, stores.keys, stores.sessions, SIGNED_IN)

    (raw,) = [item for item in tables.all(CATALOG_TABLE) if item["sk"]["S"] == "session"]
    assert raw["pk"]["S"] == "session#" + digest(session_text).hex()
    assert session_text not in repr(raw) and csrf_token not in repr(raw)
    assert raw["csrf_token_hash"]["B"] == digest(csrf_token)


def test_get_reads_the_session_back_exactly_and_an_unknown_one_is_none(stores: Stores) -> None:
    assert stores.sessions is not None
    stores.sessions.put(session())

    assert stores.sessions.get(bytes(range(32))) == session()
    assert stores.sessions.get(bytes(32)) is None


def test_a_session_id_hash_is_never_stored_twice(stores: Stores) -> None:
    assert stores.sessions is not None
    stores.sessions.put(session())

    with pytest.raises(AlreadyExistsError):
        stores.sessions.put(session())


def test_sign_out_deletes_the_item_and_the_session_is_refused(stores: Stores, tables: Tables) -> None:
    assert stores.sessions is not None
    _, key = create_key("acme", "console", ["read"], stores.keys, SIGNED_IN)
    session_text, _, stored = sign_in(key, stores.keys, stores.sessions, SIGNED_IN)
    assert resolve(session_text, stores.keys, stores.sessions, SIGNED_IN) == stored

    sign_out(session_text, stores.sessions)
    sign_out(session_text, stores.sessions)  # again: no error

    assert tables.catalog("session#" + digest(session_text).hex(), "session") is None
    assert stores.sessions.get(digest(session_text)) is None
