"""The small promises of the OpenAPI document, over HTTP through the local API Gateway (issue 8, item 19)."""

from __future__ import annotations

import http.client
import json

import pytest

from local.serve import LocalPlatform
from tests.e2e.conftest import Client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def customer(admin: Client) -> str:
    assert admin.post("/v1/customers", {"id": "colon:x", "name": "Ada"}).status_code == 201
    return "colon:x"


def test_a_delete_answers_204_with_no_body_and_no_content_type(admin: Client, customer: str) -> None:
    answer = admin.request("DELETE", f"/v1/customers/{customer}")

    assert (answer.status_code, answer.content, answer.headers.get("Content-Type")) == (204, b"", None)


def test_a_method_the_path_does_not_have_is_405_with_allow(admin: Client, customer: str) -> None:
    answer = admin.request("PATCH", f"/v1/customers/{customer}", body={"name": "Ada"})

    assert (answer.status_code, answer.headers["Allow"], answer.headers["Content-Type"]) == (
        405,
        "GET, HEAD, PUT, DELETE",
        "application/problem+json",
    )


def test_a_percent_encoded_id_is_the_id(admin: Client, customer: str) -> None:
    answer = admin.get("/v1/customers/colon%3Ax")

    assert (answer.status_code, answer.json()["id"]) == (200, customer)


def test_a_uri_too_long_is_a_problem_document(platform: LocalPlatform) -> None:
    host, port = platform.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/v1/customers/" + "x" * 70_000)
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()

    assert (answer.status, answer.getheader("Content-Type")) == (414, "application/problem+json")
    problem = json.loads(body)
    assert (problem["title"], problem["status"]) == ("Request-URI Too Long", 414)
