"""Schemathesis against the served API, driven by its OpenAPI document: every operation gets generated
requests (schemathesis' examples, fuzzing and coverage phases; valid and invalid ones, with and without a
key) sent over HTTP to the local platform, with the admin key of an account of its own.

Every answer must not be a server error and must match the document: status code, Content-Type, headers and
body schema; invalid requests must be refused, required headers required, undeclared methods refused, a
missing key refused, deleted objects gone. Not checked: that every schema-valid request is accepted — the
document cannot say that a meter's site must exist, that a time zone must be an IANA name or a unit fit its
utility, and such requests are rightly refused with 404 or 422.

Answers API Gateway gives by itself (they carry ``x-amzn-ErrorType``: no key, an unknown method) never reach
the API, so the document's schemas do not judge them. One known breach is left to a strict xfail test of
its own, which passes once fixed: the public document's route refuses an undeclared method with 401
instead of 405. (A request without a key is answered by the gateway as the document promises: problem+json,
as the stack's gateway responses and the local gateway's mirror of them answer.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from local.serve import LocalPlatform

pytestmark = [pytest.mark.filterwarnings("ignore:No application metrics"), pytest.mark.slow]

EXAMPLES_PER_OPERATION = 15
OPENAPI_PATH = "/v1/openapi.json"
OPENAPI_DOCUMENT: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8")
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
    ignored_auth,
    use_after_free,
    ensure_resource_availability,
]
# What the document describes: answers of the API, not those API Gateway gives without calling it.
CHECKS_AGAINST_THE_DOCUMENT = [content_type_conformance, response_schema_conformance, unsupported_method]

schema = schemathesis.openapi.from_dict(OPENAPI_DOCUMENT)
schema.config.seed = 1


@schema.auth(refresh_interval=None)
class ContractAccountAdminKey:
    """``Authorization: Bearer <key>`` on every request schemathesis does not mean to send without one."""

    key: str | None = None  # set by the contract_url fixture

    def get(self, case: schemathesis.Case[Any], context: Any) -> str | None:
        return ContractAccountAdminKey.key

    def set(self, case: schemathesis.Case[Any], data: str, context: Any) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture(scope="module")
def contract_url(platform: LocalPlatform) -> str:
    """The API's address; schemathesis works in an account of its own."""
    ContractAccountAdminKey.key = platform.create_account("Contract").admin_key
    return platform.url


def answered_by_the_gateway(response: Any) -> bool:
    return "x-amzn-errortype" in response.headers  # schemathesis' headers: lower-case names


def checks_not_run(case: schemathesis.Case[Any], response: Any) -> list[Any]:
    """The checks the strict xfail tests below stand for, where they stand for them."""
    if answered_by_the_gateway(response):
        return CHECKS_AGAINST_THE_DOCUMENT
    if case.operation.label == f"GET {OPENAPI_PATH}":
        return [unsupported_method]
    return []


def test_the_served_document_is_the_committed_one(contract_url: str) -> None:
    served = requests.get(f"{contract_url}{OPENAPI_PATH}", timeout=10)

    assert served.json() == OPENAPI_DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_the_documents_promises(
    case: schemathesis.Case[Any], contract_url: str
) -> None:
    response = case.call(base_url=contract_url)

    case.validate_response(response, checks=CHECKS, excluded_checks=checks_not_run(case, response))


def test_a_request_without_a_key_is_answered_as_documented(contract_url: str) -> None:
    case = schema["/v1/sites"]["GET"].Case()

    response = case.call(base_url=contract_url)

    assert response.status_code == 401
    case.validate_response(response, checks=[content_type_conformance, response_schema_conformance])


@pytest.mark.xfail(
    strict=True,
    reason="the local gateway lets any method of a public path through without the authorizer, and the API's "
    "gate exempts only GET and HEAD of /v1/openapi.json from needing a key: PUT /v1/openapi.json answers "
    "401 problem+json 'this route needs an API key' instead of 405 Method Not Allowed with Allow: GET, HEAD",
)
def test_an_undeclared_method_on_the_public_document_is_not_allowed(contract_url: str) -> None:
    response = requests.put(f"{contract_url}{OPENAPI_PATH}", timeout=10)

    assert (response.status_code, response.headers.get("Allow")) == (405, "GET, HEAD")
