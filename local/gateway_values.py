"""The local API Gateway's values and its side of a Lambda proxy integration (see ``local.apigateway``).

A request as it reached the gateway and an HTTP answer, how the deployed API restyles the gateway's own
errors, a Lambda proxy result read into an HTTP answer, and the small helpers the gateway and its HTTP
server share.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any, Final

_HOP_BY_HOP_HEADERS: Final = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class GatewayRequest:
    """One HTTP request as it reached the gateway: the path percent-encoded, headers as sent, in order."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str


@dataclass(frozen=True)
class GatewayAnswer:
    """One HTTP response; Content-Length is added when it is written."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class GatewayResponse:
    """How the deployed API answers one of API Gateway's own errors (its ``GatewayResponse`` settings): as an
    RFC 9457 problem document with this status and title, and this detail (None: the gateway's message)."""

    status: int
    title: str
    detail: str | None = None

    def restyle(self, answer: GatewayAnswer) -> GatewayAnswer:
        try:
            original = json.loads(answer.body)
        except ValueError:
            original = {}
        message = original.get("message") or original.get("Message") if isinstance(original, dict) else None
        problem: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail if self.detail is not None else message,
            "errors": [],
        }
        headers = [(n, v) for n, v in answer.headers if n.lower() != "content-type"]
        return GatewayAnswer(
            self.status, [("Content-Type", "application/problem+json"), *headers], _json_bytes(problem)
        )


class _MalformedAnswerError(ValueError):
    """A Lambda answer API Gateway cannot use."""


# --- proxy answers --------------------------------------------------------------------------------------


def _read_proxy_result(result: Any, request_id: str) -> GatewayAnswer:
    """Turn a Lambda proxy response into HTTP, merging ``headers`` into ``multiValueHeaders`` as AWS does."""
    if not isinstance(result, dict):
        raise _MalformedAnswerError(f"expected an object, got {result!r}")
    status = result.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise _MalformedAnswerError(f"statusCode must be an integer HTTP status, got {status!r}")
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise _MalformedAnswerError("headers and multiValueHeaders must be objects")
    pairs = [(name, _header_string(value)) for name, values in multi.items() for value in _as_list(values)]
    present = {(name.lower(), value) for name, value in pairs}
    pairs += [
        (name, text)
        for name, value in single.items()
        if (name.lower(), text := _header_string(value)) not in present
    ]
    headers = [(name, value) for name, value in pairs if name.lower() not in _HOP_BY_HOP_HEADERS]
    body = _response_body(result.get("body"), result.get("isBase64Encoded"))
    if body and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    return GatewayAnswer(status, headers, body)


def _as_list(values: Any) -> list[Any]:
    if not isinstance(values, list):
        raise _MalformedAnswerError(f"multiValueHeaders values must be lists, got {values!r}")
    return values


def _header_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _MalformedAnswerError(f"a header value must be a string or a number, got {value!r}")


def _response_body(body: Any, is_base64_encoded: Any) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise _MalformedAnswerError(f"body must be a string, got {type(body).__name__}")
    if is_base64_encoded is True:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise _MalformedAnswerError(f"isBase64Encoded but the body is not base64: {error}") from error
    return body.encode("utf-8")


# --- small helpers --------------------------------------------------------------------------------------


def _gateway_error(status: int, error_type: str, body: dict[str, Any], request_id: str) -> GatewayAnswer:
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-ErrorType", error_type),
        ("x-amzn-RequestId", request_id),
    ]
    return GatewayAnswer(status, headers, _json_bytes(body))


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode("utf-8")


def _header_value(headers: list[tuple[str, str]], name: str) -> str | None:
    """The last value of header ``name``, whatever its case."""
    values = [value for header, value in headers if header.lower() == name.lower()]
    return values[-1] if values else None


def _single_and_multi_value(
    pairs: list[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's two views of repeated names: the last value, and all values; both None when empty."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _media_type_matches(pattern: str, media_type: str) -> bool:
    """``binaryMediaTypes`` entries: ``type/subtype``, ``type/*`` or ``*/*``."""
    return pattern in (media_type, "*/*") or (pattern.endswith("/*") and media_type.startswith(pattern[:-1]))


def _request_time(epoch_seconds: float) -> str:
    """``requestTime`` in API Gateway's format, ``09/Apr/2015:12:34:56 +0000``, whatever the locale."""
    moment = time.gmtime(epoch_seconds)
    return (
        f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{moment.tm_year}:"
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} +0000"
    )
