"""Isolation between accounts, and what each scope may do, for every route of the API (OWASP API1 and API5).

Two accounts, Ada's and Bob's, each hold an object of every kind (customers, sites, meters with readings,
tariffs of two versions, assignments, API keys, alerts, alert rules, silences, email subscriptions and a
collector's heartbeat). Every request goes through API Gateway as deployed: the
REQUEST authorizer (``authorizer_handler``, keys looked up in DynamoDB) and then the API handler
(``ingest_handler``), both built from the environment as in Lambda, on moto.

For every route:

- Bob's admin key with Ada's ids answers exactly what it answers for ids that exist nowhere - 404 for an id in
  the path, the same 422 for a reference in a body - and changes nothing;
- Bob's lists hold Bob's objects only, and a cursor of Ada's listing is refused;
- an ``ingest`` key may only send readings, imports and collectors' heartbeats, a ``read`` key only GET
  (API keys: admin only);
- a revoked key is refused by the authorizer itself (API Gateway answers 401).

The routes come from the API's own OpenAPI document, and a test holds that list against ``ROUTES`` below, so
a new route fails here until its row says what isolation means for it.
"""

from __future__ import annotations

import base64
import fnmatch
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import boto3
import botocore.session
import pynamodb.connection.base
import pytest
from moto import mock_aws

from meterbill.adapters.dynamodb import build_stores, create_tables
from meterbill.adapters.s3 import S3DocumentStore
from meterbill.alerts.lifecycle import LifecycleRules, advance
from meterbill.alerts.model import Finding, Subject
from meterbill.alerts.ports import AlertStore
from meterbill.api import authorizer, dependencies
from meterbill.ports import Scope, Stores
from meterbill.services.apikeys import create_account
from meterbill.settings import StorageSettings
from tests.integration.conftest import (
    CATALOG_TABLE,
    READINGS_TABLE,
    REGION,
    Tables,
    _session_with_shared_loader,
)
from tests.unit.api_support import HttpAnswer, LambdaContextStub, answer_of, problem, proxy_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

IDEMPOTENCY_TABLE: Final = "meterbill-idempotency"
INVOICES_BUCKET: Final = "meterbill-invoices"
API_ARN: Final = "arn:aws:execute-api:eu-central-1:123456789012:api0123456"
ALERTS_TOPIC: Final = "meterbill-alerts"
HEARTBEATS: Final = ("POST", "/v1/collectors/{collector_id}/heartbeats")


# --- API Gateway in front of the two functions --------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP request, before the key is added."""

    method: str
    path: str
    json_body: Any = None
    text_body: str | None = None
    content_type: str = "application/json"
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    file_body: bytes | None = None  # sent base64, as API Gateway passes a binary media type

    @property
    def body(self) -> str | None:
        if self.file_body is not None:
            return base64.b64encode(self.file_body).decode()
        return self.text_body if self.json_body is None else json.dumps(self.json_body)


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Refused(Exception):
    """The authorizer refused the key: API Gateway answers 401 without calling the API."""


