"""Who may do what: the account comes from the authorizer only, each key's scopes decide the operations
(admin: all; ingest: POST readings and imports; read: GET), checked before the request is read."""

from __future__ import annotations

import pytest

from meterbill.api import gate
from meterbill.api.app import create_app
from tests.fakes import FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    ApiClient,
    LambdaContextStub,
    answer_of,
    authorizer_context,
    handler_client,
    problem,
    proxy_event,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

READING = {"meter_id": "mtr-1", "timestamp": "2026-03-01T00:00:00Z", "value": "1", "type": "register"}
CALLS = [  # method, path, body, the scope it needs (admin may do everything)
    ("GET", "/v1/customers", None, "read"),
    ("POST", "/v1/customers", {"name": "Ada"}, "admin"),
    ("GET", "/v1/customers/cus-1", None, "read"),
    ("PUT", "/v1/customers/cus-1", {"name": "Ada"}, "admin"),
    ("DELETE", "/v1/customers/cus-1", None, "admin"),
    ("GET", "/v1/sites", None, "read"),
    ("POST", "/v1/sites", {"name": "Plant", "timezone": "UTC"}, "admin"),
    ("GET", "/v1/meters", None, "read"),
    ("GET", "/v1/meters/mtr-1/usage", None, "read"),
    ("GET", "/v1/customers/cus-1/bill-preview", None, "read"),
    ("GET", "/v1/assignments", None, "read"),
    ("GET", "/v1/tariffs", None, "read"),
    ("POST", "/v1/tariffs", {"id": "t", "name": "T"}, "admin"),
    ("GET", "/v1/tariffs/t/versions", None, "read"),
    ("GET", "/v1/api-keys", None, "admin"),
    ("POST", "/v1/api-keys", {"name": "k", "scopes": ["read"]}, "admin"),
    ("POST", "/v1/readings", {"readings": [READING]}, "ingest"),
    ("POST", "/v1/imports", None, "ingest"),
]


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


@pytest.mark.parametrize("scope", ["ingest", "read"])
@pytest.mark.parametrize(("method", "path", "body", "needs"), CALLS)
def test_a_key_may_only_do_what_its_scope_allows(api, fakes, scope, method, path, body, needs):
    answer = api.as_key(ACCOUNT, scope).request(method, path, json_body=body)

    if scope == needs:
        assert answer.status != 403
    else:
        detail = f"this API key's scopes ({scope}) do not allow this operation; it needs {needs!r}"
        assert answer.json == problem(403, detail)
        assert fakes.catalog.items == {}
        assert fakes.keys.records == {}


def test_a_key_without_scope_is_refused_before_its_body_is_read(api, fakes):
    answer = api.as_key(ACCOUNT, "ingest").request("POST", "/v1/customers", body="{not json")

    assert answer.status == 403


def test_a_request_without_the_authorizers_context_is_refused_401(api, fakes):
    answer = api.request("GET", "/v1/customers", authorized=False)

    assert answer.status == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json == problem(401, "this route needs an API key: Authorization: Bearer <key>")


def test_unknown_scopes_in_the_context_grant_nothing(api, fakes):
    answer = api.as_key(ACCOUNT, "superuser", "root").get("/v1/customers")  # type: ignore[arg-type]

    assert answer.json == problem(
        403, "this API key's scopes (none) do not allow this operation; it needs 'read'"
    )


def test_the_account_comes_from_the_authorizer_not_from_the_request(api, fakes):
    answer = api.request(
        "POST",
        "/v1/customers",
        json_body={"id": "cus-1", "name": "Ada"},
        headers={"X-Account-Id": "acc_b"},
        query={"account_id": "acc_b"},
    )

    assert answer.status == 201
    assert list(fakes.catalog.items) == [(ACCOUNT, "customer", "cus-1")]


def test_the_route_checks_the_scope_again_should_the_gate_let_a_request_through(fakes, monkeypatch):
    app = create_app()
    monkeypatch.setattr(gate, "check", lambda event, settings: None)  # a gate fooled by the path's spelling
    event = proxy_event("GET", "/v1/api-keys", authorizer=authorizer_context(ACCOUNT, "read"))

    answer = answer_of(app.resolve(event, LambdaContextStub()))

    assert answer.json == problem(
        403, "this API key's scopes (read) do not allow this operation; it needs 'admin'"
    )


def test_the_openapi_document_is_public(api):
    answer = api.request("GET", "/v1/openapi.json", authorized=False)

    assert (answer.status, answer.json["info"]["title"]) == (200, "meterbill API")
