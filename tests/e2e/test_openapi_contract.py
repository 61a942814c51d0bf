"""Schemathesis against the served API, driven by its OpenAPI document: every operation gets generated
requests (schemathesis' examples, fuzzing and coverage phases; valid and invalid ones, with and without a
key) sent over HTTP to the local platform, with the admin key of an account of its own.

Every check schemathesis has runs on every answer: not a server error; status code, Content-Type, headers and
body schema as documented; invalid requests refused, required headers required, undeclared methods 405 with
``Allow`` (and OPTIONS' ``Allow`` the documented methods), a missing key refused, deleted objects gone,
created ones readable, no object readable by another account's key. Schema-valid requests must be accepted,
with the answers the document cannot rule out: 401 (a bearer token schemathesis made up is no key), 404 (a
meter's site, an assignment's tariff must exist), 409 (the id is taken), 412 (an If-Match it made up is not
the current ETag) and 422 (a time zone must be an IANA name, a unit fit its utility, shares of a meter stay
within 1).

Then the stateful phase: schemathesis chains operations along the links it infers from the document (create a
site, read it, replace it, delete it, read it again...), with the same checks on every step. One exception,
documented: DELETE of an API key revokes it and the key stays readable (state revoked), so use_after_free does
not judge the API key that was just revoked.

Answers API Gateway gives by itself (they carry ``x-amzn-ErrorType``: no key, TRACE) never reach the API, so
the document's schemas do not judge them. (A request without a key is answered by the gateway as the document
promises: problem+json, as the stack's gateway responses and the local gateway's mirror of them answer.)

Runtime: ~15 examples per operation and ~25 stateful scenarios. CI's hypothesis profile (``CI=1``,
tests/conftest.py) derandomizes everything here as well; the seed is fixed either way.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    unsupported_method,
    use_after_free,
)

from local.serve import LocalPlatform

pytestmark = [pytest.mark.filterwarnings("ignore:No application metrics"), pytest.mark.slow]

EXAMPLES_PER_OPERATION = 15
STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 12
OPENAPI_PATH = "/v1/openapi.json"
OPENAPI_DOCUMENT: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text(encoding="utf-8")
)
load_all_checks()
CHECKS = REGISTERED_CHECKS.get_all()  # every check schemathesis has
# Valid requests the document cannot rule out refusing (see the module's docstring).
ACCEPTABLE_REFUSALS_OF_VALID_DATA = ["2xx", "401", "404", "409", "412", "422"]
# What the document describes: answers of the API, not those API Gateway gives without calling it (no key; a
# method API Gateway cannot deploy, such as TRACE or CONNECT, which it refuses as no such route).
CHECKS_AGAINST_THE_DOCUMENT = [content_type_conformance, response_schema_conformance, unsupported_method]

schema = schemathesis.openapi.from_dict(copy.deepcopy(OPENAPI_DOCUMENT))  # it adds the links it infers
schema.config.seed = 1
schema.config.checks.positive_data_acceptance.expected_statuses = ACCEPTABLE_REFUSALS_OF_VALID_DATA


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
    """The document does not describe API Gateway's own answers; a revoked API key stays readable."""
    if answered_by_the_gateway(response):
        return CHECKS_AGAINST_THE_DOCUMENT
    if case.operation.path == "/v1/api-keys/{key_id}":
        return [use_after_free]
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


def test_an_undeclared_method_on_the_public_document_is_not_allowed(contract_url: str) -> None:
    response = requests.put(f"{contract_url}{OPENAPI_PATH}", timeout=10)

    assert (response.status_code, response.headers.get("Allow")) == (405, "GET, HEAD")
    assert response.headers["Content-Type"] == "application/problem+json"


class ContractWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    """Chains of operations along the document's inferred links, every answer checked as above."""

    base_url: str = ""  # set by the test

    def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
        return {"base_url": self.base_url}

    def validate_response(
        self, response: Any, case: schemathesis.Case[Any], additional_checks: Any = None, **kwargs: Any
    ) -> None:
        case.validate_response(
            response,
            checks=CHECKS,
            excluded_checks=checks_not_run(case, response),
            transport_kwargs=kwargs,
        )


def test_chains_of_operations_keep_the_documents_promises(platform: LocalPlatform, contract_url: str) -> None:
    # An account of the chains' own: what the single operations created before must not steer the chains'
    # data (hypothesis replays a scenario and finds its data drawn differently: FlakyStrategyDefinition).
    ContractAccountAdminKey.key = platform.create_account("Contract chains").admin_key
    ContractWorkflow.base_url = contract_url
    run_state_machine_as_test(
        ContractWorkflow,
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
