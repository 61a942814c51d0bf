"""The local API Gateway's REQUEST authorizer emulation: reading the authorizer's answer into a decision.

The answer's IAM policy is matched against the method ARN as API Gateway does: a Deny covering it refuses, an
Allow covering it admits, ``*`` and ``?`` in Action and Resource are IAM wildcards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from local.gateway_values import _MalformedAnswerError

_INVOKE_ACTION: Final = "execute-api:Invoke"


@dataclass(frozen=True)
class _AuthorizerDecision:
    principal_id: str
    context: dict[str, str]
    allowed: bool
    explicitly_denied: bool

    @classmethod
    def read(cls, answer: Any, method_arn: str) -> _AuthorizerDecision:
        if not isinstance(answer, dict):
            raise _MalformedAnswerError(f"expected an object, got {answer!r}")
        principal_id = answer.get("principalId")
        if not isinstance(principal_id, str) or not principal_id:
            raise _MalformedAnswerError(f"principalId must be a non-empty string, got {principal_id!r}")
        effects = {
            statement["Effect"]
            for statement in _policy_statements(answer.get("policyDocument"))
            if _statement_covers(statement, method_arn)
        }
        context = answer.get("context") or {}
        if not isinstance(context, dict):
            raise _MalformedAnswerError(f"context must be an object, got {context!r}")
        return cls(
            principal_id=principal_id,
            context={key: _context_string(key, value) for key, value in context.items()},
            allowed="Allow" in effects,
            explicitly_denied="Deny" in effects,
        )


def _policy_statements(policy_document: Any) -> list[dict[str, Any]]:
    if not isinstance(policy_document, dict):
        raise _MalformedAnswerError(f"policyDocument must be an object, got {policy_document!r}")
    statements = policy_document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise _MalformedAnswerError(f"policyDocument.Statement must hold statements, got {statements!r}")
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise _MalformedAnswerError(f"a statement needs Effect Allow or Deny, got {statement!r}")
        _string_list(statement, "Action")
        _string_list(statement, "Resource")
    return statements


def _statement_covers(statement: dict[str, Any], method_arn: str) -> bool:
    actions, resources = _string_list(statement, "Action"), _string_list(statement, "Resource")
    return any(_wildcard_match(action, _INVOKE_ACTION, ignore_case=True) for action in actions) and any(
        _wildcard_match(resource, method_arn) for resource in resources
    )


def _string_list(statement: dict[str, Any], key: str) -> list[str]:
    value = statement.get(key)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(item, str) for item in values):
        raise _MalformedAnswerError(f"a statement's {key} must be a string or strings, got {value!r}")
    return values


def _wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's matching: ``*`` is any run of characters (slashes included), ``?`` any one character."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _context_string(key: str, value: Any) -> str:
    """A REST API hands the authorizer's context to the integration as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _MalformedAnswerError(f"context[{key!r}] must be a string, number or boolean, got {value!r}")