class Gateway:
    """What API Gateway does with a request: the REQUEST authorizer first (an exception "Unauthorized" →
    401), its policy must cover the method, then the API handler with the authorizer's context as strings."""

    def __init__(self) -> None:
        from functions.ingest import authorizer_handler, ingest_handler

        self.authorizer: LambdaHandler = authorizer_handler.lambda_handler
        self.handler: LambdaHandler = ingest_handler.lambda_handler

    def authorize(self, key: str, call: Call) -> dict[str, Any]:
        method_arn = f"{API_ARN}/prod/{call.method}{call.path}"
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            "resource": call.path,
            "path": call.path,
            "httpMethod": call.method,
            "headers": self._headers(key, call),
            "queryStringParameters": dict(call.query) or None,
        }
        try:
            policy: dict[str, Any] = self.authorizer(event, LambdaContextStub(function_name="authorizer"))
        except Exception as refusal:
            assert str(refusal) == "Unauthorized"  # the one message API Gateway turns into 401
            raise Refused() from refusal
        (statement,) = policy["policyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert fnmatch.fnmatchcase(method_arn, statement["Resource"])
        return policy

    def send(self, key: str, call: Call) -> HttpAnswer:
        policy = self.authorize(key, call)
        event = proxy_event(
            call.method,
            call.path,
            body=call.body,
            base64_encoded=call.file_body is not None,
            headers=self._headers(key, call),
            query=call.query or None,
            authorizer={
                **{k: str(v) for k, v in policy["context"].items()},
                "principalId": policy["principalId"],
            },
        )
        return answer_of(self.handler(event, LambdaContextStub()))

    @staticmethod
    def _headers(key: str, call: Call) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {key}", **call.headers}
        if call.body is not None:
            headers["Content-Type"] = call.content_type
        return headers


# --- the two accounts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ids:
    """The ids a request can name: each of an account's objects (a key id is the API's choice)."""

    customer: str
    site: str
    meter: str
    external_meter: str  # the meter's id in NEM12 files (NMI and suffix)
    tariff: str
    assignment: str
    key: str = ""
    invoice: str = ""  # an issued invoice (a settlement of SETTLED days)
    alert: str = ""  # an alert the lifecycle raised (its id holds a hash of the account)
    silence: str = ""
    subscription: str = ""


@dataclass
class Account:
    account_id: str
    ids: Ids
    admin: str = ""
    ingest: str = ""
    read: str = ""
    revoked: str = ""
    key_ids: set[str] = field(default_factory=set)
    listed: dict[str, list[str]] = field(default_factory=dict)  # list path → the ids it holds, sorted


NOBODY: Final = Ids(
    customer="cus-nobody",
    site="site-nobody",
    meter="mtr-nobody",
    external_meter="NMINOBODY1-E1",
    tariff="trf-nobody",
    assignment="asg-nobody",
    key="0123456789abcdef",
    invoice="inv_nobody",
    alert="0000000000000000-20260301T000000Z",
    silence="sil_0000000000000000",
    subscription="sub_0000000000000000",
)  # ids that exist in no account
IMPORT_DAY: Final = "2026-03-01"  # a NEM12 file's day on the account's meter
READINGS_DAY: Final = "2026-03-02"  # readings sent as JSON
SETTLED: Final = (("2026-03-01", "2026-03-02"), ("2026-03-02", "2026-03-03"))  # invoiced days [from, to)


ADDRESS: Final = {"lines": ["Hauptstraße 1"], "postal_code": "10115", "city": "Berlin", "country": "DE"}
SELLER: Final = {"legal_name": "Ada Energie GmbH", "address": ADDRESS, "vat_id": "DE123456789"}


def flat_tariff(tariff_id: str, rate: str) -> dict[str, Any]:
    return {
        "id": tariff_id,
        "name": "Flat",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": rate}]}]},
    }


def site_body(site_id: str) -> dict[str, Any]:
    return {"id": site_id, "name": "Plant", "timezone": "Europe/Berlin"}


def meter_body(ids: Ids, meter_id: str, external_id: str | None) -> dict[str, Any]:
    return {
        "id": meter_id,
        "site_id": ids.site,
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        "interval_minutes": 15,
        **({"external_id": external_id} if external_id else {}),
    }


def assignment_body(ids: Ids, assignment_id: str, meter_id: str, tariff_id: str) -> dict[str, Any]:
    return {
        "id": assignment_id,
        "meter_id": meter_id,
        "customer_id": ids.customer,
        "tariff_id": tariff_id,
        "effective_from": "2026-01-01",
    }


def quarter_hours(meter_id: str, *values: str) -> dict[str, Any]:
    return {
        "readings": [
            {
                "meter_id": meter_id,
                "timestamp": f"{READINGS_DAY}T00:{15 * n:02d}:00Z",
                "value": value,
                "type": "interval",
                "interval_minutes": 15,
            }
            for n, value in enumerate(values)
        ]
    }


def nem12(external_id: str, value: str) -> str:
    """One 15-minute day (IMPORT_DAY) of one channel, every value the same."""
    nmi, suffix = external_id.split("-")
    return "\n".join(
        [
            "100,NEM12,202603030000,MDP1,RETAILER1",
            f"200,{nmi},{suffix},1,{suffix},N1,MTR,kWh,15,",
            ",".join(["300", IMPORT_DAY.replace("-", ""), *[value] * 96, "A,,,20260303000000,"]),
            "900",
        ]
    )


def logo(ids: Ids) -> bytes:
    """A PNG of its own per account (its width comes from the account's customer id)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (10 + sum(ids.customer.encode()) % 97, 10), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def import_call(ids: Ids) -> Call:
    body = nem12(ids.external_meter, "0.5")
    return Call("POST", "/v1/imports", text_body=body, content_type="text/csv", query={"format": "nem12"})


def expect(answer: HttpAnswer, status: int) -> HttpAnswer:
    assert answer.status == status, answer.text
    return answer


def populate(gateway: Gateway, account: Account, *, copies: int) -> None:
    """``copies`` customers, sites, tariffs and assignments (2: a listing has a second page), the meters
    ``ids.meter`` and "main" (an id both accounts use), tariff ``ids.tariff`` in two versions, readings on the
    meters (as JSON and as a NEM12 file), and an ingest, a read and a revoked key."""
    admin, ids = account.admin, account.ids
    customers, sites, tariffs, assignments = (
        [base + suffix for suffix in ("", "2")[:copies]]
        for base in (ids.customer, ids.site, ids.tariff, ids.assignment)
    )
    for customer_id, site_id, tariff_id in zip(customers, sites, tariffs, strict=True):
        customer = {"id": customer_id, "name": "C", "address": ADDRESS}
        expect(gateway.send(admin, Call("POST", "/v1/customers", customer)), 201)
        expect(gateway.send(admin, Call("POST", "/v1/sites", site_body(site_id))), 201)
        expect(gateway.send(admin, Call("POST", "/v1/tariffs", flat_tariff(tariff_id, "0.30"))), 201)
    version_1 = gateway.send(admin, Call("GET", f"/v1/tariffs/{ids.tariff}"))
    version_2 = Call(
        "POST",
        f"/v1/tariffs/{ids.tariff}/versions",
        flat_tariff(ids.tariff, "0.35"),
        query={"effective_from": "2026-02-01"},
        headers={"If-Match": version_1.headers["etag"]},
    )
    expect(gateway.send(admin, version_2), 201)
    meters = [ids.meter, "main"]
    for meter_id, external_id in zip(meters, (ids.external_meter, None), strict=True):
        expect(gateway.send(admin, Call("POST", "/v1/meters", meter_body(ids, meter_id, external_id))), 201)
    for assignment_id, meter_id, tariff_id in zip(assignments, meters, tariffs, strict=False):
        body = assignment_body(ids, assignment_id, meter_id, tariff_id)
        expect(gateway.send(admin, Call("POST", "/v1/assignments", body)), 201)
    keys = []
    for name, scope in (("collector", "ingest"), ("dashboard", "read"), ("retired", "read")):
        created = gateway.send(admin, Call("POST", "/v1/api-keys", {"name": name, "scopes": [scope]}))
        keys.append(expect(created, 201).json["key"])
    account.ingest, account.read, account.revoked = keys
    expect(gateway.send(admin, Call("DELETE", f"/v1/api-keys/{key_id_of(account.revoked)}")), 200)
    logo_call = Call("PUT", "/v1/settings/logo", file_body=logo(ids), content_type="image/png")
    expect(gateway.send(admin, logo_call), 200)
    account.ids = replace(ids, key=key_id_of(account.ingest))
    account.key_ids = {key_id_of(key) for key in (admin, *keys)}
    for readings in (quarter_hours(ids.meter, "1.5", "2.5"), quarter_hours("main", "7")):
        expect(gateway.send(account.ingest, Call("POST", "/v1/readings", readings)), 200)
    expect(gateway.send(account.ingest, import_call(ids)), 200)
    invoices = []
    for start, end in SETTLED[:copies]:
        body = {"customer_id": ids.customer, "from": start, "to": end, "reason": "move-out"}
        invoices.append(expect(gateway.send(admin, Call("POST", "/v1/invoices", body)), 201).json["id"])
    account.ids = replace(account.ids, invoice=invoices[0])
    alerts = [
        raise_alert(account.account_id, Subject("meter", meter_id, ids.site), hours)
        for meter_id, hours in zip(meters, (2, 1)[:copies], strict=False)
    ]
    silences, subscriptions = [], []
    for n in range(copies):
        created = gateway.send(admin, Call("POST", "/v1/alert-silences", silence_body(ids)))
        silences.append(expect(created, 201).json["id"])
        subscribed = gateway.send(admin, Call("POST", "/v1/alert-subscriptions", subscription_body(ids, n)))
        subscriptions.append(expect(subscribed, 201).json["id"])
    expect(gateway.send(admin, Call("PUT", "/v1/alert-rules", ALERT_RULES)), 200)
    expect(gateway.send(account.ingest, heartbeat_call(ids)), 202)
    account.ids = replace(account.ids, alert=alerts[0], silence=silences[0], subscription=subscriptions[0])
    account.listed = {
        "/v1/customers": customers,
        "/v1/sites": sites,
        "/v1/meters": sorted(meters),
        "/v1/assignments": assignments,
        "/v1/tariffs": tariffs,
        "/v1/api-keys": sorted(account.key_ids),
        "/v1/invoices": sorted(invoices),
        "/v1/alerts": sorted(alerts),
        "/v1/alert-silences": sorted(silences),
        "/v1/alert-subscriptions": sorted(subscriptions),
    }


def alert_store() -> AlertStore:
    """The API's alert store, as the handler builds it from the environment."""
    return dependencies._alert_store_of(dependencies.backend().settings)


def raise_alert(account_id: str, subject: Subject, hours_ago: int) -> str:
    """A communication alert on ``subject``, raised by the lifecycle as the alerts functions raise it."""
    store = alert_store()
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago)
    finding = Finding(
        "communication", subject, "warning", True, at, f"{subject.id} is quiet", {"gap_minutes": "60"}
    )
    book, _ = advance(store.load_book(account_id).book, [finding], at, LifecycleRules(for_by_kind={}))
    store.save_book(account_id, book, book.alerts, ())
    (alert,) = (a for a in book.alerts if a.subject == subject)
    return alert.id


