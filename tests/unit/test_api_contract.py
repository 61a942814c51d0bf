"""The API keeps the OpenAPI document's word in the small things (issue 8, item 19): a null id, a DELETE's
empty answer, methods a path does not have, percent-encoded ids, the field a bill preview's problem is on,
and what DELETE of an API key means."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meterbill.api.app import create_app
from meterbill.api.openapi import document
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

COMMITTED = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8"))
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
TARIFF = {"id": "flat", "name": "Flat", "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]}}


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    client = handler_client()
    assert (
        client.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}).status == 201
    )
    meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    assert client.post("/v1/meters", meter).status == 201
    assert client.post("/v1/customers", {"id": "colon:x", "name": "Ada"}).status == 201
    return client


# --- PUT with "id": null ------------------------------------------------------------------------------------


def test_put_with_a_null_id_replaces_the_object_of_the_path(api, fakes):
    answer = api.put("/v1/customers/colon:x", {"id": None, "name": "Ada Lovelace"})

    assert (answer.status, answer.json["id"], answer.json["name"]) == (200, "colon:x", "Ada Lovelace")
    assert fakes.catalog.items[(ACCOUNT, "customer", "colon:x")].body["name"] == "Ada Lovelace"  # type: ignore[index]


def test_put_with_another_id_is_still_refused(api):
    answer = api.put("/v1/customers/colon:x", {"id": "cus-2", "name": "Ada"})

    reason = "'cus-2' is not the id of the object replaced ('colon:x')"
    assert (answer.status, answer.json) == (422, problem(422, f"id: {reason}", ("id", reason)))


def test_the_document_allows_a_null_id_in_every_replacement():
    for path, operations in COMMITTED["paths"].items():
        if "put" in operations and "{" in path:  # an object named in the path (settings have no id)
            ref = operations["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = COMMITTED["components"]["schemas"][ref.rsplit("/", 1)[1]]
            assert {"type": "null"} in schema["properties"]["id"]["anyOf"], path


# --- DELETE answers 204 without a body ----------------------------------------------------------------------


def test_a_delete_answers_204_without_body_or_content_type(api):
    answer = api.delete("/v1/customers/colon:x")

    assert (answer.status, answer.text, answer.content_type) == (204, "", "")


def test_the_document_gives_every_204_no_body():
    answers = [
        (method, path, operation["responses"]["204"])
        for path, operations in COMMITTED["paths"].items()
        for method, operation in operations.items()
        if "204" in operation["responses"]
    ]

    assert len(answers) == 7  # customers, sites, meters, assignments, tariffs, alert subscriptions, sign-out
    assert all(response == {"description": "done; the answer has no body"} for _, _, response in answers)


# --- a method a path does not have: 405 with Allow ----------------------------------------------------------


def concrete(template: str) -> str:
    return template.replace("{version}", "1").replace("{", "").replace("}", "")


@pytest.mark.parametrize("template", sorted(COMMITTED["paths"]))
def test_every_undocumented_method_of_a_documented_path_is_405_with_allow(api, template):
    documented = {method.upper() for method in COMMITTED["paths"][template]}
    allowed = [
        method for method in METHODS if method in documented or (method == "HEAD" and "GET" in documented)
    ]

    for method in set(METHODS) - set(allowed):
        answer = api.request(method, concrete(template), body="{}")

        assert (answer.status, answer.headers.get("allow"), answer.content_type) == (
            405,
            ", ".join(allowed),
            "application/problem+json",
        ), (method, template)
        assert (
            answer.json["detail"]
            == f"{method} is not a method of {concrete(template)}; it has {', '.join(allowed)}"
        )


def test_an_undocumented_method_on_the_public_document_needs_no_key():
    with_fakes = handler_client()

    answer = with_fakes.request("PUT", "/v1/openapi.json", body="{}", authorized=False)

    assert (answer.status, answer.headers.get("allow")) == (405, "GET, HEAD")


def test_head_answers_like_get_and_options_names_the_methods(api):
    head = api.request("HEAD", "/v1/customers/colon:x")
    options = api.request("OPTIONS", "/v1/customers/colon:x")

    assert (head.status, head.json["id"]) == (200, "colon:x")  # the HTTP layer drops the body
    assert (options.status, options.headers.get("allow"), options.text) == (204, "GET, HEAD, PUT, DELETE", "")


def test_a_path_the_api_does_not_have_is_still_404(api):
    answer = api.request("PATCH", "/v1/nothing-here")

    assert (answer.status, answer.json) == (404, problem(404, "no such route"))


# --- percent-encoded ids ------------------------------------------------------------------------------------


def test_percent_encoded_ids_are_decoded(api, fakes):
    read = api.get("/v1/customers/colon%3Ax")
    replaced = api.put("/v1/customers/colon%3ax", {"name": "Ada L."})
    deleted = api.delete("/v1/customers/colon%3Ax")

    assert (read.status, read.json["id"], replaced.status, replaced.json["id"]) == (
        200,
        "colon:x",
        200,
        "colon:x",
    )
    assert deleted.status == 204
    assert (ACCOUNT, "customer", "colon:x") not in fakes.catalog.items


def test_an_encoded_slash_is_not_a_path_separator(api):
    assert api.get("/v1/customers/colon%2Fx").json == problem(404, "customer 'colon/x' not found")


# --- a bill preview names the field at fault ----------------------------------------------------------------


def preview_of(api: ApiClient, tariff: dict[str, Any]) -> Any:
    assert api.post("/v1/tariffs", tariff).status == 201
    assignment = {
        "id": "asg-1",
        "meter_id": "mtr-1",
        "customer_id": "colon:x",
        "tariff_id": tariff["id"],
        "effective_from": "2026-02-01",
    }
    assert api.post("/v1/assignments", assignment).status == 201
    return api.get("/v1/customers/colon:x/bill-preview", **{"from": "2026-02-01", "to": "2026-02-02"})


def test_a_formula_needing_an_attribute_the_customer_lacks_names_the_operand(api):
    tariff = {**TARIFF, "id": "per-head", "fixed": [{"description": "Per person", "amount": "4 * occupants"}]}

    answer = preview_of(api, tariff)

    field, reason = answer.json["errors"][0].values()
    assert (answer.status, field) == (422, "tariff.fixed[0].amount")
    assert reason.startswith("assignment 'asg-1', tariff 'per-head' version 1: formula '4 * occupants': ")
    assert "occupants" in reason.removeprefix(
        "assignment 'asg-1', tariff 'per-head' version 1: formula '4 * occupants'"
    )


def test_days_without_a_tariff_version_name_the_assignments_tariff(api):
    answer = preview_of(api, {**TARIFF, "effective_from": "2026-03-01"})

    reason = "assignment 'asg-1': no version of tariff flat is in force from 2026-02-01 to 2026-02-02"
    assert answer.json == problem(422, f"assignment.tariff_id: {reason}", ("assignment.tariff_id", reason))


# --- DELETE of an API key revokes it ------------------------------------------------------------------------


def test_deleting_an_api_key_revokes_it_and_leaves_it_readable_as_revoked(api):
    created = api.post("/v1/api-keys", {"name": "collector", "scopes": ["ingest"]})
    key_id = created.json["key_id"]

    revoked = api.delete(f"/v1/api-keys/{key_id}")
    read = api.get(f"/v1/api-keys/{key_id}")

    assert created.json["state"] == "active"
    assert (revoked.status, revoked.json["state"], revoked.json["revoked_at"]) == (
        200,
        "revoked",
        "2026-03-01T12:00:00Z",
    )
    assert (read.status, read.json) == (200, revoked.json)


def test_the_document_says_delete_of_an_api_key_means_revoked():
    operation = COMMITTED["paths"]["/v1/api-keys/{key_id}"]["delete"]
    api_key = COMMITTED["components"]["schemas"]["ApiKey"]

    assert operation["summary"] == "Revoke an API key"
    assert "revokes it" in operation["description"] and "state revoked" in operation["description"]
    assert api_key["properties"]["state"]["enum"] == ["active", "revoked"]
    assert "revokes it" in COMMITTED["info"]["description"]


def test_the_committed_document_is_current_for_these_promises():
    assert document(create_app())["paths"] == COMMITTED["paths"]
