"""The OpenAPI 3.1 document of the API, as powertools generates it from the typed routes, with the error
answers described as they are: RFC 9457 problem documents.

``python -m meterbill.api.openapi > docs/openapi.json`` refreshes the committed copy (a test compares them).
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any, Final

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Server, Tag

from meterbill.api.problems import PROBLEM_JSON
from meterbill.api.schemas import ProblemDocument

TITLE: Final = "meterbill API"
VERSION: Final = "1.0.0"
DESCRIPTION: Final = """\
Metering and billing for an account: collectors push readings, back offices manage customers, sites, meters,
assignments and tariffs, tools read usage and preview bills.

Authenticate with an API key: `Authorization: Bearer mb_...`. A key's scopes decide what it may do: `admin`
everything in its account, `ingest` only POST readings, imports and collectors' heartbeats, `read` only GET.
DELETE of an API key revokes it: the key stays readable with `state: revoked`, for the record.

Numbers are exact: JSON numbers are read as decimals; quantities and money are answered as decimal strings.
Lists are paged: `?limit=` (1-100, default 50) and `?cursor=` from the previous page's `next_cursor`.
Changing an object takes its ETag as `If-Match` (412 when it changed meanwhile).
Errors are RFC 9457 `application/problem+json` with `errors[]` naming each field and the reason.
Every text, list and map has a bound the schemas show; dates lie in 2000-01-01 ... 2100-01-01. A method a path
does not have is answered 405 with `Allow`; a DELETE that succeeds answers 204 without a body.
"""
TAGS: Final = (
    "readings",
    "customers",
    "sites",
    "meters",
    "assignments",
    "tariffs",
    "invoices",
    "reports",
    "settings",
    "alerts",
    "api-keys",
    "sessions",
    "documents",
)


_POWERTOOLS_ERROR_SCHEMAS: Final = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
_REASONS: Final = {
    400: "the request cannot be read: a malformed header (e.g. Content-Length), or a body that is not JSON, "
    "not UTF-8, or broken base64",
    401: "no API key or session, or an unknown, revoked or expired one",
    403: "the API key's (or session's) scopes do not allow this; a change made with the console's session "
    "lacks its CSRF token (X-CSRF-Token); or an ingest key signs in",
    404: "no such object in this account (another account's id looks the same)",
    409: "the id is taken, the object's state does not allow the action (voiding an issued invoice), or a "
    "request with this Idempotency-Key is still being served",
    412: "If-Match is not the current ETag: the object has changed since it was read",
    413: "the body is too large (1 MB; imports 5 MB)",
    415: "the body's Content-Type is not one this route takes",
    422: "the request is well-formed but not acceptable; errors[] names each field and the reason",
    500: "a fault of ours; it has been logged",
    501: "this deployment lacks the setting the route needs (the alerts topic); not worth retrying until set",
    503: "storage is busy or unavailable; retry after Retry-After seconds",
}


# GETs whose object's state can refuse them (409): an invoice's PDF exists once it is stored.
_READS_THAT_CONFLICT: Final = frozenset({"/v1/invoices/{invoice_id}/pdf"})


def document(app: ApiGatewayResolver) -> dict[str, Any]:
    """The app's OpenAPI document with every error answer a problem document."""
    app.configure_openapi(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        tags=[Tag(name=name) for name in TAGS],
        servers=[Server(url="/")],
        security_schemes={
            "bearerAuth": HTTPBearer(description="an API key: mb_<key id>_<secret>"),
            "sessionCookie": APIKey(
                **{"in": APIKeyIn.cookie},
                name="mb_session",
                description="the console's session (POST /v1/sessions); a POST, PUT, PATCH or DELETE made "
                "with it needs the session's CSRF token in X-CSRF-Token",
            ),
        },
        security=[{"bearerAuth": []}, {"sessionCookie": []}],
    )
    generated: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    result = copy.deepcopy(generated)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name in _POWERTOOLS_ERROR_SCHEMAS:
        schemas.pop(name, None)
    problem_schema = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["ProblemDocument"] = problem_schema
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            _describe_errors(method, operation, conflicts=method == "post" or path in _READS_THAT_CONFLICT)
    return result


def _describe_errors(method: str, operation: dict[str, Any], *, conflicts: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "204" in responses:  # no body, so no media type (powertools describes a JSON null)
        responses["204"] = {"description": "done; the answer has no body"}
    # A route's own, e.g. a GET's 409, or 501 for a route that needs a setting.
    declared = {int(code) for code in responses if code.startswith("4") or code == "501"}
    for code in [code for code in responses if code.startswith(("4", "5"))]:
        del responses[code]
    public = operation.get("security") == []
    if public and "requestBody" not in operation:
        return  # the document: nothing a request can get wrong

    parameters = {(p.get("in"), str(p.get("name")).lower()) for p in operation.get("parameters", [])}
    # 400: any request, body or not, can carry a header HTTP cannot read (the gateway refuses it).
    statuses = {400, 401, 403, 422, 500, 503} | declared
    if any(where == "path" for where, _ in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {413, 415}
    if conflicts and not public:  # signing in (public) creates nothing with an id
        statuses.add(409)
    if ("header", "if-match") in parameters:
        statuses.add(412)
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _REASONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}},
        }


def main() -> None:
    from meterbill.api.app import create_app

    sys.stdout.write(json.dumps(document(create_app()), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