ALERT_RULES: Final = {"energy_evasion": {"min_percent": "8"}, "flat_line": {"hours": 8}}


def silence_body(ids: Ids) -> dict[str, Any]:
    ends = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    return {"matchers": [{"name": "site_id", "value": ids.site}], "ends_at": ends, "comment": "maintenance"}


def subscription_body(ids: Ids, n: int = 0) -> dict[str, Any]:
    """An address of the account's own (SNS keeps one subscription per address and topic)."""
    return {"email": f"ops{n}@{ids.site}.example.com", "min_severity": "warning", "site_ids": [ids.site]}


def heartbeat_call(ids: Ids) -> Call:
    body = {
        "version": "1.0",
        "spool_depth": 0,
        "site_id": ids.site,
        "meters": [{"meter_id": ids.meter, "error": "timeout"}],
    }
    return Call("POST", "/v1/collectors/col-1/heartbeats", body)


def key_id_of(key: str) -> str:
    return key.split("_")[1]


class Writes:
    """Every write to DynamoDB that any client of the functions had applied (botocore's event hook on each
    new session). A conditional write whose condition failed changed nothing and is not counted: revoking
    another account's key is such a write (the key's item is found by its id, its account checked by the
    condition)."""

    OPERATIONS: Final = frozenset(
        {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
    )

    def __init__(self) -> None:
        self.applied: list[str] = []

    def session(self) -> botocore.session.Session:
        session = _session_with_shared_loader()
        session.register("after-call.dynamodb.*", self._record)
        return session

    def _record(self, model: Any, http_response: Any, **_: Any) -> None:
        if model.name in self.OPERATIONS and http_response.status_code == 200:
            self.applied.append(model.name)


@dataclass
class World:
    gateway: Gateway
    writes: Writes
    ada: Account
    bob: Account
    tables: Tables

    def send_watching_writes(self, key: str, call: Call) -> tuple[HttpAnswer, list[str]]:
        """The answer, and the writes DynamoDB applied for the authorizer and the handler meanwhile."""
        self.writes.applied.clear()
        answer = self.gateway.send(key, call)
        return answer, list(self.writes.applied)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """moto with the three tables and the functions' environment as deployed (the handlers' stores and the
    authorizer's key store are built from it, as in Lambda), and the two accounts: Ada with two objects of
    most kinds, Bob with one. Shared by the module's tests; those that change it put it back."""
    settings = StorageSettings(catalog_table=CATALOG_TABLE, readings_table=READINGS_TABLE, region=REGION)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "DYNAMODB_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        for name, value in {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "CATALOG_TABLE": CATALOG_TABLE,
            "READINGS_TABLE": READINGS_TABLE,
            "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
            "INVOICES_BUCKET": INVOICES_BUCKET,
        }.items():
            patch.setenv(name, value)
        writes = Writes()
        patch.setattr(pynamodb.connection.base, "get_session", writes.session)
        with mock_aws():
            create_tables(settings)
            boto3.client("dynamodb", region_name=REGION).create_table(
                TableName=IDEMPOTENCY_TABLE,
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            boto3.client("s3", region_name=REGION).create_bucket(
                Bucket=INVOICES_BUCKET,
                CreateBucketConfiguration={"LocationConstraint": REGION},
                ObjectLockEnabledForBucket=True,
            )
            topic = boto3.client("sns", region_name=REGION).create_topic(Name=ALERTS_TOPIC)["TopicArn"]
            patch.setenv("ALERTS_TOPIC_ARN", topic)
            dependencies.reset()
            authorizer.configure(None)
            try:
                gateway = Gateway()
                ada, bob = (
                    open_account(gateway, settings, name, copies) for name, copies in (("ada", 2), ("bob", 1))
                )
                yield World(gateway, writes, ada, bob, Tables())
            finally:
                dependencies.reset()
                authorizer.configure(None)


def open_account(gateway: Gateway, settings: StorageSettings, name: str, copies: int) -> Account:
    """Account ``acc_<name>`` as ``meterbill accounts create`` makes it, populated through the API."""
    stores = build_stores(settings)
    _, admin = create_account(name, stores.accounts, stores.keys, datetime.now(UTC), account_id=f"acc_{name}")
    ids = Ids(
        customer=f"cus-{name}",
        site=f"site-{name}",
        meter=f"mtr-{name}",
        external_meter=f"NMI{name.upper()}0001-E1",
        tariff=f"trf-{name}",
        assignment=f"asg-{name}",
    )
    account = Account(f"acc_{name}", ids, admin=admin)
    if name == "ada":  # Ada's invoices have e-invoices: a seller (Bob's settings stay as created)
        expect(gateway.send(admin, Call("PUT", "/v1/settings/billing", {"seller": SELLER})), 200)
    populate(gateway, account, copies=copies)
    store_pdf(stores, account.account_id, account.ids.invoice)
    return account


def store_pdf(stores: Stores, account: str, invoice_id: str) -> None:
    """The invoice's document stored in the invoices bucket, as the invoice worker stores it."""
    now = datetime.now(UTC)
    documents = S3DocumentStore(INVOICES_BUCKET, region=REGION)
    stored = documents.put_once(
        account,
        f"invoices/{invoice_id}.pdf",
        f"%PDF {invoice_id}".encode(),
        content_type="application/pdf",
        retain_until=now + timedelta(days=1),
    )
    stores.invoices.mark_stored(account, invoice_id, stored, now)


# --- the routes ---------------------------------------------------------------------------------------------

Isolation = Literal["not found", "unknown reference", "rejected readings", "own object", "own list", "no ids"]


@dataclass(frozen=True)
class Route:
    """What a route needs (``needs``: the scope) and what another account's ids in its request come to."""

    needs: Scope | None  # None: public
    isolation: Isolation
    call: Callable[[Ids], Call]


BILLING_SETTINGS: Final = {
    "bill_day": 5,
    "invoice_number_prefix": "ADA-",
    "credit_note_number_prefix": "ADA-CN-",
}


def _usage(ids: Ids) -> Call:
    query = {"from": f"{READINGS_DAY}T00:00:00Z", "to": f"{READINGS_DAY}T01:00:00Z", "resolution": "hour"}
    return Call("GET", f"/v1/meters/{ids.meter}/usage", query=query)


ROUTES: Final[Mapping[tuple[str, str], Route]] = {
    ("POST", "/v1/readings"): Route(
        "ingest",
        "rejected readings",
        lambda ids: Call("POST", "/v1/readings", quarter_hours(ids.meter, "1.5")),
    ),
    ("POST", "/v1/imports"): Route("ingest", "rejected readings", import_call),
    ("GET", "/v1/customers"): Route("read", "own list", lambda ids: Call("GET", "/v1/customers")),
    ("POST", "/v1/customers"): Route(
        "admin", "own object", lambda ids: Call("POST", "/v1/customers", {"id": ids.customer, "name": "C"})
    ),
    ("GET", "/v1/customers/{customer_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/customers/{ids.customer}")
    ),
    ("PUT", "/v1/customers/{customer_id}"): Route(
        "admin", "not found", lambda ids: Call("PUT", f"/v1/customers/{ids.customer}", {"name": "Eve"})
    ),
    ("DELETE", "/v1/customers/{customer_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/customers/{ids.customer}")
    ),
    ("GET", "/v1/customers/{customer_id}/bill-preview"): Route(
        "read",
        "not found",
        lambda ids: Call(
            "GET",
            f"/v1/customers/{ids.customer}/bill-preview",
            query={"from": "2026-03-01", "to": "2026-04-01"},
        ),
    ),
    ("GET", "/v1/sites"): Route("read", "own list", lambda ids: Call("GET", "/v1/sites")),
    ("POST", "/v1/sites"): Route(
        "admin", "own object", lambda ids: Call("POST", "/v1/sites", site_body(ids.site))
    ),
    ("GET", "/v1/sites/{site_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/sites/{ids.site}")
    ),
    ("PUT", "/v1/sites/{site_id}"): Route(
        "admin", "not found", lambda ids: Call("PUT", f"/v1/sites/{ids.site}", site_body(ids.site))
    ),
    ("DELETE", "/v1/sites/{site_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/sites/{ids.site}")
    ),
    ("GET", "/v1/meters"): Route("read", "own list", lambda ids: Call("GET", "/v1/meters")),
    ("POST", "/v1/meters"): Route(  # on the other account's site
        "admin",
        "unknown reference",
        lambda ids: Call("POST", "/v1/meters", meter_body(ids, "mtr-new", None)),
    ),
    ("GET", "/v1/meters/{meter_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/meters/{ids.meter}")
    ),
    ("PUT", "/v1/meters/{meter_id}"): Route(
        "admin",
        "not found",
        lambda ids: Call("PUT", f"/v1/meters/{ids.meter}", meter_body(ids, ids.meter, ids.external_meter)),
    ),
    ("DELETE", "/v1/meters/{meter_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/meters/{ids.meter}")
    ),
    ("GET", "/v1/meters/{meter_id}/usage"): Route("read", "not found", _usage),
    ("GET", "/v1/reports/savings"): Route(  # the caller's nodes only (tests/unit/test_api_savings.py)
        "read",
        "no ids",
        lambda ids: Call("GET", "/v1/reports/savings", query={"from": "2026-03-01", "to": "2026-03-08"}),
    ),
    ("POST", "/v1/meters/{meter_id}/exchanges"): Route(
        "admin",
        "not found",
        lambda ids: Call(
            "POST",
            f"/v1/meters/{ids.meter}/exchanges",
            {"timestamp": "2026-02-01T12:00:00+01:00", "old_final": "1234.5", "new_initial": "0.0"},
        ),
    ),
    ("GET", "/v1/assignments"): Route("read", "own list", lambda ids: Call("GET", "/v1/assignments")),
    ("POST", "/v1/assignments"): Route(  # of the other account's meter, customer and tariff
        "admin",
        "unknown reference",
        lambda ids: Call("POST", "/v1/assignments", assignment_body(ids, "asg-new", ids.meter, ids.tariff)),
    ),
    ("GET", "/v1/assignments/{assignment_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/assignments/{ids.assignment}")
    ),
    ("PUT", "/v1/assignments/{assignment_id}"): Route(
        "admin",
        "not found",
        lambda ids: Call(
            "PUT",
            f"/v1/assignments/{ids.assignment}",
            assignment_body(ids, ids.assignment, ids.meter, ids.tariff),
        ),
    ),
    ("DELETE", "/v1/assignments/{assignment_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/assignments/{ids.assignment}")
    ),
    ("GET", "/v1/tariffs"): Route("read", "own list", lambda ids: Call("GET", "/v1/tariffs")),
    ("POST", "/v1/tariffs"): Route(
        "admin", "own object", lambda ids: Call("POST", "/v1/tariffs", flat_tariff(ids.tariff, "0.40"))
    ),
    ("GET", "/v1/tariffs/{tariff_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/tariffs/{ids.tariff}")
    ),
    ("DELETE", "/v1/tariffs/{tariff_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/tariffs/{ids.tariff}")
    ),
    ("GET", "/v1/tariffs/{tariff_id}/versions"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/tariffs/{ids.tariff}/versions")
    ),
    ("POST", "/v1/tariffs/{tariff_id}/versions"): Route(
        "admin",
        "not found",
        lambda ids: Call(
            "POST",
            f"/v1/tariffs/{ids.tariff}/versions",
            flat_tariff(ids.tariff, "0.40"),
            query={"effective_from": "2026-06-01"},
        ),
    ),
    ("GET", "/v1/tariffs/{tariff_id}/versions/{version}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/tariffs/{ids.tariff}/versions/2")
    ),
    ("GET", "/v1/settings/billing"): Route(  # the caller's account's: a request cannot name another
        "read", "no ids", lambda ids: Call("GET", "/v1/settings/billing")
    ),
    ("PUT", "/v1/settings/billing"): Route(
        "admin", "no ids", lambda ids: Call("PUT", "/v1/settings/billing", BILLING_SETTINGS)
    ),
    ("GET", "/v1/settings/logo"): Route("read", "no ids", lambda ids: Call("GET", "/v1/settings/logo")),
    ("PUT", "/v1/settings/logo"): Route(
        "admin",
        "no ids",
        lambda ids: Call("PUT", "/v1/settings/logo", file_body=logo(ids), content_type="image/png"),
    ),
    ("GET", "/v1/api-keys"): Route("admin", "own list", lambda ids: Call("GET", "/v1/api-keys")),
    ("POST", "/v1/api-keys"): Route(  # a key's id is the API's choice: a request cannot name one
        "admin", "no ids", lambda ids: Call("POST", "/v1/api-keys", {"name": "new", "scopes": ["read"]})
    ),
    ("GET", "/v1/api-keys/{key_id}"): Route(
        "admin", "not found", lambda ids: Call("GET", f"/v1/api-keys/{ids.key}")
    ),
    ("DELETE", "/v1/api-keys/{key_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/api-keys/{ids.key}")
    ),
    ("GET", "/v1/openapi.json"): Route(None, "no ids", lambda ids: Call("GET", "/v1/openapi.json")),
    ("GET", "/v1/invoices"): Route("read", "own list", lambda ids: Call("GET", "/v1/invoices")),
    ("GET", "/v1/invoices/export"): Route(  # the caller's account's: a request cannot name another
        "read", "no ids", lambda ids: Call("GET", "/v1/invoices/export", query={"month": "2026-03"})
    ),
    ("GET", "/v1/invoices/{invoice_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/invoices/{ids.invoice}")
    ),
    ("GET", "/v1/invoices/{invoice_id}/xml"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/invoices/{ids.invoice}/xml")
    ),
    ("GET", "/v1/invoices/{invoice_id}/pdf"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/invoices/{ids.invoice}/pdf")
    ),
    ("POST", "/v1/invoices"): Route(  # a settlement for the other account's customer
        "admin",
        "not found",
        lambda ids: Call(
            "POST",
            "/v1/invoices",
            {"customer_id": ids.customer, "from": "2026-03-03", "to": "2026-03-04", "reason": "move-out"},
        ),
    ),
    ("POST", "/v1/invoices/{invoice_id}/issue"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/issue")
    ),
    ("POST", "/v1/invoices/{invoice_id}/void"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/void")
    ),
    ("POST", "/v1/invoices/{invoice_id}/rerate"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/rerate")
    ),
    ("POST", "/v1/invoices/{invoice_id}/adjust"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/adjust")
    ),
    ("POST", "/v1/invoices/{invoice_id}/resend"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/resend")
    ),
    ("GET", "/v1/customers/{customer_id}/charges"): Route(
        "read",
        "not found",
        lambda ids: Call(
            "GET",
            f"/v1/customers/{ids.customer}/charges",
            query={"from": "2026-03-01", "to": "2026-03-03", "resolution": "day"},
        ),
    ),
    ("GET", "/v1/alerts"): Route("read", "own list", lambda ids: Call("GET", "/v1/alerts")),
    ("GET", "/v1/alerts/{alert_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/alerts/{ids.alert}")
    ),
    ("POST", "/v1/alerts/{alert_id}/ack"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/alerts/{ids.alert}/ack")
    ),
    ("GET", "/v1/alert-rules"): Route(  # the caller's account's: a request cannot name another
        "read", "no ids", lambda ids: Call("GET", "/v1/alert-rules")
    ),
    ("PUT", "/v1/alert-rules"): Route(
        "admin", "no ids", lambda ids: Call("PUT", "/v1/alert-rules", ALERT_RULES)
    ),
    ("GET", "/v1/alert-silences"): Route("read", "own list", lambda ids: Call("GET", "/v1/alert-silences")),
    ("POST", "/v1/alert-silences"): Route(  # a silence's id is the API's choice
        "admin", "no ids", lambda ids: Call("POST", "/v1/alert-silences", silence_body(ids))
    ),
    ("GET", "/v1/alert-silences/{silence_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/alert-silences/{ids.silence}")
    ),
    ("DELETE", "/v1/alert-silences/{silence_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/alert-silences/{ids.silence}")
    ),
    ("GET", "/v1/alert-subscriptions"): Route(
        "read", "own list", lambda ids: Call("GET", "/v1/alert-subscriptions")
    ),
    ("POST", "/v1/alert-subscriptions"): Route(  # for the other account's site
        "admin",
        "unknown reference",
        lambda ids: Call("POST", "/v1/alert-subscriptions", subscription_body(ids, 9)),
    ),
    ("GET", "/v1/alert-subscriptions/{subscription_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/alert-subscriptions/{ids.subscription}")
    ),
    ("DELETE", "/v1/alert-subscriptions/{subscription_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/alert-subscriptions/{ids.subscription}")
    ),
    HEARTBEATS: Route("ingest", "unknown reference", heartbeat_call),  # the other account's site and meter
    ("GET", "/v1/customers/{customer_id}/charges/sessions"): Route(
        "read",
        "not found",
        lambda ids: Call(
            "GET",
            f"/v1/customers/{ids.customer}/charges/sessions",
            query={"from": "2026-03-01", "to": "2026-03-03", "threshold": "all"},
        ),
    ),
}


