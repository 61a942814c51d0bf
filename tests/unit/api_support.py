"""Helpers for the API's tests (no tests here): API Gateway proxy events, a Lambda context, and a client that
calls the Lambda handler with the authorizer's context for a chosen account and scopes, on the fake stores."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "meterbill-api")

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

from meterbill.api import dependencies
from meterbill.api.dependencies import Backend
from meterbill.ports import AccountRecord, Scope
from meterbill.settings import ApiSettings, StorageSettings
from tests.fakes import FakeStores, fixed_clock
from tests.fakes.alerts import FakeAlertStore, FakeAlertSubscriptions, FakeAlertWorkQueue

ALERTS_TOPIC = "arn:aws:sns:eu-central-1:123456789012:meterbill-alerts"
SETTINGS = ApiSettings(
    storage=StorageSettings(catalog_table="catalog", readings_table="readings", region="eu-central-1"),
    idempotency_table="idempotency",
    alerts_topic_arn=ALERTS_TOPIC,  # subscriptions are offered; no alerts queue: ingest sends nothing
)
ACCOUNT = "acc_a"
OTHER_ACCOUNT = "acc_b"
STAGE = "prod"
METHOD_ARN_PREFIX = "arn:aws:execute-api:eu-central-1:123456789012:api0123456"


@dataclass
class LambdaContextStub:
    """The attributes powertools reads from the Lambda context."""

    function_name: str = "meterbill-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:123456789012:function:meterbill-api"
    aws_request_id: str = "req-1"
    log_group_name: str = "/aws/lambda/meterbill-api"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def proxy_event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    authorizer: Mapping[str, str] | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """A REST API (payload 1.0) Lambda proxy event as API Gateway sends it."""
    header_map = dict(headers or {})
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": header_map or None,
        "multiValueHeaders": {name: [value] for name, value in header_map.items()} or None,
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()}
        if query
        else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api0123456",
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "requestId": "req-1",
            "resourcePath": path,
            "stage": STAGE,
            "identity": {"sourceIp": "192.0.2.1"},
            **({"authorizer": dict(authorizer)} if authorizer is not None else {}),
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def authorizer_context(account: str, *scopes: Scope, key_id: str = "0123456789abcdef") -> dict[str, str]:
    """What the REQUEST authorizer passes on for a key (as a REST API passes it: strings)."""
    return {"account_id": account, "key_id": key_id, "scopes": ",".join(scopes), "principalId": key_id}


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]  # names lower-cased
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text, parse_float=Decimal)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def content(self) -> bytes:
        """The body's bytes (a binary body's bytes survive in ``text`` as surrogate escapes)."""
        return self.text.encode("utf-8", "surrogateescape")


def answer_of(result: Mapping[str, Any]) -> HttpAnswer:
    headers = {name.lower(): values[-1] for name, values in (result.get("multiValueHeaders") or {}).items()}
    headers.update({name.lower(): value for name, value in (result.get("headers") or {}).items()})
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "surrogateescape")
    return HttpAnswer(int(result["statusCode"]), headers, body)


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class ApiClient:
    """Calls the handler as API Gateway would after the authorizer allowed a key of ``account`` with
    ``scopes``; ``as_key`` gives a client for another key."""

    handler: Handler
    account: str = ACCOUNT
    scopes: tuple[Scope, ...] = ("admin",)
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_key(self, account: str, *scopes: Scope) -> ApiClient:
        return ApiClient(self.handler, account, scopes, self.events)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        base64_encoded: bool = False,
        authorized: bool = True,
    ) -> HttpAnswer:
        header_map = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, default=str)
            header_map.setdefault("Content-Type", "application/json")
        event = proxy_event(
            method,
            path,
            body=body,
            headers=header_map,
            query=query,
            authorizer=authorizer_context(self.account, *self.scopes) if authorized else None,
            base64_encoded=base64_encoded,
        )
        self.events.append(event)
        return answer_of(self.handler(event, LambdaContextStub()))

    def get(self, path: str, **query: str) -> HttpAnswer:
        return self.request("GET", path, query=query)

    def post(self, path: str, json_body: Any = None, **options: Any) -> HttpAnswer:
        return self.request("POST", path, json_body=json_body, **options)

    def put(self, path: str, json_body: Any = None, **options: Any) -> HttpAnswer:
        return self.request("PUT", path, json_body=json_body, **options)

    def delete(self, path: str, **options: Any) -> HttpAnswer:
        return self.request("DELETE", path, **options)


@dataclass(frozen=True)
class AlertFakes:
    """The alert ports behind the handler: the store, the topic's subscriptions and the readings queue."""

    store: FakeAlertStore = field(default_factory=FakeAlertStore)
    subscriptions: FakeAlertSubscriptions = field(default_factory=FakeAlertSubscriptions)
    queue: FakeAlertWorkQueue = field(default_factory=FakeAlertWorkQueue)


def no_idempotency_store() -> BasePersistenceLayer:
    raise AssertionError("this test sends no Idempotency-Key")


def configure_backend(
    fakes: FakeStores,
    *,
    settings: ApiSettings = SETTINGS,
    idempotency: Callable[[], BasePersistenceLayer] = no_idempotency_store,
    alerts: AlertFakes | None = None,
) -> None:
    alert_fakes = alerts or AlertFakes()
    dependencies.configure(
        Backend(
            settings=settings,
            stores=fakes.ports(),
            idempotency=idempotency,
            clock=fixed_clock,
            alert_store=lambda: alert_fakes.store,
            alert_subscriptions=lambda: alert_fakes.subscriptions,
            alert_queue=lambda: alert_fakes.queue,
        )
    )


@contextmanager
def fake_backend(
    *, settings: ApiSettings = SETTINGS, alerts: AlertFakes | None = None
) -> Iterator[FakeStores]:
    """The handler's stores are these fakes (and its clock the fakes' fixed clock) until the block ends.

    Each test module turns this into its ``fakes`` fixture:
    ``@pytest.fixture def fakes(): with fake_backend() as stores: yield stores``.
    """
    stores = FakeStores.empty()
    for account in (ACCOUNT, OTHER_ACCOUNT):  # a key's account exists, as the authorizer found it
        stores.accounts.create(AccountRecord(account, account, fixed_clock()))
    configure_backend(stores, settings=settings, alerts=alerts)
    try:
        yield stores
    finally:
        dependencies.reset()


def handler_client() -> ApiClient:
    """A client of the Lambda handler for an admin key of ACCOUNT."""
    from functions.ingest.ingest_handler import lambda_handler

    return ApiClient(lambda_handler)


def problem(status: int, detail: str, *errors: tuple[str, str], **members: Any) -> dict[str, Any]:
    """The problem document the API answers (title from the status)."""
    from http import HTTPStatus

    document: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        document["errors"] = [{"field": name, "reason": reason} for name, reason in errors]
    return {**document, **members}
