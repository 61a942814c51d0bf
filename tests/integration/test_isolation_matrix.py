"""Isolation between accounts, and what each scope may do, for every route of the API (OWASP API1 and API5).

Two accounts, Ada's and Bob's, each hold an object of every kind (customers, sites, meters with readings,
tariffs of two versions, assignments, API keys, alerts, alert rules, silences, email subscriptions and a
collector's heartbeat). Every request goes through API Gateway as deployed: the
REQUEST authorizer (``authorizer_handler``, keys looked up in DynamoDB) and then the API handler
(``ingest_handler``), both built from the environment as in Lambda, on moto.

For every route:

- Bob's admin key with Ada's ids answers exactly what it answers for ids that exist nowhere - 404 for an id in
  the path, the same 422 for a reference in a body - and changes nothing;
- Bob's lists hold Bob's objects only, and a cursor of Ada's listing is refused;
- an ``ingest`` key may only send readings, imports and collectors' heartbeats, a ``read`` key only GET
  (API keys: admin only);
- a revoked key is refused by the authorizer itself (API Gateway answers 401);
- the console's session cookie (signed in with Bob's admin key) reaches exactly what that key reaches.

The routes come from the API's own OpenAPI document, and a test holds that list against ``ROUTES``
(``isolation_routes.py``), so a new route fails here until its row says what isolation means for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from meterbill.ports import Scope
from tests.integration.conftest import (
    CATALOG_TABLE,
    READINGS_TABLE,
)
from tests.integration.isolation_routes import (
    BILLING_SETTINGS,
    CONSOLE_ROUTES,
    ROUTES,
    other_accounts_ids_are_nobodys,
    routes,
    usage_call,
)
from tests.integration.isolation_world import (
    HEARTBEATS,
    IDEMPOTENCY_TABLE,
    NOBODY,
    Call,
    Ids,
    Refused,
    World,
    key_id_of,
    logo,
    opened_world,
    quarter_hours,
    restore,
)
from tests.unit.api_support import HttpAnswer, LambdaContextStub, answer_of, problem, proxy_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """The two accounts on moto (``isolation_world.opened_world``), shared by the module's tests; those that
    change it put it back."""
    with opened_world() as opened:
        yield opened


# --- the tests ----------------------------------------------------------------------------------------------


def test_the_matrix_has_a_row_for_every_route_of_the_openapi_document(world: World) -> None:
    document = world.gateway.send(world.bob.read, Call("GET", "/v1/openapi.json")).json
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}

    assert documented == set(ROUTES)
    assert len(documented) == 71


@pytest.mark.parametrize("route", routes("not found", "unknown reference", "rejected readings"))
def test_another_accounts_ids_answer_exactly_like_ids_that_exist_nowhere(
    world: World, route: tuple[str, str]
) -> None:
    spec = ROUTES[route]

    with_adas_ids, writes = world.send_watching_writes(world.bob.admin, spec.call(world.ada.ids))
    with_nobodys_ids = world.gateway.send(world.bob.admin, spec.call(NOBODY))

    expected_status = {"not found": 404, "unknown reference": 422, "rejected readings": 422}[spec.isolation]
    assert with_adas_ids.status == expected_status
    assert other_accounts_ids_are_nobodys(with_adas_ids, world.ada.ids) == other_accounts_ids_are_nobodys(
        with_nobodys_ids, NOBODY
    )
    assert writes == []


@pytest.mark.parametrize("route", routes("not found", "unknown reference", "rejected readings"))
def test_a_session_cookie_with_another_accounts_ids_answers_as_its_key_does(
    world: World, route: tuple[str, str]
) -> None:
    signed_in = world.gateway.send(world.bob.admin, Call("POST", "/v1/sessions", {"key": world.bob.admin}))
    session_text = signed_in.headers["set-cookie"].split(";")[0].removeprefix("mb_session=")
    csrf = {"X-CSRF-Token": signed_in.json["csrf_token"]}
    spec_call = ROUTES[route].call(world.ada.ids)
    call = replace(spec_call, headers={**spec_call.headers, **csrf})

    by_session, writes = world.send_watching_writes("", call, session=session_text)
    by_key = world.gateway.send(world.bob.admin, spec_call)

    assert (signed_in.status, by_session.status) == (201, by_key.status)
    assert by_session.json == by_key.json
    assert writes == []


def test_an_accounts_own_invoice_has_its_einvoice_xml(world: World) -> None:
    answer = world.gateway.send(world.ada.read, Call("GET", f"/v1/invoices/{world.ada.ids.invoice}/xml"))
    invoice = world.gateway.send(world.ada.read, Call("GET", f"/v1/invoices/{world.ada.ids.invoice}")).json

    assert (answer.status, answer.headers["content-type"]) == (200, "application/xml")
    assert f"<ram:ID>{invoice['number']}</ram:ID>" in answer.text
    assert "<ram:Name>Ada Energie GmbH</ram:Name>" in answer.text
    assert f"<ram:ID>{world.ada.ids.customer}</ram:ID>" in answer.text


def test_a_404_names_the_id_and_nothing_of_its_owner(world: World) -> None:
    answer = world.gateway.send(world.bob.admin, Call("GET", f"/v1/meters/{world.ada.ids.meter}"))

    assert answer.status == 404
    assert answer.headers == {"content-type": "application/problem+json", "x-content-type-options": "nosniff"}
    assert answer.json == problem(404, "meter 'mtr-ada' not found")


def test_readings_for_another_accounts_meter_are_rejected_as_for_no_meter(world: World) -> None:
    answer = world.gateway.send(world.bob.ingest, ROUTES["POST", "/v1/readings"].call(world.ada.ids))

    report = {
        "accepted": 0,
        "duplicates": 0,
        "rejected": [
            {"index": 0, "meter_id": "mtr-ada", "field": "meter_id", "reason": "no meter 'mtr-ada'"}
        ],
        "rejected_count": 1,
        "replaced": 0,
    }
    assert answer.json == problem(
        422,
        "no reading was stored: 1 rejected",
        ("readings[0].meter_id", "no meter 'mtr-ada'"),
        **report,
    )


@pytest.mark.parametrize("route", routes("own list"))
def test_a_list_holds_the_callers_objects_only(world: World, route: tuple[str, str]) -> None:
    path = route[1]
    id_field = "key_id" if path == "/v1/api-keys" else "id"

    bobs = world.gateway.send(
        world.bob.read if path != "/v1/api-keys" else world.bob.admin, Call("GET", path)
    )
    adas = world.gateway.send(world.ada.admin, Call("GET", path))

    assert sorted(item[id_field] for item in bobs.json["items"]) == world.bob.listed[path]
    assert sorted(item[id_field] for item in adas.json["items"]) == world.ada.listed[path]


@pytest.mark.parametrize("route", routes("own list"))
def test_a_cursor_of_another_accounts_listing_is_refused(world: World, route: tuple[str, str]) -> None:
    path = route[1]
    adas_first_page = world.gateway.send(world.ada.admin, Call("GET", path, query={"limit": "1"}))
    adas_cursor = adas_first_page.json["next_cursor"]

    answer = world.gateway.send(
        world.bob.admin, Call("GET", path, query={"limit": "1", "cursor": adas_cursor})
    )

    assert adas_cursor is not None
    assert answer.json == problem(
        422, "cursor: is not a cursor of this listing", ("cursor", "is not a cursor of this listing")
    )


def test_the_same_meter_id_in_two_accounts_keeps_each_accounts_readings(world: World) -> None:
    main = replace(world.ada.ids, meter="main")

    adas = world.gateway.send(world.ada.read, usage_call(main))
    bobs = world.gateway.send(world.bob.read, usage_call(replace(world.bob.ids, meter="main")))

    assert (adas.json["total"], bobs.json["total"]) == ("7", "7")  # each account sent one 7 kWh reading
    assert [b["total"] for b in adas.json["buckets"]] == ["7"]
    assert adas.json["qualities"]["actual"] == bobs.json["qualities"]["actual"] == 1


def test_the_openapi_document_is_the_same_for_every_key_and_for_none(world: World) -> None:
    call = Call("GET", "/v1/openapi.json")
    adas = world.gateway.send(world.ada.ingest, call)
    bobs = world.gateway.send(world.bob.admin, call)
    keyless = answer_of(world.gateway.handler(proxy_event("GET", "/v1/openapi.json"), LambdaContextStub()))

    assert adas.status == bobs.status == keyless.status == 200
    assert adas.text == bobs.text == keyless.text


@pytest.mark.parametrize("route", routes())
def test_an_ingest_key_may_only_send_readings_imports_and_heartbeats(
    world: World, route: tuple[str, str]
) -> None:
    spec = ROUTES[route]

    answer, writes = world.send_watching_writes(world.ada.ingest, spec.call(world.ada.ids))

    if route == HEARTBEATS:  # a heartbeat is kept as received now: the one write an ingest key makes anew
        assert (answer.status, answer.json["collector_id"]) == (202, "col-1")
        return
    if spec.needs == "ingest":  # what it sent is stored already: a duplicate, stored once
        assert (answer.status, answer.json["accepted"], answer.json["rejected_count"]) == (200, 0, 0)
    elif spec.needs is None:
        assert answer.status == spec.allowed
    else:
        detail = f"this API key's scopes (ingest) do not allow this operation; it needs {spec.needs!r}"
        assert answer.json == problem(403, detail)
    assert writes == []


@pytest.mark.parametrize("route", routes())
def test_a_read_key_may_only_get(world: World, route: tuple[str, str]) -> None:
    spec = ROUTES[route]

    answer, writes = world.send_watching_writes(world.ada.read, spec.call(world.ada.ids))

    if spec.needs in ("read", None):
        assert answer.status == spec.allowed, answer.text
    else:
        detail = f"this API key's scopes (read) do not allow this operation; it needs {spec.needs!r}"
        assert answer.json == problem(403, detail)
    assert writes == []


def test_the_scope_each_route_needs_follows_one_rule(world: World) -> None:
    def rule(method: str, path: str) -> Scope | None:
        if path in ("/v1/openapi.json", "/v1/sessions"):
            return None  # public: the document, signing in
        if path == "/v1/sessions/current":
            return "read"  # any session may end itself
        if method == "POST" and path in ("/v1/readings", "/v1/imports", HEARTBEATS[1]):
            return "ingest"
        if method == "GET" and not path.startswith("/v1/api-keys"):
            return "read"
        return "admin"

    assert {route: spec.needs for route, spec in ROUTES.items()} == {route: rule(*route) for route in ROUTES}


@pytest.mark.parametrize("route", routes())
def test_a_revoked_key_is_refused_by_the_authorizer(world: World, route: tuple[str, str]) -> None:
    with pytest.raises(Refused):
        world.gateway.authorize(world.ada.revoked, ROUTES[route].call(world.ada.ids))


def test_a_revoked_key_stays_listed_as_revoked(world: World) -> None:
    key_id = key_id_of(world.ada.revoked)

    answer = world.gateway.send(world.ada.admin, Call("GET", f"/v1/api-keys/{key_id}"))

    assert (answer.json["name"], answer.json["revoked_at"] is not None) == ("retired", True)


# --- the routes that create: the world is put back afterwards ---------------------------------------------


@pytest.fixture
def changeable_world(world: World) -> Iterator[World]:
    """The shared world, each table put back item by item after the test."""
    before = {table: world.tables.all(table) for table in (CATALOG_TABLE, READINGS_TABLE, IDEMPOTENCY_TABLE)}
    yield world
    restore(world.tables, before)


def without_server_made_fields(answer: HttpAnswer, ids: Ids) -> str:
    """The answer with each of ``ids`` written as nobody's, less what the server makes anew for every object:
    its ETag and its times."""
    body = {k: v for k, v in answer.json.items() if k not in ("etag", "created_at", "updated_at")}
    headers = {k: v for k, v in answer.headers.items() if k != "etag"}
    return other_accounts_ids_are_nobodys(HttpAnswer(answer.status, headers, json.dumps(body)), ids)


@pytest.mark.parametrize("route", routes("own object"))
def test_creating_an_object_under_an_id_another_account_uses_makes_the_callers_own(
    changeable_world: World, route: tuple[str, str]
) -> None:
    world, spec = changeable_world, ROUTES[route]
    adas_path = f"{route[1]}/{spec.call(world.ada.ids).json_body['id']}"
    adas_object = world.gateway.send(world.ada.admin, Call("GET", adas_path))

    with_adas_id = world.gateway.send(world.bob.admin, spec.call(world.ada.ids))
    with_nobodys_id = world.gateway.send(world.bob.admin, spec.call(NOBODY))

    assert (with_adas_id.status, with_adas_id.headers["location"]) == (201, adas_path)
    assert without_server_made_fields(with_adas_id, world.ada.ids) == without_server_made_fields(
        with_nobodys_id, NOBODY
    )
    assert world.gateway.send(world.bob.admin, Call("GET", adas_path)).json == with_adas_id.json
    assert world.gateway.send(world.ada.admin, Call("GET", adas_path)).text == adas_object.text


def test_billing_settings_are_each_accounts_own(changeable_world: World) -> None:
    world = changeable_world
    adas = world.gateway.send(world.ada.admin, Call("PUT", "/v1/settings/billing", BILLING_SETTINGS))

    bobs = world.gateway.send(world.bob.read, Call("GET", "/v1/settings/billing"))
    with_adas_etag, writes = world.send_watching_writes(
        world.bob.admin,
        Call("PUT", "/v1/settings/billing", {"bill_day": 9}, headers={"If-Match": adas.headers["etag"]}),
    )

    assert (adas.status, adas.json["invoice_number_prefix"]) == (200, "ADA-")
    assert (bobs.json["bill_day"], bobs.json["invoice_number_prefix"], bobs.headers["etag"]) == (
        1,
        "INV-",
        '"initial"',
    )
    reason = "is not the current ETag of settings 'billing'; read it again"
    assert with_adas_etag.json == problem(412, f"If-Match: {reason}", ("If-Match", reason))
    assert writes == []
    assert world.gateway.send(world.ada.read, Call("GET", "/v1/settings/billing")).json == adas.json


def test_each_account_reads_its_own_logo(world: World) -> None:
    adas = world.gateway.send(world.ada.read, Call("GET", "/v1/settings/logo"))
    bobs = world.gateway.send(world.bob.read, Call("GET", "/v1/settings/logo"))

    assert (adas.content, bobs.content) == (logo(world.ada.ids), logo(world.bob.ids))
    assert adas.content != bobs.content


def test_a_key_an_account_creates_is_that_accounts_own(changeable_world: World) -> None:
    world = changeable_world
    created, writes = world.send_watching_writes(world.bob.admin, ROUTES["POST", "/v1/api-keys"].call(NOBODY))
    key_id = created.json["key_id"]

    policy = world.gateway.authorize(created.json["key"], Call("GET", "/v1/customers"))
    bobs_keys = world.gateway.send(world.bob.admin, Call("GET", "/v1/api-keys")).json["items"]
    adas_view = world.gateway.send(world.ada.admin, Call("GET", f"/v1/api-keys/{key_id}"))

    assert writes == ["PutItem"]  # the one item of the key, keyed by its id, holding its account
    assert policy["context"] == {"account_id": "acc_bob", "key_id": key_id, "scopes": "read", "auth": "key"}
    assert sorted(key["key_id"] for key in bobs_keys) == sorted([*world.bob.key_ids, key_id])
    assert adas_view.json == problem(404, f"api key {key_id!r} not found")


def test_an_idempotency_key_is_remembered_per_account(changeable_world: World) -> None:
    world = changeable_world
    call = Call(
        "POST",
        "/v1/readings",
        quarter_hours(world.ada.ids.meter, "1.5", "2.5", "3.5"),  # 00:00 and 00:15 sent before
        headers={"Idempotency-Key": "hour-0"},
    )

    adas = world.gateway.send(world.ada.ingest, call)
    bobs = world.gateway.send(world.bob.ingest, call)  # the same request, with the same key

    assert adas.json == {"accepted": 1, "duplicates": 2, "rejected": [], "rejected_count": 0, "replaced": 0}
    assert (bobs.status, bobs.json["rejected_count"], bobs.json["rejected"][2]["reason"]) == (
        422,
        3,
        "no meter 'mtr-ada'",
    )
    assert "idempotent-replayed" not in bobs.headers


# --- the console's pages ------------------------------------------------------------------------------------


def console_signed_in(world: World) -> tuple[str, str]:
    """Bob's browser signed in to the console with his admin key: its Cookie header and CSRF token."""
    event = proxy_event(
        "POST",
        "/console/sign-in",
        body=f"key={world.bob.admin}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    result = world.gateway.handler(event, LambdaContextStub())
    assert result["statusCode"] == 303, result
    pairs = [cookie.split(";")[0] for cookie in result["multiValueHeaders"]["Set-Cookie"]]
    return "; ".join(pairs), pairs[1].removeprefix("mb_csrf=")


def console_send(world: World, call: Call, cookies: str, csrf: str) -> tuple[HttpAnswer, list[str]]:
    """As the gateway passes a public route: no authorizer; the page reads the cookies itself."""
    headers = {**call.headers, "Cookie": cookies, "X-CSRF-Token": csrf, "HX-Request": "true"}
    if call.body is not None:
        headers["Content-Type"] = call.content_type
    event = proxy_event(
        call.method, call.path, body=call.body, headers=headers, query=dict(call.query) or None
    )
    world.writes.applied.clear()
    answer = answer_of(world.gateway.handler(event, LambdaContextStub()))
    return answer, list(world.writes.applied)


def test_the_console_matrix_has_a_row_for_every_console_route() -> None:
    from meterbill.api.app import create_app

    app = create_app()
    served = {
        (route.method, route.path)
        for route in app._static_routes + app._dynamic_routes
        if route.path.startswith("/console")
    }

    assert served == set(CONSOLE_ROUTES)
    assert (
        len(served) == 23
    )  # + re-rate, adjust (confirmation), adjust; the sites list and a site; tariffs, a tariff


@pytest.mark.parametrize("route", sorted(CONSOLE_ROUTES))
def test_a_console_session_with_another_accounts_ids(world: World, route: tuple[str, str]) -> None:
    spec = CONSOLE_ROUTES[route]
    cookies, csrf = console_signed_in(world)

    with_adas_ids, writes = console_send(world, spec.call(world.ada.ids), cookies, csrf)
    with_nobodys_ids, _ = console_send(world, spec.call(NOBODY), cookies, csrf)

    assert with_adas_ids.status == spec.allowed, with_adas_ids.text
    if spec.isolation == "not found":
        assert with_adas_ids.text == with_nobodys_ids.text.replace(NOBODY.alert, world.ada.ids.alert)
    if spec.isolation == "own list":
        assert world.ada.ids.alert not in with_adas_ids.text
        assert world.ada.ids.invoice not in with_adas_ids.text
    if route != ("POST", "/console/sign-out"):  # signing out deletes Bob's own session
        assert writes == []