def routes(*kinds: Isolation) -> list[Any]:
    return [
        pytest.param(route, id=f"{route[0]} {route[1]}")
        for route, spec in ROUTES.items()
        if not kinds or spec.isolation in kinds
    ]


def other_accounts_ids_are_nobodys(answer: HttpAnswer, ids: Ids) -> str:
    """The answer's text with each of ``ids`` written as the id of nobody it stands for."""
    text = json.dumps({"status": answer.status, "headers": answer.headers, "body": answer.text})
    for name in (
        "customer",
        "site",
        "meter",
        "external_meter",
        "tariff",
        "assignment",
        "key",
        "invoice",
        "alert",
        "silence",
        "subscription",
    ):
        text = text.replace(getattr(ids, name), getattr(NOBODY, name))
    return text


# --- the tests ----------------------------------------------------------------------------------------------


def test_the_matrix_has_a_row_for_every_route_of_the_openapi_document(world: World) -> None:
    document = world.gateway.send(world.bob.read, Call("GET", "/v1/openapi.json")).json
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}

    assert documented == set(ROUTES)
    assert len(documented) == 69


@pytest.mark.parametrize("route", routes("not found", "unknown reference", "rejected readings"))
def test_another_accounts_ids_answer_exactly_like_ids_that_exist_nowhere(
    world: World, route: tuple[str, str]
) -> None:
    spec = ROUTES[route]

    with_adas_ids, writes = world.send_watching_writes(world.bob.admin, spec.call(world.ada.ids))
    with_nobodys_ids = world.gateway.send(world.bob.admin, spec.call(NOBODY))

    expected_status = {"not found": 404, "unknown reference": 422, "rejected readings": 422}[spec.isolation]
    assert with_adas_ids.status == expected_status
    assert other_accounts_ids_are_nobodys(with_adas_ids, world.ada.ids) == other_accounts_ids_are_nobodys(
        with_nobodys_ids, NOBODY
    )
    assert writes == []


