"""The local API Gateway, spoken to over real HTTP on 127.0.0.1: what the authorizer and the handler receive,
and what the client gets back, step by step as API Gateway (REST API, proxy integration) does it."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from local.apigateway import LocalApiGateway

ARN_PREFIX = "arn:aws:execute-api:us-east-1:123456789012:localapigw"
EVERY_METHOD = f"{ARN_PREFIX}/prod/*"
AUTHORIZED = [("Authorization", "Bearer key-1")]
OK = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}


# --- fakes: a handler and an authorizer that record what they were given ---------------------------------


@dataclass
class FakeHandler:
    """Answers ``answer`` (or raises ``failure``) and keeps every event and context it was called with."""

    answer: dict[str, Any] = field(default_factory=lambda: dict(OK))
    failure: Exception | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.contexts.append(context)
        if self.failure is not None:
            raise self.failure
        return self.answer


def policy(
    effect: str = "Allow", resource: str | list[str] = EVERY_METHOD, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "principalId": "key-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context is not None:
        answer["context"] = context
    return answer


@dataclass
class FakeAuthorizer:
    """Answers ``answer`` (an IAM policy; by default Allow on every method) or raises ``failure``."""

    answer: Any = field(default_factory=policy)
    failure: Exception | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        if self.failure is not None:
            raise self.failure
        return self.answer


# --- HTTP ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> list[str]:
        return [value for header, value in self.headers if header.lower() == name.lower()]


def connect(gateway: LocalApiGateway) -> http.client.HTTPConnection:
    host, port = gateway.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=5)


def exchange(
    connection: http.client.HTTPConnection,
    method: str,
    target: str,
    headers: list[tuple[str, str]] = AUTHORIZED,
    body: bytes = b"",
) -> Reply:
    """Sends exactly these headers (plus Content-Length when there is a body), nothing http.client adds."""
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    if body:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body or None)
    response = connection.getresponse()
    return Reply(response.status, response.getheaders(), response.read())


def send(
    gateway: LocalApiGateway,
    method: str,
    target: str,
    headers: list[tuple[str, str]] = AUTHORIZED,
    body: bytes = b"",
) -> Reply:
    connection = connect(gateway)
    try:
        return exchange(connection, method, target, headers, body)
    finally:
        connection.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalApiGateway]]:
    """Starts gateways (Allow-all authorizer and recording handler unless given); all stop after the test."""
    started: list[LocalApiGateway] = []

    def start(**options: Any) -> LocalApiGateway:
        options.setdefault("authorizer", FakeAuthorizer())
        options.setdefault("handler", FakeHandler())
        gateway = LocalApiGateway(**options)
        gateway.start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


# --- the proxy event --------------------------------------------------------------------------------------


def test_the_handler_receives_api_gateways_proxy_event(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    gateway = serve(handler=handler, authorizer=FakeAuthorizer(policy(context={"account_id": "acc-1"})))
    headers = [
        ("Host", "localhost:8080"),
        ("Authorization", "Bearer key-1"),
        ("Content-Type", "application/json"),
        ("User-Agent", "meter-collector/1.0"),
    ]
    before_ms = int(time.time() * 1000)
    reply = send(gateway, "POST", "/v1/readings?dry_run=true", headers, b'{"readings": []}')
    after_ms = int(time.time() * 1000)

    [event] = handler.events
    request_id = reply.header("x-amzn-RequestId")[0]
    received_ms = event["requestContext"]["requestTimeEpoch"]
    latency_ms = event["requestContext"]["authorizer"]["integrationLatency"]
    assert event == {
        "resource": "/v1/readings",
        "path": "/v1/readings",
        "httpMethod": "POST",
        "headers": {
            "Host": "localhost:8080",
            "Authorization": "Bearer key-1",
            "Content-Type": "application/json",
            "User-Agent": "meter-collector/1.0",
            "Content-Length": "16",
        },
        "multiValueHeaders": {
            "Host": ["localhost:8080"],
            "Authorization": ["Bearer key-1"],
            "Content-Type": ["application/json"],
            "User-Agent": ["meter-collector/1.0"],
            "Content-Length": ["16"],
        },
        "queryStringParameters": {"dry_run": "true"},
        "multiValueQueryStringParameters": {"dry_run": ["true"]},
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "localapigw",
            "domainName": "localhost:8080",
            "extendedRequestId": request_id,
            "httpMethod": "POST",
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
                "sourceIp": "127.0.0.1",
                "user": None,
                "userAgent": "meter-collector/1.0",
                "userArn": None,
            },
            "path": "/prod/v1/readings",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": datetime.fromtimestamp(received_ms / 1000, UTC).strftime(
                "%d/%b/%Y:%H:%M:%S +0000"
            ),
            "requestTimeEpoch": received_ms,
            "resourcePath": "/v1/readings",
            "stage": "prod",
            "authorizer": {"account_id": "acc-1", "principalId": "key-1", "integrationLatency": latency_ms},
        },
        "body": '{"readings": []}',
        "isBase64Encoded": False,
    }
    assert uuid.UUID(request_id).version == 4
    assert before_ms <= received_ms <= after_ms
    assert 0 <= latency_ms <= after_ms - before_ms


def test_the_handler_gets_a_lambda_context(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    send(serve(handler=handler), "GET", "/v1/meters")

    [context] = handler.contexts
    assert (
        context.function_name,
        context.function_version,
        context.memory_limit_in_mb,
        context.invoked_function_arn,
    ) == ("meterbill-api", "$LATEST", "128", "arn:aws:lambda:us-east-1:123456789012:function:meterbill-api")
    assert uuid.UUID(context.aws_request_id).version == 4
    assert 28_000 < context.get_remaining_time_in_millis() <= 29_000


def test_a_request_without_a_body_has_body_none(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    send(serve(handler=handler), "GET", "/v1/meters")

    [event] = handler.events
    assert (event["body"], event["isBase64Encoded"]) == (None, False)


def test_the_path_reaches_the_handler_still_percent_encoded(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    send(serve(handler=handler), "GET", "/v1/meters/NMI%20123")

    [event] = handler.events
    assert (event["path"], event["requestContext"]["path"]) == (
        "/v1/meters/NMI%20123",
        "/prod/v1/meters/NMI%20123",
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", b'{"valid": "utf-8 too"}'),
        ("application/octet-stream; charset=binary", b"\x00\x01\x02"),
        ("text/csv", b"meter,kwh\nm-1,1\xff5\n"),  # not UTF-8
    ],
)
def test_a_binary_body_reaches_the_handler_in_base64(
    serve: Callable[..., LocalApiGateway], content_type: str, body: bytes
) -> None:
    handler = FakeHandler()
    send(serve(handler=handler), "POST", "/v1/imports", [*AUTHORIZED, ("Content-Type", content_type)], body)

    [event] = handler.events
    assert (event["body"], event["isBase64Encoded"]) == (base64.b64encode(body).decode("ascii"), True)


def test_binary_media_types_are_configurable_with_wildcards(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    gateway = serve(handler=handler, binary_media_types=["image/*"])
    send(gateway, "POST", "/v1/photos", [*AUTHORIZED, ("Content-Type", "image/png")], b"png")
    send(gateway, "POST", "/v1/imports", [*AUTHORIZED, ("Content-Type", "application/octet-stream")], b"raw")

    assert [(event["body"], event["isBase64Encoded"]) for event in handler.events] == [
        ("cG5n", True),
        ("raw", False),
    ]


def test_repeated_query_names_keep_the_last_value_and_all_values(
    serve: Callable[..., LocalApiGateway],
) -> None:
    handler = FakeHandler()
    target = "/v1/readings?meter=m-1&meter=m-2&from=2026-03-01T00%3A00%2B01%3A00&note=peak+hours&latest"
    send(serve(handler=handler), "GET", target)

    [event] = handler.events
    assert event["queryStringParameters"] == {
        "meter": "m-2",
        "from": "2026-03-01T00:00+01:00",
        "note": "peak hours",
        "latest": "",
    }
    assert event["multiValueQueryStringParameters"] == {
        "meter": ["m-1", "m-2"],
        "from": ["2026-03-01T00:00+01:00"],
        "note": ["peak hours"],
        "latest": [""],
    }


def test_no_query_string_gives_none_for_both_query_maps(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    send(serve(handler=handler), "GET", "/v1/readings")

    [event] = handler.events
    assert (event["queryStringParameters"], event["multiValueQueryStringParameters"]) == (None, None)


def test_repeated_headers_keep_their_case_the_last_value_and_all_values(
    serve: Callable[..., LocalApiGateway],
) -> None:
    handler = FakeHandler()
    send(
        serve(handler=handler),
        "GET",
        "/v1/meters",
        [("authorization", "Bearer key-1"), ("X-Site", "a"), ("X-Site", "b")],
    )

    [event] = handler.events
    assert event["headers"] == {"authorization": "Bearer key-1", "X-Site": "b"}
    assert event["multiValueHeaders"] == {"authorization": ["Bearer key-1"], "X-Site": ["a", "b"]}


# --- the authorizer ---------------------------------------------------------------------------------------


def test_the_authorizer_receives_a_request_event(serve: Callable[..., LocalApiGateway]) -> None:
    authorizer = FakeAuthorizer()
    send(
        serve(authorizer=authorizer),
        "DELETE",
        "/v1/keys/k-7?reason=lost",
        [("AUTHORIZATION", "Bearer key-1")],
    )

    [event] = authorizer.events
    context = event.pop("requestContext")
    assert event == {
        "type": "REQUEST",
        "methodArn": f"{ARN_PREFIX}/prod/DELETE/v1/keys/k-7",
        "resource": "/v1/keys/k-7",
        "path": "/v1/keys/k-7",
        "httpMethod": "DELETE",
        "headers": {"AUTHORIZATION": "Bearer key-1"},
        "multiValueHeaders": {"AUTHORIZATION": ["Bearer key-1"]},
        "queryStringParameters": {"reason": "lost"},
        "multiValueQueryStringParameters": {"reason": ["lost"]},
        "pathParameters": {},
        "stageVariables": {},
    }
    assert (context["path"], context["httpMethod"], "authorizer" in context) == (
        "/prod/v1/keys/k-7",
        "DELETE",
        False,
    )


def test_the_authorizers_context_reaches_the_handler_as_strings(
    serve: Callable[..., LocalApiGateway],
) -> None:
    handler = FakeHandler()
    context = {"account_id": "acc-1", "key_id": "k-7", "admin": False, "quota": 5, "rate": 0.5}
    send(serve(handler=handler, authorizer=FakeAuthorizer(policy(context=context))), "GET", "/v1/meters")

    [event] = handler.events
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer == {
        "account_id": "acc-1",
        "key_id": "k-7",
        "admin": "false",
        "quota": "5",
        "rate": "0.5",
        "principalId": "key-1",
        "integrationLatency": authorizer["integrationLatency"],
    }


def test_no_authorization_header_is_401_without_calling_the_authorizer_whose_identity_source_it_is(
    serve: Callable[..., LocalApiGateway],
) -> None:
    authorizer, handler = FakeAuthorizer(), FakeHandler()
    gateway = serve(authorizer=authorizer, handler=handler, identity_source="Authorization")
    missing = send(gateway, "GET", "/v1/meters", [])
    empty = send(gateway, "GET", "/v1/meters", [("Authorization", "")])

    assert [(reply.status, reply.json(), reply.header("x-amzn-ErrorType")) for reply in (missing, empty)] == [
        (401, {"message": "Unauthorized"}, ["UnauthorizedException"])
    ] * 2
    assert (authorizer.events, handler.events) == ([], [])


def test_without_an_identity_source_the_authorizer_sees_a_request_with_only_a_cookie(
    serve: Callable[..., LocalApiGateway],
) -> None:
    authorizer, handler = FakeAuthorizer(), FakeHandler()
    gateway = serve(authorizer=authorizer, handler=handler)

    reply = send(gateway, "GET", "/v1/meters", [("Cookie", "theme=dark; mb_session=abc")])

    [event] = authorizer.events
    assert reply.status == 200
    assert (event["headers"]["Cookie"], event["multiValueHeaders"]["Cookie"]) == (
        "theme=dark; mb_session=abc",
        ["theme=dark; mb_session=abc"],
    )


def test_an_authorizer_raising_unauthorized_is_401(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    gateway = serve(authorizer=FakeAuthorizer(failure=Exception("Unauthorized")), handler=handler)
    reply = send(gateway, "GET", "/v1/meters")

    assert (reply.status, reply.json(), handler.events) == (401, {"message": "Unauthorized"}, [])


def test_a_deny_is_403(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    reply = send(serve(authorizer=FakeAuthorizer(policy("Deny")), handler=handler), "GET", "/v1/meters")

    assert (reply.status, reply.json(), reply.header("x-amzn-ErrorType"), handler.events) == (
        403,
        {"Message": "User is not authorized to access this resource with an explicit deny"},
        ["AccessDeniedException"],
        [],
    )


def test_an_allow_for_another_resource_is_403(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    authorizer = FakeAuthorizer(policy("Allow", f"{ARN_PREFIX}/prod/GET/v1/readings"))
    reply = send(serve(authorizer=authorizer, handler=handler), "POST", "/v1/readings", body=b"{}")

    assert (reply.status, reply.json(), handler.events) == (
        403,
        {"Message": "User is not authorized to access this resource"},
        [],
    )


@pytest.mark.parametrize(
    ("resource", "status"),
    [
        (f"{ARN_PREFIX}/prod/POST/v1/readings", 200),
        (f"{ARN_PREFIX}/prod/*", 200),
        (f"{ARN_PREFIX}/prod/POST/v1/*", 200),
        (f"{ARN_PREFIX}/*/*/v1/readings", 200),
        ("arn:aws:execute-api:*:*:*", 200),
        ("arn:aws:execute-api:us-east-1:123456789012:localapigw/prod/P?ST/v1/readings", 200),
        ("*", 200),
        ([f"{ARN_PREFIX}/prod/GET/*", f"{ARN_PREFIX}/prod/POST/*"], 200),
        (f"{ARN_PREFIX}/prod/GET/*", 403),
        (f"{ARN_PREFIX}/test/*", 403),
        (f"{ARN_PREFIX}/prod/POST/v1/readings/*", 403),
        ("arn:aws:execute-api:eu-west-1:123456789012:localapigw/*", 403),
    ],
)
def test_an_allow_covers_the_method_arn_by_iam_wildcards(
    serve: Callable[..., LocalApiGateway], resource: str | list[str], status: int
) -> None:
    gateway = serve(authorizer=FakeAuthorizer(policy("Allow", resource)))

    assert send(gateway, "POST", "/v1/readings", body=b"{}").status == status


def test_a_deny_wins_over_an_allow(serve: Callable[..., LocalApiGateway]) -> None:
    answer = policy("Allow", EVERY_METHOD)
    answer["policyDocument"]["Statement"].append(
        {"Action": "execute-api:*", "Effect": "Deny", "Resource": f"{ARN_PREFIX}/prod/DELETE/*"}
    )
    gateway = serve(authorizer=FakeAuthorizer(answer))

    assert (send(gateway, "GET", "/v1/keys").status, send(gateway, "DELETE", "/v1/keys/k-7").status) == (
        200,
        403,
    )


@pytest.mark.parametrize(
    "authorizer",
    [
        FakeAuthorizer(failure=RuntimeError("the key table is unreachable")),
        FakeAuthorizer({"policyDocument": policy()["policyDocument"]}),  # no principalId
        FakeAuthorizer({"principalId": "key-1"}),  # no policy
        FakeAuthorizer(policy(context={"scopes": ["readings:write"]})),  # a context value that is a list
    ],
)
def test_a_failing_or_malformed_authorizer_is_500(
    serve: Callable[..., LocalApiGateway], authorizer: FakeAuthorizer
) -> None:
    handler = FakeHandler()
    reply = send(serve(authorizer=authorizer, handler=handler), "GET", "/v1/meters")

    assert (reply.status, reply.json(), reply.header("x-amzn-ErrorType"), handler.events) == (
        500,
        {"message": None},
        ["AuthorizerConfigurationException"],
        [],
    )


def test_a_public_path_skips_the_authorizer(serve: Callable[..., LocalApiGateway]) -> None:
    authorizer, handler = FakeAuthorizer(), FakeHandler()
    gateway = serve(
        authorizer=authorizer,
        handler=handler,
        public_paths={"/v1/openapi.json"},
        identity_source="Authorization",
    )
    public = send(gateway, "GET", "/v1/openapi.json", [])
    guarded = send(gateway, "GET", "/v1/openapi.json/extra", [])

    assert (public.status, guarded.status, authorizer.events) == (200, 401, [])
    assert [event["path"] for event in handler.events] == ["/v1/openapi.json"]
    assert "authorizer" not in handler.events[0]["requestContext"]


# --- limits, failures, answers ----------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_problem_json(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    gateway = serve(handler=handler, max_body_bytes=16)
    at_limit = send(gateway, "POST", "/v1/readings", body=b"x" * 16)
    over = send(gateway, "POST", "/v1/readings", body=b"x" * 17)

    assert (at_limit.status, over.status, over.header("Content-Type")) == (
        200,
        413,
        ["application/problem+json"],
    )
    assert over.json() == {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "the request body has 17 bytes; at most 16 are accepted",
    }
    assert [event["body"] for event in handler.events] == ["x" * 16]


def test_a_malformed_content_length_is_400_problem_json_and_reaches_no_handler(
    serve: Callable[..., LocalApiGateway],
) -> None:
    handler = FakeHandler()
    gateway = serve(handler=handler)

    answer = send(gateway, "GET", "/v1/customers", headers=[*AUTHORIZED, ("Content-Length", ";!MY&L[]A")])

    assert (answer.status, answer.header("Content-Type")) == (400, ["application/problem+json"])
    assert answer.json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "Content-Length is not a number",
    }
    assert handler.events == []


def test_a_chunked_body_is_read_and_limited_like_any_other(serve: Callable[..., LocalApiGateway]) -> None:
    handler = FakeHandler()
    gateway = serve(handler=handler, max_body_bytes=16)
    connection = connect(gateway)
    statuses = []
    for chunks in ([b"0123456789", b"abcdef"], [b"0123456789", b"abcdefg"], [b"{}"]):
        connection.request(
            "POST", "/v1/readings", body=iter(chunks), headers=dict(AUTHORIZED), encode_chunked=True
        )
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()

    assert (statuses, [event["body"] for event in handler.events]) == (
        [200, 413, 200],
        ["0123456789abcdef", "{}"],
    )


def test_a_handler_exception_is_502_and_logged(
    serve: Callable[..., LocalApiGateway], caplog: pytest.LogCaptureFixture
) -> None:
    gateway = serve(handler=FakeHandler(failure=KeyError("account_id")))
    with caplog.at_level(logging.ERROR, logger="local.apigateway"):
        reply = send(gateway, "GET", "/v1/meters")

    assert (reply.status, reply.json(), reply.header("x-amzn-ErrorType")) == (
        502,
        {"message": "Internal server error"},
        ["InternalServerErrorException"],
    )
    assert [
        (record.getMessage(), repr(record.exc_info[1]) if record.exc_info else None)
        for record in caplog.records
    ] == [("the handler failed on GET /v1/meters", "KeyError('account_id')")]


@pytest.mark.parametrize(
    "answer",
    [
        {"body": "{}"},  # no statusCode
        {"statusCode": "200", "body": "{}"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
    ],
)
def test_an_answer_that_is_not_a_proxy_response_is_502(
    serve: Callable[..., LocalApiGateway], answer: dict[str, Any]
) -> None:
    reply = send(serve(handler=FakeHandler(answer)), "GET", "/v1/meters")

    assert (reply.status, reply.json()) == (502, {"message": "Internal server error"})


def test_the_handlers_answer_reaches_the_client(serve: Callable[..., LocalApiGateway]) -> None:
    answer = {
        "statusCode": 201,
        "headers": {"Location": "/v1/meters/m-1", "Set-Cookie": "a=1", "Content-Length": "999"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": '{"meter": "m-1"}',
        "isBase64Encoded": False,
    }
    reply = send(serve(handler=FakeHandler(answer)), "POST", "/v1/meters", body=b"{}")

    assert (reply.status, reply.body) == (201, b'{"meter": "m-1"}')
    assert [reply.header(name) for name in ("Location", "Set-Cookie", "Content-Type", "Content-Length")] == [
        ["/v1/meters/m-1"],
        ["a=1", "b=2"],
        ["application/json"],  # API Gateway's default
        ["16"],  # counted, not the handler's
    ]


def test_a_base64_answer_reaches_the_client_as_bytes(serve: Callable[..., LocalApiGateway]) -> None:
    pdf = b"%PDF-1.7\n\x00\xff"
    answer = {
        "statusCode": 200,
        "headers": {"Content-Type": "application/pdf"},
        "body": base64.b64encode(pdf).decode("ascii"),
        "isBase64Encoded": True,
    }
    reply = send(serve(handler=FakeHandler(answer)), "GET", "/v1/invoices/inv-1.pdf")

    assert (reply.status, reply.header("Content-Type"), reply.body) == (200, ["application/pdf"], pdf)


def test_a_head_request_gets_the_headers_without_the_body(serve: Callable[..., LocalApiGateway]) -> None:
    reply = send(serve(), "HEAD", "/v1/meters")

    assert (reply.status, reply.header("Content-Length"), reply.body) == (200, [str(len(OK["body"]))], b"")


# --- connections and threads ------------------------------------------------------------------------------


def test_lambda_code_runs_one_request_at_a_time(serve: Callable[..., LocalApiGateway]) -> None:
    running, peak, count_lock = 0, 0, threading.Lock()

    def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal running, peak
        with count_lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)
        with count_lock:
            running -= 1
        return OK

    gateway = serve(handler=slow_handler)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(lambda _: send(gateway, "GET", "/v1/meters").status, range(2)))
    elapsed = time.monotonic() - started

    assert (statuses, peak) == ([200, 200], 1)
    assert elapsed >= 2 * 0.2


@pytest.mark.parametrize(
    ("refused_headers", "refused_status", "options"),
    [([], 401, {"identity_source": "Authorization"}), (AUTHORIZED, 413, {"max_body_bytes": 8})],
)
def test_a_kept_alive_connection_serves_the_next_request_after_a_refusal(
    serve: Callable[..., LocalApiGateway],
    refused_headers: list[tuple[str, str]],
    refused_status: int,
    options: dict[str, Any],
) -> None:
    handler = FakeHandler()
    connection = connect(serve(handler=handler, **options))
    refused = exchange(connection, "POST", "/v1/readings", refused_headers, b'{"readings": [1, 2, 3]}')
    kept_alive = connection.sock
    accepted = exchange(connection, "POST", "/v1/meters", AUTHORIZED, b"{}")
    same_connection = connection.sock is kept_alive
    connection.close()

    assert (refused.status, accepted.status, same_connection) == (refused_status, 200, True)
    assert [(event["path"], event["body"]) for event in handler.events] == [("/v1/meters", "{}")]


def test_stopping_ends_kept_alive_connections_and_frees_the_port() -> None:
    gateway = LocalApiGateway(authorizer=FakeAuthorizer(), handler=FakeHandler())
    with gateway:
        address = gateway.url.removeprefix("http://").split(":")
        connection = connect(gateway)
        exchange(connection, "GET", "/v1/meters")
    assert connection.sock is not None
    ended_by_server = connection.sock.recv(1) == b""
    connection.close()

    assert ended_by_server
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address[0], int(address[1])), timeout=1)


def test_a_powertools_resolver_answers_through_the_gateway(serve: Callable[..., LocalApiGateway]) -> None:
    app = APIGatewayRestResolver()

    @app.get("/v1/meters/<meter_id>")
    def get_meter(meter_id: str) -> dict[str, Any]:
        return {
            "meter": meter_id,
            "account": app.current_event.request_context.authorizer.get_context()["account_id"],
            "unit": app.current_event.get_query_string_value("unit"),
        }

    gateway = serve(
        handler=lambda event, context: app.resolve(event, context),
        authorizer=FakeAuthorizer(policy(context={"account_id": "acc-1"})),
    )
    found = send(gateway, "GET", "/v1/meters/m-1?unit=kWh")
    missing = send(gateway, "GET", "/v1/nothing")

    assert (found.status, found.json(), missing.status) == (
        200,
        {"meter": "m-1", "account": "acc-1", "unit": "kWh"},
        404,
    )
