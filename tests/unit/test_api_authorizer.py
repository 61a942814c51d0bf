"""The REQUEST authorizer: a valid key allows every method of the stage with the key's account and scopes as
context; no key, a malformed, unknown or revoked key raises "Unauthorized" (API Gateway's 401)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from meterbill.api import authorizer
from meterbill.services.apikeys import create_key, revoke_key
from tests.fakes import FakeKeyStore
from tests.unit.api_support import LambdaContextStub

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
METHOD_ARN = "arn:aws:execute-api:eu-central-1:123456789012:api0123456/prod/POST/v1/readings"


@pytest.fixture
def keys() -> Iterator[FakeKeyStore]:
    store = FakeKeyStore()
    authorizer.configure(store)
    yield store
    authorizer.configure(None)


def request_event(headers: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/v1/readings",
        "path": "/v1/readings",
        "httpMethod": "POST",
        "headers": headers,
        "requestContext": {"stage": "prod"},
    }


def call(event: dict[str, Any]) -> dict[str, Any]:
    from functions.ingest.authorizer_handler import lambda_handler

    return lambda_handler(event, LambdaContextStub(function_name="meterbill-authorizer"))


def test_a_valid_key_is_allowed_every_method_of_the_stage_with_its_account_and_scopes(keys):
    info, key = create_key("acc_a", "collector", ["read", "ingest"], keys, NOW)

    answer = call(request_event({"Authorization": f"Bearer {key}"}))

    assert answer == {
        "principalId": info.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:eu-central-1:123456789012:api0123456/prod/*",
                }
            ],
        },
        "context": {"account_id": "acc_a", "key_id": info.key_id, "scopes": "ingest,read", "auth": "key"},
    }


@pytest.mark.parametrize("header", ["authorization", "AUTHORIZATION"])
@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_header_and_the_scheme_are_read_in_any_case(keys, header, scheme):
    _, key = create_key("acc_a", "collector", ["ingest"], keys, NOW)

    answer = call(request_event({header: f"{scheme}  {key} "}))

    assert answer["context"]["account_id"] == "acc_a"


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer mb_0123456789abcdef_" + "x" * 43},
        {"Authorization": "Bearer not-a-key"},
        {"X-Api-Key": "whatever"},
    ],
)
def test_no_key_or_a_key_that_is_not_one_is_unauthorized(keys, headers):
    with pytest.raises(authorizer.Unauthorized) as refused:
        call(request_event(headers))

    assert str(refused.value) == "Unauthorized"  # the exact message API Gateway turns into 401


def test_a_revoked_key_is_unauthorized(keys):
    info, key = create_key("acc_a", "collector", ["ingest"], keys, NOW)
    revoke_key("acc_a", info.key_id, keys, NOW)

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Authorization": f"Bearer {key}"}))


def test_a_key_with_a_wrong_secret_is_unauthorized(keys):
    _, key = create_key("acc_a", "collector", ["ingest"], keys, NOW)
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Authorization": f"Bearer {forged}"}))


def test_two_authorization_headers_are_unauthorized(keys):
    _, key = create_key("acc_a", "collector", ["ingest"], keys, NOW)

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Authorization": f"Bearer {key}", "authorization": "Bearer other"}))