def test_an_accounts_own_invoice_has_its_einvoice_xml(world: World) -> None:
    answer = world.gateway.send(world.ada.read, Call("GET", f"/v1/invoices/{world.ada.ids.invoice}/xml"))
    invoice = world.gateway.send(world.ada.read, Call("GET", f"/v1/invoices/{world.ada.ids.invoice}")).json

    assert (answer.status, answer.headers["content-type"]) == (200, "application/xml")
    assert f"<ram:ID>{invoice['number']}</ram:ID>" in answer.text
    assert "<ram:Name>Ada Energie GmbH</ram:Name>" in answer.text
    assert f"<ram:ID>{world.ada.ids.customer}</ram:ID>" in answer.text


def test_a_404_names_the_id_and_nothing_of_its_owner(world: World) -> None:
    answer = world.gateway.send(world.bob.admin, Call("GET", f"/v1/meters/{world.ada.ids.meter}"))

    assert answer.status == 404
    assert answer.headers == {"content-type": "application/problem+json"}
    assert answer.json == problem(404, "meter 'mtr-ada' not found")


def test_readings_for_another_accounts_meter_are_rejected_as_for_no_meter(world: World) -> None:
    answer = world.gateway.send(world.bob.ingest, ROUTES["POST", "/v1/readings"].call(world.ada.ids))

    report = {
        "accepted": 0,
        "duplicates": 0,
        "rejected": [
            {"index": 0, "meter_id": "mtr-ada", "field": "meter_id", "reason": "no meter 'mtr-ada'"}
        ],
        "rejected_count": 1,
        "replaced": 0,
    }
    assert answer.json == problem(
        422,
        "no reading was stored: 1 rejected",
        ("readings[0].meter_id", "no meter 'mtr-ada'"),
        **report,
    )


