"""API keys over HTTP (admin keys only): the key is shown once at creation, stored only as a salted hash,
listed and read without it, and refused everywhere once revoked."""

from __future__ import annotations

import re

import pytest

from meterbill.errors import UnauthorizedError
from meterbill.services.apikeys import Principal, authenticate
from tests.fakes import FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    ApiClient,
    handler_client,
    problem,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

NOW = "2026-03-01T12:00:00Z"


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


def test_a_new_key_is_answered_once_with_its_text_and_works_for_its_account_and_scopes(api, fakes):
    answer = api.post("/v1/api-keys", {"name": "collector in building 7", "scopes": ["ingest", "read"]})

    key_id = answer.json["key_id"]
    assert answer.status == 201
    assert answer.headers["location"] == f"/v1/api-keys/{key_id}"
    assert answer.headers["cache-control"] == "no-store"
    assert re.fullmatch(r"mb_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", answer.json["key"])
    assert answer.json == {
        "key_id": key_id,
        "name": "collector in building 7",
        "scopes": ["ingest", "read"],
        "state": "active",
        "created_at": NOW,
        "revoked_at": None,
        "key": answer.json["key"],
    }
    assert authenticate(answer.json["key"], fakes.keys) == Principal(
        ACCOUNT, key_id, frozenset({"ingest", "read"})
    )
    record = fakes.keys.records[key_id]
    assert answer.json["key"].split("_")[2].encode() not in (record.digest, record.salt)


def test_keys_are_listed_and_read_without_their_text(api, fakes):
    created = api.post("/v1/api-keys", {"name": "reader", "scopes": ["read"]}).json
    shown = {k: v for k, v in created.items() if k != "key"}

    assert api.get("/v1/api-keys").json == {"items": [shown], "next_cursor": None}
    assert api.get(f"/v1/api-keys/{created['key_id']}").json == shown


def test_a_revoked_key_is_refused_from_then_on_and_stays_listed(api, fakes):
    created = api.post("/v1/api-keys", {"name": "old collector", "scopes": ["ingest"]}).json

    answer = api.delete(f"/v1/api-keys/{created['key_id']}")

    assert answer.status == 200
    assert answer.json["revoked_at"] == NOW
    with pytest.raises(UnauthorizedError):
        authenticate(created["key"], fakes.keys)
    assert api.get(f"/v1/api-keys/{created['key_id']}").json["revoked_at"] == NOW


def test_another_accounts_key_is_not_found_and_not_revoked(api, fakes):
    created = api.post("/v1/api-keys", {"name": "mine", "scopes": ["read"]}).json
    intruder = api.as_key(OTHER_ACCOUNT, "admin")

    read = intruder.get(f"/v1/api-keys/{created['key_id']}")
    revoke = intruder.delete(f"/v1/api-keys/{created['key_id']}")

    detail = f"api key '{created['key_id']}' not found"
    assert (read.json, revoke.json) == (problem(404, detail), problem(404, detail))
    assert intruder.get("/v1/api-keys").json == {"items": [], "next_cursor": None}
    assert fakes.keys.records[created["key_id"]].revoked_at is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "k", "scopes": []}, ("scopes", "List should have at least 1 item after validation, not 0")),
        ({"name": "k", "scopes": ["root"]}, ("scopes[0]", "Input should be 'admin', 'ingest' or 'read'")),
        ({"name": "k", "scopes": ["read"], "account_id": OTHER_ACCOUNT}, ("account_id", "unknown field")),
        ({"name": " ", "scopes": ["read"]}, ("name", "must not be empty")),
        ({"name": "k" * 101, "scopes": ["read"]}, ("name", "String should have at most 100 characters")),
    ],
)
def test_a_bad_key_request_answers_422_naming_the_field(api, fakes, body, error):
    answer = api.post("/v1/api-keys", body)

    assert answer.json == problem(422, f"{error[0]}: {error[1]}", error)
    assert fakes.keys.records == {}


@pytest.mark.parametrize("scope", ["ingest", "read"])
def test_only_admin_keys_manage_keys(api, fakes, scope):
    key = api.as_key(ACCOUNT, scope)

    answers = [key.get("/v1/api-keys"), key.post("/v1/api-keys", {"name": "k", "scopes": ["admin"]})]

    assert [a.status for a in answers] == [403, 403]
    assert fakes.keys.records == {}
