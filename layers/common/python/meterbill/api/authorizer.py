"""The Lambda REQUEST authorizer: ``Authorization: Bearer <API key>`` → the key's account and scopes.

A known, unrevoked key is allowed to invoke every method of the API's stage (so API Gateway may cache the
policy for the key whatever it calls next); what the key may do is decided per request by its scopes, which
the authorizer passes on in its context with the account:
``{"account_id": "acc_…", "key_id": "…", "scopes": "ingest,read"}`` (REST APIs pass context values as
strings). No key, a malformed one, an unknown or a revoked one: ``Unauthorized``, which API Gateway answers
401. The key's text is never logged or passed on.

Only this module, ``services.apikeys``, the settings and the DynamoDB adapters load in the authorizer.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from meterbill.errors import UnauthorizedError
from meterbill.ports import KeyStore
from meterbill.services.apikeys import authenticate
from meterbill.settings import StorageSettings

AUTHORIZATION_HEADER: Final = "authorization"
BEARER: Final = "bearer"
INVOKE: Final = "execute-api:Invoke"


class Unauthorized(Exception):
    """Raised to make API Gateway answer 401; the message must be exactly "Unauthorized"."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(event: Mapping[str, Any], keys: KeyStore) -> dict[str, Any]:
    """The IAM policy and context for a REQUEST authorizer event, or ``Unauthorized``."""
    key_text = bearer_token(event.get("headers") or {})
    if key_text is None:
        raise Unauthorized()
    try:
        principal = authenticate(key_text, keys)
    except UnauthorizedError:
        raise Unauthorized() from None
    allow = {"Action": INVOKE, "Effect": "Allow", "Resource": every_method(event["methodArn"])}
    return {
        "principalId": principal.key_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [allow]},
        "context": {
            "account_id": principal.account,
            "key_id": principal.key_id,
            "scopes": ",".join(sorted(principal.scopes)),
        },
    }


def bearer_token(headers: Mapping[str, Any]) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the header's name and the scheme in any case)."""
    values = [value for name, value in headers.items() if str(name).lower() == AUTHORIZATION_HEADER]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == BEARER and token else None


def every_method(method_arn: str) -> str:
    """``arn:aws:execute-api:<region>:<account>:<api id>/<stage>/*`` from the ARN of the method called
    (``…/<stage>/<METHOD>/<path>``)."""
    api, stage, *_ = method_arn.split("/")
    return f"{api}/{stage}/*"


_configured: KeyStore | None = None


def configure(keys: KeyStore | None) -> None:
    """Use ``keys`` (tests, the local server) instead of the store the environment names; None: forget it."""
    global _configured
    _configured = keys
    _from_environment.cache_clear()


def key_store() -> KeyStore:
    return _configured if _configured is not None else _from_environment()


@cache
def _from_environment() -> KeyStore:
    from meterbill.adapters.dynamodb import build_stores  # connects on the first key looked up

    return build_stores(StorageSettings.from_env(os.environ)).keys