@pytest.mark.parametrize("route", routes("own list"))
def test_a_list_holds_the_callers_objects_only(world: World, route: tuple[str, str]) -> None:
    path = route[1]
    id_field = "key_id" if path == "/v1/api-keys" else "id"

    bobs = world.gateway.send(
        world.bob.read if path != "/v1/api-keys" else world.bob.admin, Call("GET", path)
    )
    adas = world.gateway.send(world.ada.admin, Call("GET", path))

    assert sorted(item[id_field] for item in bobs.json["items"]) == world.bob.listed[path]
    assert sorted(item[id_field] for item in adas.json["items"]) == world.ada.listed[path]


@pytest.mark.parametrize("route", routes("own list"))
def test_a_cursor_of_another_accounts_listing_is_refused(world: World, route: tuple[str, str]) -> None:
    path = route[1]
    adas_first_page = world.gateway.send(world.ada.admin, Call("GET", path, query={"limit": "1"}))
    adas_cursor = adas_first_page.json["next_cursor"]

    answer = world.gateway.send(
        world.bob.admin, Call("GET", path, query={"limit": "1", "cursor": adas_cursor})
    )

    assert adas_cursor is not None
    assert answer.json == problem(
        422, "cursor: is not a cursor of this listing", ("cursor", "is not a cursor of this listing")
    )


