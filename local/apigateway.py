"""A local API Gateway: a REST API with a Lambda proxy integration behind a Lambda REQUEST authorizer.

``meterbill serve`` puts the very handlers deployed to AWS behind this server on 127.0.0.1. A request goes
through the steps API Gateway takes, in its order:

1. a body over ``max_body_bytes`` → 413 ``application/problem+json`` (API Gateway's own limit is 10 MB);
2. a path in ``public_paths``, or under one of ``public_prefixes`` (the console's pages), skips steps 3
   and 4;
3. with an ``identity_source`` header configured: no such header, or an empty one → 401
   ``{"message": "Unauthorized"}``, and the authorizer is not called (as API Gateway treats a missing
   identity source); the deployed API's authorizer has none (it reads the Authorization header or the
   console's session cookie itself), which is the default here: the authorizer is called for every request;
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

This module holds the gateway's steps (``LocalApiGateway``); the authorizer's answer and its policy matching
are in ``local.authorizer_policy``, the request and answer values and the proxy result's reading in
``local.gateway_values``, the HTTP server in ``local.gateway_http``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl

from local.authorizer_policy import _AuthorizerDecision
from local.gateway_http import _GatewayHttpServer
from local.gateway_values import (
    GatewayAnswer,
    GatewayRequest,
    GatewayResponse,
    _gateway_error,
    _header_value,
    _json_bytes,
    _MalformedAnswerError,
    _media_type_matches,
    _read_proxy_result,
    _request_time,
    _single_and_multi_value,
)

__all__ = [
    "API_GATEWAY_MAX_BODY_BYTES",
    "AUTHORIZER_FUNCTION_NAME",
    "HANDLER_FUNCTION_NAME",
    "LAMBDA_MEMORY_MB",
    "LAMBDA_TIMEOUT_MS",
    "GatewayAnswer",
    "GatewayRequest",
    "GatewayResponse",
    "LambdaFunction",
    "LocalApiGateway",
    "LocalLambdaContext",
]

logger = logging.getLogger(__name__)

LambdaFunction = Callable[[dict[str, Any], Any], dict[str, Any]]
"""A Lambda handler as API Gateway invokes it: ``handler(event, context) -> result``."""

API_GATEWAY_MAX_BODY_BYTES: Final = 10 * 1024 * 1024
HANDLER_FUNCTION_NAME: Final = "meterbill-api"
AUTHORIZER_FUNCTION_NAME: Final = "meterbill-authorizer"
LAMBDA_TIMEOUT_MS: Final = 29_000  # what the context counts down from; API Gateway stops waiting after 29 s
LAMBDA_MEMORY_MB: Final = "128"  # a string, as the runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE

_STOP_POLL_SECONDS: Final = 0.05  # how often the serving thread looks whether stop() was called


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
    any method) and paths starting with one of ``public_prefixes`` skip the authorizer. ``identity_source``: a
    header without which the authorizer is not called (401); None, as deployed: the authorizer sees every
    request. ``verbose`` logs each request at INFO on this module's logger (else at DEBUG); handler and
    authorizer failures are always logged at ERROR.
    """

    def __init__(
        self,
        *,
        authorizer: LambdaFunction,
        handler: LambdaFunction,
        public_paths: Collection[str] = (),
        public_prefixes: Collection[str] = (),
        identity_source: str | None = None,
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
        self.public_prefixes = tuple(public_prefixes)
        self.identity_source = identity_source
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
        public = request.path in self.public_paths or request.path.startswith(self.public_prefixes)
        if not public:
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
        if self.identity_source is not None and not _header_value(request.headers, self.identity_source):
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


def _authorizer_configuration_error(request_id: str) -> GatewayAnswer:
    return _gateway_error(500, "AuthorizerConfigurationException", {"message": None}, request_id)
