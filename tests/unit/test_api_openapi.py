"""The OpenAPI document: generated from the typed routes, served at /v1/openapi.json without a key, committed
as docs/openapi.json and kept in sync, with every error answer described as a problem document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from meterbill.api.app import create_app
from meterbill.api.openapi import document
from tests.unit.api_support import ApiClient, fake_backend, handler_client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"
REFRESH = "python -m meterbill.api.openapi > docs/openapi.json"


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return document(create_app())


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_the_committed_document_is_the_generated_one(generated):
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))

    assert committed == generated, f"docs/openapi.json is out of date; refresh it: {REFRESH}"


def test_the_served_document_is_the_generated_one_and_needs_no_key(generated):
    with fake_backend():
        api: ApiClient = handler_client()
        answer = api.request("GET", "/v1/openapi.json", authorized=False)

    assert (answer.status, answer.content_type) == (200, "application/json")
    assert json.loads(answer.text) == generated


def test_every_route_is_documented(generated):
    assert sorted((m, p) for m, p, _ in operations(generated)) == [
        ("DELETE", "/v1/alert-silences/{silence_id}"),
        ("DELETE", "/v1/alert-subscriptions/{subscription_id}"),
        ("DELETE", "/v1/api-keys/{key_id}"),
        ("DELETE", "/v1/assignments/{assignment_id}"),
        ("DELETE", "/v1/customers/{customer_id}"),
        ("DELETE", "/v1/meters/{meter_id}"),
        ("DELETE", "/v1/sessions/current"),
        ("DELETE", "/v1/sites/{site_id}"),
        ("DELETE", "/v1/tariffs/{tariff_id}"),
        ("GET", "/v1/alert-rules"),
        ("GET", "/v1/alert-silences"),
        ("GET", "/v1/alert-silences/{silence_id}"),
        ("GET", "/v1/alert-subscriptions"),
        ("GET", "/v1/alert-subscriptions/{subscription_id}"),
        ("GET", "/v1/alerts"),
        ("GET", "/v1/alerts/{alert_id}"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/api-keys/{key_id}"),
        ("GET", "/v1/assignments"),
        ("GET", "/v1/assignments/{assignment_id}"),
        ("GET", "/v1/customers"),
        ("GET", "/v1/customers/{customer_id}"),
        ("GET", "/v1/customers/{customer_id}/bill-preview"),
        ("GET", "/v1/customers/{customer_id}/charges"),
        ("GET", "/v1/customers/{customer_id}/charges/sessions"),
        ("GET", "/v1/invoices"),
        ("GET", "/v1/invoices/export"),
        ("GET", "/v1/invoices/{invoice_id}"),
        ("GET", "/v1/invoices/{invoice_id}/pdf"),
        ("GET", "/v1/invoices/{invoice_id}/xml"),
        ("GET", "/v1/meters"),
        ("GET", "/v1/meters/{meter_id}"),
        ("GET", "/v1/meters/{meter_id}/usage"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/reports/savings"),
        ("GET", "/v1/settings/billing"),
        ("GET", "/v1/settings/logo"),
        ("GET", "/v1/sites"),
        ("GET", "/v1/sites/{site_id}"),
        ("GET", "/v1/tariffs"),
        ("GET", "/v1/tariffs/{tariff_id}"),
        ("GET", "/v1/tariffs/{tariff_id}/versions"),
        ("GET", "/v1/tariffs/{tariff_id}/versions/{version}"),
        ("POST", "/v1/alert-silences"),
        ("POST", "/v1/alert-subscriptions"),
        ("POST", "/v1/alerts/{alert_id}/ack"),
        ("POST", "/v1/api-keys"),
        ("POST", "/v1/assignments"),
        ("POST", "/v1/collectors/{collector_id}/heartbeats"),
        ("POST", "/v1/customers"),
        ("POST", "/v1/imports"),
        ("POST", "/v1/invoices"),
        ("POST", "/v1/invoices/{invoice_id}/adjust"),
        ("POST", "/v1/invoices/{invoice_id}/issue"),
        ("POST", "/v1/invoices/{invoice_id}/rerate"),
        ("POST", "/v1/invoices/{invoice_id}/resend"),
        ("POST", "/v1/invoices/{invoice_id}/void"),
        ("POST", "/v1/meters"),
        ("POST", "/v1/meters/{meter_id}/exchanges"),
        ("POST", "/v1/readings"),
        ("POST", "/v1/sessions"),
        ("POST", "/v1/sites"),
        ("POST", "/v1/tariffs"),
        ("POST", "/v1/tariffs/{tariff_id}/versions"),
        ("PUT", "/v1/alert-rules"),
        ("PUT", "/v1/assignments/{assignment_id}"),
        ("PUT", "/v1/customers/{customer_id}"),
        ("PUT", "/v1/meters/{meter_id}"),
        ("PUT", "/v1/settings/billing"),
        ("PUT", "/v1/settings/logo"),
        ("PUT", "/v1/sites/{site_id}"),
    ]


def test_every_route_but_the_document_and_signing_in_needs_a_bearer_key_or_the_session_cookie(generated):
    public = [(m, p) for m, p, op in operations(generated) if op.get("security") == []]

    assert generated["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]
    assert generated["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    cookie = generated["components"]["securitySchemes"]["sessionCookie"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "mb_session")
    assert sorted(public) == [("GET", "/v1/openapi.json"), ("POST", "/v1/sessions")]


def test_every_error_answer_is_a_problem_document(generated):
    problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}}
    errors = [
        (m, p, status, response["content"])
        for m, p, op in operations(generated)
        for status, response in op["responses"].items()
        if status >= "400"
    ]

    assert errors
    assert all(content == problem_ref for _, _, _, content in errors)
    assert "HTTPValidationError" not in generated["components"]["schemas"]
    assert generated["components"]["schemas"]["ProblemDocument"]["required"] == ["title", "status", "detail"]


def test_the_statuses_an_operation_can_answer_are_documented(generated):
    statuses = {(m, p): sorted(op["responses"]) for m, p, op in operations(generated)}

    assert statuses[("PUT", "/v1/customers/{customer_id}")] == [
        "200",
        "400",
        "401",
        "403",
        "404",
        "412",
        "413",
        "415",
        "422",
        "500",
        "503",
    ]
    assert statuses[("POST", "/v1/readings")] == [
        "200",
        "400",
        "401",
        "403",
        "409",
        "413",
        "415",
        "422",
        "500",
        "503",
    ]
    assert statuses[("GET", "/v1/customers")] == ["200", "400", "401", "403", "422", "500", "503"]
    assert statuses[("GET", "/v1/openapi.json")] == ["200"]


def test_request_bodies_forbid_unknown_fields(generated):
    schemas = generated["components"]["schemas"]
    inputs = ["CustomerInput", "SiteInput", "MeterInput", "AssignmentInput", "ApiKeyInput", "ReadingBatch"]
    inputs += ["BillingSettingsInput", "Seller", "SellerContact", "BankAccount"]

    assert [schemas[name].get("additionalProperties") for name in inputs] == [False] * len(inputs)
    assert "account_id" not in schemas["CustomerInput"]["properties"]


def test_the_import_body_is_the_file_itself(generated):
    body = generated["paths"]["/v1/imports"]["post"]["requestBody"]

    assert sorted(body["content"]) == [
        "application/atom+xml",
        "application/octet-stream",
        "application/xml",
        "text/csv",
        "text/plain",
        "text/xml",
    ]


def test_the_logo_is_uploaded_and_answered_as_the_image_itself(generated):
    put = generated["paths"]["/v1/settings/logo"]["put"]
    get = generated["paths"]["/v1/settings/logo"]["get"]

    assert sorted(put["requestBody"]["content"]) == ["image/jpeg", "image/png"]
    assert sorted(get["responses"]["200"]["content"]) == ["image/jpeg", "image/png"]
    assert sorted(put["responses"]) == ["200", "400", "401", "403", "413", "415", "422", "500", "503"]