def test_the_same_meter_id_in_two_accounts_keeps_each_accounts_readings(world: World) -> None:
    main = replace(world.ada.ids, meter="main")

    adas = world.gateway.send(world.ada.read, _usage(main))
    bobs = world.gateway.send(world.bob.read, _usage(replace(world.bob.ids, meter="main")))

    assert (adas.json["total"], bobs.json["total"]) == ("7", "7")  # each account sent one 7 kWh reading
    assert [b["total"] for b in adas.json["buckets"]] == ["7"]
    assert adas.json["qualities"]["actual"] == bobs.json["qualities"]["actual"] == 1


def test_the_openapi_document_is_the_same_for_every_key_and_for_none(world: World) -> None:
    call = Call("GET", "/v1/openapi.json")
    adas = world.gateway.send(world.ada.ingest, call)
    bobs = world.gateway.send(world.bob.admin, call)
    keyless = answer_of(world.gateway.handler(proxy_event("GET", "/v1/openapi.json"), LambdaContextStub()))

    assert adas.status == bobs.status == keyless.status == 200
    assert adas.text == bobs.text == keyless.text


@pytest.mark.parametrize("route", routes())
def test_an_ingest_key_may_only_send_readings_imports_and_heartbeats(
    world: World, route: tuple[str, str]
) -> None:
    spec = ROUTES[route]

    answer, writes = world.send_watching_writes(world.ada.ingest, spec.call(world.ada.ids))

    if route == HEARTBEATS:  # a heartbeat is kept as received now: the one write an ingest key makes anew
        assert (answer.status, answer.json["collector_id"]) == (202, "col-1")
        return
    if spec.needs == "ingest":  # what it sent is stored already: a duplicate, stored once
        assert (answer.status, answer.json["accepted"], answer.json["rejected_count"]) == (200, 0, 0)
    elif spec.needs is None:
        assert answer.status == 200
    else:
        detail = f"this API key's scopes (ingest) do not allow this operation; it needs {spec.needs!r}"
        assert answer.json == problem(403, detail)
    assert writes == []


@pytest.mark.parametrize("route", routes())
def test_a_read_key_may_only_get(world: World, route: tuple[str, str]) -> None:
    spec = ROUTES[route]

    answer, writes = world.send_watching_writes(world.ada.read, spec.call(world.ada.ids))

    if spec.needs in ("read", None):
        assert answer.status == 200, answer.text
    else:
        detail = f"this API key's scopes (read) do not allow this operation; it needs {spec.needs!r}"
        assert answer.json == problem(403, detail)
    assert writes == []


def test_the_scope_each_route_needs_follows_one_rule(world: World) -> None:
    def rule(method: str, path: str) -> Scope | None:
        if path == "/v1/openapi.json":
            return None  # public
        if method == "POST" and path in ("/v1/readings", "/v1/imports", HEARTBEATS[1]):
            return "ingest"
        if method == "GET" and not path.startswith("/v1/api-keys"):
            return "read"
        return "admin"

    assert {route: spec.needs for route, spec in ROUTES.items()} == {route: rule(*route) for route in ROUTES}


@pytest.mark.parametrize("route", routes())
def test_a_revoked_key_is_refused_by_the_authorizer(world: World, route: tuple[str, str]) -> None:
    with pytest.raises(Refused):
        world.gateway.authorize(world.ada.revoked, ROUTES[route].call(world.ada.ids))


def test_a_revoked_key_stays_listed_as_revoked(world: World) -> None:
    key_id = key_id_of(world.ada.revoked)

    answer = world.gateway.send(world.ada.admin, Call("GET", f"/v1/api-keys/{key_id}"))

    assert (answer.json["name"], answer.json["revoked_at"] is not None) == ("retired", True)


# --- the routes that create: the world is put back afterwards ---------------------------------------------


