"""A local API Gateway: a REST API with a Lambda proxy integration behind a Lambda REQUEST authorizer.

``meterbill serve`` puts the very handlers deployed to AWS behind this server on 127.0.0.1. A request goes
through the steps API Gateway takes, in its order:

1. a body over ``max_body_bytes`` → 413 ``application/problem+json`` (API Gateway's own limit is 10 MB);
2. a path in ``public_paths`` skips steps 3 and 4;
3. no ``Authorization`` header, or an empty one → 401 ``{"message": "Unauthorized"}``, and the authorizer
   is not called (the authorizer's identity source is that header);
4. the REQUEST authorizer is called: raising ``Exception("Unauthorized")`` → 401; a policy with a Deny
   covering the method ARN → 403 (explicit deny); no Allow covering it → 403; raising anything else, or
   answering something malformed (no principalId, no policy, a context value that is not a string, number or
   boolean) → 500 ``{"message": null}``, as API Gateway answers an ``AuthorizerConfigurationException``;
5. the proxy handler is called; raising, or answering something that is not a proxy response →
   502 ``{"message": "Internal server error"}``, logged with the traceback.

A method other than GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS (TRACE, CONNECT, QUERY, ...) matches no
method API Gateway can deploy: 403 ``{"message": "Missing Authentication Token"}``, no authorizer called.

Gateway errors carry ``x-amzn-ErrorType`` as API Gateway's do, and every answer to a readable request carries
``x-amzn-RequestId`` (the event's ``requestContext.requestId`` when the handler was called).

The proxy event is the REST API's (payload format 1.0): ``path`` is the request path as sent, still
percent-encoded; query parameters are decoded (``+`` is a space) with ``queryStringParameters`` holding the
last value of a repeated name and ``multiValueQueryStringParameters`` all of them, both None when there are
none; ``headers``/``multiValueHeaders`` likewise, names in the case the client sent them (look them up without
regard to case, in the authorizer too); ``body`` is None when empty, else text, or base64 with
``isBase64Encoded`` when the Content-Type is one of ``binary_media_types`` or the bytes are not UTF-8.
``requestContext.authorizer`` holds the authorizer's ``context`` (values turned into strings, as REST APIs
pass them), its ``principalId`` and ``integrationLatency`` (ms).

Known differences from API Gateway:

- No route templates are known, so ``resource`` and ``requestContext.resourcePath`` are the request path and
  ``pathParameters`` is None; powertools' ``APIGatewayRestResolver`` routes on ``event["path"]`` only, so the
  same handler resolves the same routes.
- Nothing is cached. API Gateway may cache an authorizer's policy per identity source for the authorizer's TTL
  and apply it to every method the key calls next; the deployed authorizer needs TTL 0, or policies that cover
  every method of the API.
- The stage is only a name (``/prod/...`` in ``requestContext.path`` and the method ARN); the API is served at
  its root (``http://127.0.0.1:PORT/v1/readings`` is ``path`` ``/v1/readings``). No stage variables, API keys,
  usage plans, throttling, CORS preflight mocks or 29 s timeout. Headers are passed as sent: API Gateway adds
  ``X-Forwarded-*``, ``X-Amzn-Trace-Id`` and puts its own domain in ``Host``.
- A proxy response without a body gets no Content-Type (API Gateway adds ``application/json`` to every proxy
  response without one); with a body and none, ``application/json`` as API Gateway.
- What ``http.server`` refuses before any step (a request line over 64 KB: 414, too many or too long header
  lines: 431, an unreadable request line: 400) is a problem document too; API Gateway's CloudFront front
  answers those with its own pages.
- A base64 proxy response is always decoded to bytes (API Gateway does so only when the Accept header matches
  a binary media type).
- Lambda code runs one invocation at a time, authorizer and handler alike, as a single warm Lambda container
  does: powertools' resolver keeps the current request on the module-level ``app``.
- Events and results pass through JSON, as the Lambda runtime passes them, so a result that is not JSON fails
  here as it fails there.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, cast
from urllib.parse import parse_qsl

logger = logging.getLogger(__name__)

LambdaFunction = Callable[[dict[str, Any], Any], dict[str, Any]]
"""A Lambda handler as API Gateway invokes it: ``handler(event, context) -> result``."""

API_GATEWAY_MAX_BODY_BYTES: Final = 10 * 1024 * 1024
IDENTITY_SOURCE_HEADER: Final = "Authorization"
HANDLER_FUNCTION_NAME: Final = "meterbill-api"
AUTHORIZER_FUNCTION_NAME: Final = "meterbill-authorizer"
LAMBDA_TIMEOUT_MS: Final = 29_000  # what the context counts down from; API Gateway stops waiting after 29 s
LAMBDA_MEMORY_MB: Final = "128"  # a string, as the runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE

_INVOKE_ACTION: Final = "execute-api:Invoke"
_HOP_BY_HOP_HEADERS: Final = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})
_READ_CHUNK_BYTES: Final = 64 * 1024
_MAX_LINE_BYTES: Final = 64 * 1024
_STOP_POLL_SECONDS: Final = 0.05  # how often the serving thread looks whether stop() was called
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


class LocalLambdaContext:
    """The ``context`` the Python Lambda runtime passes: the attributes handlers and powertools read."""

    def __init__(self, function_name: str, region: str, account_id: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = LAMBDA_MEMORY_MB
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self.client_context = None
        self.identity = None
        self._deadline = time.monotonic() + LAMBDA_TIMEOUT_MS / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalApiGateway:
    """Serves ``handler`` behind ``authorizer`` on ``host:port`` (port 0: a free port, see ``url``).

    Use as a context manager, or ``start()`` then ``stop()``. Paths in ``public_paths`` (exact request paths,
    any method) skip the authorizer. ``verbose`` logs each request at INFO on this module's logger (else at
    DEBUG); handler and authorizer failures are always logged at ERROR.
    """

    def __init__(
        self,
        *,
        authorizer: LambdaFunction,
        handler: LambdaFunction,
        public_paths: Collection[str] = (),
        max_body_bytes: int = API_GATEWAY_MAX_BODY_BYTES,
        binary_media_types: Collection[str] = ("application/octet-stream", "image/png", "image/jpeg"),
        stage: str = "prod",
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        api_id: str = "localapigw",
        gateway_responses: Mapping[str, GatewayResponse] | None = None,
        verbose: bool = False,
    ) -> None:
        self.authorizer = authorizer
        self.handler = handler
        self.public_paths = frozenset(public_paths)
        self.max_body_bytes = max_body_bytes
        self.binary_media_types = tuple(media_type.lower() for media_type in binary_media_types)
        self.stage = stage
        self.host = host
        self.port = port
        self.region = region
        self.account_id = account_id
        self.api_id = api_id
        # By x-amzn-ErrorType; without an entry the gateway answers with API Gateway's default bodies.
        self.gateway_responses = dict(gateway_responses or {})
        self.access_log_level = logging.INFO if verbose else logging.DEBUG
        self._lambda_lock = threading.Lock()
        self._server: _GatewayHttpServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server, without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Bind the port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the gateway is already started")
        self._server = _GatewayHttpServer((self.host, self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _STOP_POLL_SECONDS},
            name="local-apigateway",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, end idle keep-alive connections, close the port. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.end_open_connections()
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> LocalApiGateway:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # --- the gateway's steps ----------------------------------------------------------------------------

    def answer(self, request: GatewayRequest) -> GatewayAnswer:
        """Steps 2–5 of the module's description for a request whose body is within the limit."""
        request_id = str(uuid.uuid4())
        request_context = self._request_context(request, request_id, time.time())
        if request.path not in self.public_paths:
            authorization = self._authorize(request, request_context)
            if isinstance(authorization, GatewayAnswer):
                return authorization
            request_context["authorizer"] = authorization
        return self._integrate(self._proxy_event(request, request_context), request_id)

    def answer_unreadable(self, reason: str) -> GatewayAnswer:
        """A request HTTP cannot read (a malformed Content-Length, a broken chunk): 400, as problem+json like
        the deployed stack's gateway responses."""
        problem = {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": reason}
        headers = [("Content-Type", "application/problem+json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
        return GatewayAnswer(400, headers, _json_bytes(problem))

    def answer_too_large(self, body_bytes: int) -> GatewayAnswer:
        problem = {
            "type": "about:blank",
            "title": "Content Too Large",
            "status": 413,
            "detail": f"the request body has {body_bytes} bytes; at most {self.max_body_bytes} are accepted",
        }
        headers = [("Content-Type", "application/problem+json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
        return GatewayAnswer(413, headers, _json_bytes(problem))

    def _authorize(
        self, request: GatewayRequest, request_context: dict[str, Any]
    ) -> dict[str, Any] | GatewayAnswer:
        """The authorizer's context for ``requestContext.authorizer``, or the gateway's refusal."""
        request_id = request_context["requestId"]
        if not _header_value(request.headers, IDENTITY_SOURCE_HEADER):
            return _gateway_error(401, "UnauthorizedException", {"message": "Unauthorized"}, request_id)
        method_arn = self._method_arn(request)
        started = time.monotonic()
        try:
            event = self._authorizer_event(request, request_context, method_arn)
            result = self._invoke(self.authorizer, event, AUTHORIZER_FUNCTION_NAME)
        except Exception as error:
            if str(error) == "Unauthorized":
                return _gateway_error(401, "UnauthorizedException", {"message": "Unauthorized"}, request_id)
            logger.exception("the authorizer failed on %s %s", request.method, request.path)
            return _authorizer_configuration_error(request_id)
        latency_ms = int((time.monotonic() - started) * 1000)
        try:
            decision = _AuthorizerDecision.read(result, method_arn)
        except _MalformedAnswerError as problem:
            logger.error("the authorizer's answer cannot be used: %s", problem)
            return _authorizer_configuration_error(request_id)
        if decision.explicitly_denied:
            message = "User is not authorized to access this resource with an explicit deny"
            return _gateway_error(403, "AccessDeniedException", {"Message": message}, request_id)
        if not decision.allowed:
            message = "User is not authorized to access this resource"
            return _gateway_error(403, "AccessDeniedException", {"Message": message}, request_id)
        return {**decision.context, "principalId": decision.principal_id, "integrationLatency": latency_ms}

    def _integrate(self, event: dict[str, Any], request_id: str) -> GatewayAnswer:
        try:
            return _read_proxy_result(self._invoke(self.handler, event, HANDLER_FUNCTION_NAME), request_id)
        except _MalformedAnswerError as problem:
            logger.error(
                "the handler's answer to %s %s is not a proxy response: %s",
                event["httpMethod"],
                event["path"],
                problem,
            )
        except Exception:
            logger.exception("the handler failed on %s %s", event["httpMethod"], event["path"])
        return _gateway_error(
            502, "InternalServerErrorException", {"message": "Internal server error"}, request_id
        )

    def _invoke(self, function: LambdaFunction, event: dict[str, Any], function_name: str) -> Any:
        """One Lambda invocation: JSON in, JSON out, never two at once."""
        payload = json.loads(json.dumps(event))
        with self._lambda_lock:
            result = function(payload, LocalLambdaContext(function_name, self.region, self.account_id))
        return json.loads(json.dumps(result))

    # --- events -----------------------------------------------------------------------------------------

    def _method_arn(self, request: GatewayRequest) -> str:
        return (
            f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/"
            f"{request.method}{request.path}"
        )

    def _request_context(
        self, request: GatewayRequest, request_id: str, received_at: float
    ) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "apiId": self.api_id,
            "domainName": _header_value(request.headers, "Host") or self.url.removeprefix("http://"),
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "apiKey": None,
                "apiKeyId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": _header_value(request.headers, "User-Agent"),
                "userArn": None,
            },
            "path": f"/{self.stage}{request.path}",
            "protocol": request.protocol,
            "requestId": request_id,
            "requestTime": _request_time(received_at),
            "requestTimeEpoch": int(received_at * 1000),
            "resourcePath": request.path,
            "stage": self.stage,
        }

    def _authorizer_event(
        self, request: GatewayRequest, request_context: dict[str, Any], method_arn: str
    ) -> dict[str, Any]:
        headers, multi_value_headers = _single_and_multi_value(request.headers)
        query, multi_value_query = _single_and_multi_value(parse_qsl(request.query, keep_blank_values=True))
        return {
            "type": "REQUEST",
            "methodArn": method_arn,
            "resource": request.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_value_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_value_query,
            "pathParameters": {},
            "stageVariables": {},
            "requestContext": request_context,
        }

    def _proxy_event(self, request: GatewayRequest, request_context: dict[str, Any]) -> dict[str, Any]:
        headers, multi_value_headers = _single_and_multi_value(request.headers)
        query, multi_value_query = _single_and_multi_value(parse_qsl(request.query, keep_blank_values=True))
        body, is_base64_encoded = self._event_body(request)
        return {
            "resource": request.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_value_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_value_query,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": body,
            "isBase64Encoded": is_base64_encoded,
        }

    def _event_body(self, request: GatewayRequest) -> tuple[str | None, bool]:
        if not request.body:
            return None, False
        media_type = (_header_value(request.headers, "Content-Type") or "").split(";")[0].strip().lower()
        if not any(_media_type_matches(pattern, media_type) for pattern in self.binary_media_types):
            try:
                return request.body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(request.body).decode("ascii"), True


# --- authorizer answers ---------------------------------------------------------------------------------


class _MalformedAnswerError(ValueError):
    """A Lambda answer API Gateway cannot use."""


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


def _authorizer_configuration_error(request_id: str) -> GatewayAnswer:
    return _gateway_error(500, "AuthorizerConfigurationException", {"message": None}, request_id)


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


# --- HTTP -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OversizedBody:
    received_bytes: int


class _BadRequestError(ValueError):
    """A request whose body cannot be delimited; the connection cannot be reused."""


class _GatewayHttpServer(ThreadingHTTPServer):
    """One thread per connection; remembers open connections so ``stop`` can end idle keep-alive ones."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: LocalApiGateway) -> None:
        self.gateway = gateway
        self._open_connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _GatewayRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a machine without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._open_connections.discard(request)
        super().shutdown_request(request)

    def end_open_connections(self) -> None:
        """Wake the threads waiting for a next request on a kept-alive connection; they then close it."""
        with self._connections_lock:
            connections = list(self._open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # closed meanwhile
                connection.shutdown(socket.SHUT_RD)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway
    server_version = "meterbill-local-apigateway"
    sys_version = ""
    error_content_type = "application/json"
    error_message_format = '{"message": "%(message)s"}'

    @property
    def gateway(self) -> LocalApiGateway:
        return cast(_GatewayHttpServer, self.server).gateway

    def serve(self) -> None:
        path, _, query = self.path.partition("?")
        try:
            # Read the body first, whatever the answer: bytes left unread would be parsed as the next request.
            body = self._read_body(self.gateway.max_body_bytes)
        except _BadRequestError as problem:
            self.close_connection = True
            self._write(self.gateway.answer_unreadable(str(problem)))
            return
        if isinstance(body, _OversizedBody):
            self._write(self.gateway.answer_too_large(body.received_bytes))
            return
        request = GatewayRequest(
            method=self.command,
            path=path,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=str(self.client_address[0]),
            protocol=self.request_version,
        )
        self._write(self.gateway.answer(request))

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = serve

    def refuse_method(self) -> None:
        """Any other method (TRACE, CONNECT, QUERY, ...) matches no method API Gateway can deploy: 403, as for
        every request that matches no deployed method, before any authorizer."""
        try:
            self._read_body(self.gateway.max_body_bytes)  # so that keep-alive finds where the next one starts
        except _BadRequestError:
            self.close_connection = True
        self._write(
            _gateway_error(
                403,
                "MissingAuthenticationTokenException",
                {"message": "Missing Authentication Token"},
                str(uuid.uuid4()),
            )
        )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The answers http.server gives by itself (414 URI Too Long, 431 headers too large, 400 a request
        line it cannot read, ...) as problem documents, like every other answer; the connection closes."""
        status = HTTPStatus(code)
        problem = {
            "type": "about:blank",
            "title": status.phrase,
            "status": code,
            "detail": message or explain or status.description,
            "errors": [],
        }
        body = _json_bytes(problem)
        self.log_error("code %d, message %s", code, message)
        self.close_connection = True
        self.send_response(code, message)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up do_<METHOD>, and answers 501 when there is none.
        if name.startswith("do_"):
            return self.refuse_method
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _read_body(self, limit: int) -> bytes | _OversizedBody:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as error:
            raise _BadRequestError("Content-Length is not a number") from error
        if length < 0:
            raise _BadRequestError("Content-Length is negative")
        if length > limit:
            self._discard(length)
            return _OversizedBody(length)
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes | _OversizedBody:
        chunks: list[bytes] = []
        received = 0
        while True:
            size_line = self.rfile.readline(_MAX_LINE_BYTES)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as error:
                raise _BadRequestError("a chunk size is not a hexadecimal number") from error
            if size == 0:
                break
            received += size
            if received <= limit:
                chunks.append(self.rfile.read(size))
            else:
                self._discard(size)
            self.rfile.readline(_MAX_LINE_BYTES)  # the line end after each chunk
        while self.rfile.readline(_MAX_LINE_BYTES) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields
        return b"".join(chunks) if received <= limit else _OversizedBody(received)

    def _discard(self, byte_count: int) -> None:
        while byte_count > 0:
            chunk = self.rfile.read(min(byte_count, _READ_CHUNK_BYTES))
            if not chunk:
                return
            byte_count -= len(chunk)

    def _write(self, answer: GatewayAnswer) -> None:
        error_type = _header_value(answer.headers, "x-amzn-ErrorType")
        if error_type is not None and error_type in self.gateway.gateway_responses:
            answer = self.gateway.gateway_responses[error_type].restyle(answer)
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.log(self.gateway.access_log_level, "%s " + format, self.address_string(), *args)
