"""The isolation matrix's world: API Gateway in front of the two functions on moto, and the two accounts
(Ada's and Bob's) populated with an object of every kind through the API. ``opened_world()`` builds it;
``restore`` puts the tables back after a test that changes them."""

from __future__ import annotations

import base64
import fnmatch
import io
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

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
from meterbill.ports import Stores
from meterbill.services.apikeys import create_account
from meterbill.settings import StorageSettings
from tests.integration.conftest import (
    CATALOG_TABLE,
    READINGS_TABLE,
    REGION,
    Tables,
    _session_with_shared_loader,
)
from tests.unit.api_support import HttpAnswer, LambdaContextStub, answer_of, proxy_event

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

    def authorize(self, key: str, call: Call, *, session: str | None = None) -> dict[str, Any]:
        """``session``: the console's session id, sent as the ``mb_session`` cookie instead of the key."""
        method_arn = f"{API_ARN}/prod/{call.method}{call.path}"
        event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            "resource": call.path,
            "path": call.path,
            "httpMethod": call.method,
            "headers": self._headers(key, call, session),
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

    def send(self, key: str, call: Call, *, session: str | None = None) -> HttpAnswer:
        policy = self.authorize(key, call, session=session)
        event = proxy_event(
            call.method,
            call.path,
            body=call.body,
            base64_encoded=call.file_body is not None,
            headers=self._headers(key, call, session),
            query=call.query or None,
            authorizer={
                **{k: str(v) for k, v in policy["context"].items()},
                "principalId": policy["principalId"],
            },
        )
        return answer_of(self.handler(event, LambdaContextStub()))

    @staticmethod
    def _headers(key: str, call: Call, session: str | None = None) -> dict[str, str]:
        credential = {"Cookie": f"mb_session={session}"} if session else {"Authorization": f"Bearer {key}"}
        headers = {**credential, **call.headers}
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

    def send_watching_writes(
        self, key: str, call: Call, *, session: str | None = None
    ) -> tuple[HttpAnswer, list[str]]:
        """The answer, and the writes DynamoDB applied for the authorizer and the handler meanwhile."""
        self.writes.applied.clear()
        answer = self.gateway.send(key, call, session=session)
        return answer, list(self.writes.applied)


@contextmanager
def opened_world() -> Iterator[World]:
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