def restore(tables: Tables, items_of: Mapping[str, list[dict[str, Any]]]) -> None:
    """Makes each table hold exactly ``items_of[table]`` again."""
    for table, items in items_of.items():
        key_names = [
            k["AttributeName"] for k in tables.client.describe_table(TableName=table)["Table"]["KeySchema"]
        ]
        kept = {json.dumps([item[name] for name in key_names], default=repr) for item in items}
        for item in tables.all(table):
            key = {name: item[name] for name in key_names}
            if json.dumps([item[name] for name in key_names], default=repr) not in kept:
                tables.client.delete_item(TableName=table, Key=key)
        for item in items:
            tables.client.put_item(TableName=table, Item=item)


@pytest.fixture
def changeable_world(world: World) -> Iterator[World]:
    """The shared world, each table put back item by item after the test."""
    before = {table: world.tables.all(table) for table in (CATALOG_TABLE, READINGS_TABLE, IDEMPOTENCY_TABLE)}
    yield world
    restore(world.tables, before)


def without_server_made_fields(answer: HttpAnswer, ids: Ids) -> str:
    """The answer with each of ``ids`` written as nobody's, less what the server makes anew for every object:
    its ETag and its times."""
    body = {k: v for k, v in answer.json.items() if k not in ("etag", "created_at", "updated_at")}
    headers = {k: v for k, v in answer.headers.items() if k != "etag"}
    return other_accounts_ids_are_nobodys(HttpAnswer(answer.status, headers, json.dumps(body)), ids)


@pytest.mark.parametrize("route", routes("own object"))
def test_creating_an_object_under_an_id_another_account_uses_makes_the_callers_own(
    changeable_world: World, route: tuple[str, str]
) -> None:
    world, spec = changeable_world, ROUTES[route]
    adas_path = f"{route[1]}/{spec.call(world.ada.ids).json_body['id']}"
    adas_object = world.gateway.send(world.ada.admin, Call("GET", adas_path))

    with_adas_id = world.gateway.send(world.bob.admin, spec.call(world.ada.ids))
    with_nobodys_id = world.gateway.send(world.bob.admin, spec.call(NOBODY))

    assert (with_adas_id.status, with_adas_id.headers["location"]) == (201, adas_path)
    assert without_server_made_fields(with_adas_id, world.ada.ids) == without_server_made_fields(
        with_nobodys_id, NOBODY
    )
    assert world.gateway.send(world.bob.admin, Call("GET", adas_path)).json == with_adas_id.json
    assert world.gateway.send(world.ada.admin, Call("GET", adas_path)).text == adas_object.text


def test_billing_settings_are_each_accounts_own(changeable_world: World) -> None:
    world = changeable_world
    adas = world.gateway.send(world.ada.admin, Call("PUT", "/v1/settings/billing", BILLING_SETTINGS))

    bobs = world.gateway.send(world.bob.read, Call("GET", "/v1/settings/billing"))
    with_adas_etag, writes = world.send_watching_writes(
        world.bob.admin,
        Call("PUT", "/v1/settings/billing", {"bill_day": 9}, headers={"If-Match": adas.headers["etag"]}),
    )

    assert (adas.status, adas.json["invoice_number_prefix"]) == (200, "ADA-")
    assert (bobs.json["bill_day"], bobs.json["invoice_number_prefix"], bobs.headers["etag"]) == (
        1,
        "INV-",
        '"initial"',
    )
    reason = "is not the current ETag of settings 'billing'; read it again"
    assert with_adas_etag.json == problem(412, f"If-Match: {reason}", ("If-Match", reason))
    assert writes == []
    assert world.gateway.send(world.ada.read, Call("GET", "/v1/settings/billing")).json == adas.json


def test_each_account_reads_its_own_logo(world: World) -> None:
    adas = world.gateway.send(world.ada.read, Call("GET", "/v1/settings/logo"))
    bobs = world.gateway.send(world.bob.read, Call("GET", "/v1/settings/logo"))

    assert (adas.content, bobs.content) == (logo(world.ada.ids), logo(world.bob.ids))
    assert adas.content != bobs.content


def test_a_key_an_account_creates_is_that_accounts_own(changeable_world: World) -> None:
    world = changeable_world
    created, writes = world.send_watching_writes(world.bob.admin, ROUTES["POST", "/v1/api-keys"].call(NOBODY))
    key_id = created.json["key_id"]

    policy = world.gateway.authorize(created.json["key"], Call("GET", "/v1/customers"))
    bobs_keys = world.gateway.send(world.bob.admin, Call("GET", "/v1/api-keys")).json["items"]
    adas_view = world.gateway.send(world.ada.admin, Call("GET", f"/v1/api-keys/{key_id}"))

    assert writes == ["PutItem"]  # the one item of the key, keyed by its id, holding its account
    assert policy["context"] == {"account_id": "acc_bob", "key_id": key_id, "scopes": "read"}
    assert sorted(key["key_id"] for key in bobs_keys) == sorted([*world.bob.key_ids, key_id])
    assert adas_view.json == problem(404, f"api key {key_id!r} not found")


def test_an_idempotency_key_is_remembered_per_account(changeable_world: World) -> None:
    world = changeable_world
    call = Call(
        "POST",
        "/v1/readings",
        quarter_hours(world.ada.ids.meter, "1.5", "2.5", "3.5"),  # 00:00 and 00:15 sent before
        headers={"Idempotency-Key": "hour-0"},
    )

    adas = world.gateway.send(world.ada.ingest, call)
    bobs = world.gateway.send(world.bob.ingest, call)  # the same request, with the same key

    assert adas.json == {"accepted": 1, "duplicates": 2, "rejected": [], "rejected_count": 0, "replaced": 0}
    assert (bobs.status, bobs.json["rejected_count"], bobs.json["rejected"][2]["reason"]) == (
        422,
        3,
        "no meter 'mtr-ada'",
    )
    assert "idempotent-replayed" not in bobs.headers
