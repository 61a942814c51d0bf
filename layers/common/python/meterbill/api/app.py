"""The resolver: every route, the gate before them, the error mapping and exact JSON.

``create_app()`` builds it; the Lambda handler (``functions/ingest/ingest_handler.py``) and the OpenAPI
generator (``meterbill.api.openapi``) each use one. The document's settings live with the generator:
powertools' OpenAPI models take ~0.1 s to load, which only the document route should pay. Routes take what
they need through ``Depends`` and ``Request`` (never a router's global state), so several apps can coexist in
one process (tests do).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.api import gate, problems
from meterbill.api.dependencies import LAMBDA_CONTEXT, backend
from meterbill.api.problems import MethodNotAllowedError
from meterbill.api.routes import (
    alerts,
    api_keys,
    catalog,
    console,
    console_customers,
    console_invoices,
    console_meters,
    console_rerate,
    console_sites,
    console_tariffs,
    exchanges,
    imports,
    invoices,
    readings,
    reports,
    sessions,
    settings,
    tariffs,
)


class MeterbillApi(APIGatewayRestResolver):
    """The REST API resolver with the gate in front: ``resolve`` answers a request the gate refuses itself.

    Before the gate, the method: a path the API has answers a method it does not have there with 405 and
    ``Allow`` (whoever asks: the routes are public, in the OpenAPI document), OPTIONS with 204 and ``Allow``,
    and HEAD like GET (API Gateway and HTTP servers drop the body). Route arguments are percent-decoded
    (``/v1/customers/colon%3Ax`` is customer ``colon:x``): the REST API's ``path`` arrives as sent.
    """

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        method = str(event.get("httpMethod") or "").upper()
        path = str(event.get("path") or "")
        allowed = self.methods_of(path)
        if allowed and method == "OPTIONS":
            headers = {"Allow": [", ".join(allowed)]}
            return {"statusCode": 204, "multiValueHeaders": headers, "body": "", "isBase64Encoded": False}
        if allowed and method not in allowed:
            return problems.problem_for(MethodNotAllowedError(method, path, allowed)).proxy_result()
        if method == "HEAD":
            event = {**event, "httpMethod": "GET"}
        try:
            gate.check(event, backend().settings)
        except Exception as error:
            return problems.problem_for(error).proxy_result()
        self.context[LAMBDA_CONTEXT] = context
        return super().resolve(event, context)

    def methods_of(self, path: str) -> list[str]:
        """The methods the API has for ``path`` (HEAD with GET), or none for an unknown path."""
        routes = self._static_routes + self._dynamic_routes
        methods = {route.method for route in routes if route.rule.match(path)}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods, key=_METHOD_ORDER.index)

    def _convert_matches_into_route_keys(self, match: re.Match[str]) -> dict[str, str]:
        return {name: unquote(value) for name, value in match.groupdict().items()}


_METHOD_ORDER: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def parse_json_body(text: str) -> Any:
    """JSON with exact numbers: fractions and exponents as ``Decimal``, never float; an integer longer than
    Python converts (4,300 digits) as ``Decimal`` too, so the field that gets it refuses it by name (one
    reading of a batch, not the batch). A document JSON allows but we do not take (a duplicate key, nesting
    beyond the stack) is refused as not valid JSON, like a syntax error."""
    try:
        document = json.loads(
            text, parse_float=Decimal, parse_int=_integer, object_pairs_hook=_object_without_duplicates
        )
        if "\\ud" in text.lower():  # escaped surrogates: each must be half of a pair
            json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")
    except json.JSONDecodeError:
        raise  # a syntax error: powertools answers it as such
    except (ValueError, RecursionError) as err:
        raise json.JSONDecodeError(_reason(err), text, 0) from None
    return document


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text) <= sys.get_int_max_str_digits() else Decimal(text)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) == len(pairs):
        return document
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise ValueError(f"duplicate key {name!r}")
        seen.add(name)
    raise AssertionError("unreachable: fewer keys than pairs means a name came twice")


def _reason(err: ValueError | RecursionError) -> str:
    if isinstance(err, RecursionError):
        return "nested too deeply"
    if isinstance(err, UnicodeEncodeError):
        return "a string holds half of a surrogate pair"
    return str(err).split(";")[0]


def create_app() -> MeterbillApi:
    app = MeterbillApi(enable_validation=True, json_body_deserializer=parse_json_body)
    problems.register(app)
    for router in (
        readings.router,
        imports.router,
        catalog.router,
        exchanges.router,
        tariffs.router,
        api_keys.router,
        reports.router,
        settings.router,
        invoices.router,
        alerts.router,
        sessions.router,
        console.router,
        console_meters.router,
        console_customers.router,
        console_invoices.router,
        console_rerate.router,
        console_sites.router,
        console_tariffs.router,
    ):
        app.include_router(router)

    cached: dict[str, Any] = {}

    @app.get(
        gate.OPENAPI_PATH,
        summary="This API's OpenAPI 3.1 document",
        tags=["documents"],
        openapi_extensions={"security": []},
        include_in_schema=True,
    )
    def openapi_document() -> Response[dict[str, Any]]:
        from meterbill.api.openapi import document

        if not cached:
            cached.update(document(app))
        return Response(200, content_type="application/json", body=cached)

    return app
