"""The deployed code end to end on moto: each request goes through the REQUEST authorizer (a real API key),
then the API handler, built from the environment as in Lambda, and what DynamoDB holds afterwards is checked
item by item."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from meterbill.adapters.dynamodb import DynamoDb, build_stores, create_tables
from meterbill.adapters.rating import rating_stores
from meterbill.api import authorizer, dependencies
from meterbill.services.apikeys import create_account
from meterbill.services.rating import rating_pass
from meterbill.settings import StorageSettings
from tests.integration.conftest import CATALOG_TABLE, READINGS_TABLE, REGION, Tables
from tests.unit.api_support import HttpAnswer, LambdaContextStub, answer_of, proxy_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

IDEMPOTENCY_TABLE = "meterbill-idempotency"
ACCOUNT = "acc_demo"
API_ARN = "arn:aws:execute-api:eu-central-1:123456789012:api0123456"


class Gateway:
    """What API Gateway does with a request: the authorizer first (401 when it refuses, 403 when its policy
    does not cover the method), then the handler with the authorizer's context as strings."""

    def __init__(self) -> None:
        from functions.ingest import authorizer_handler, ingest_handler

        self.authorizer = authorizer_handler.lambda_handler
        self.handler = ingest_handler.lambda_handler

    def request(
        self,
        key: str,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> HttpAnswer:
        all_headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            **(headers or {}),
        }
        method_arn = f"{API_ARN}/prod/{method}{path}"
        try:
            policy = self.authorizer(
                {
                    "type": "REQUEST",
                    "methodArn": method_arn,
                    "path": path,
                    "httpMethod": method,
                    "headers": all_headers,
                },
                LambdaContextStub(function_name="meterbill-authorizer"),
            )
        except Exception as refusal:
            assert str(refusal) == "Unauthorized"
            return HttpAnswer(401, {}, '{"message":"Unauthorized"}')
        (statement,) = policy["policyDocument"]["Statement"]
        if statement["Effect"] != "Allow" or not fnmatch.fnmatchcase(method_arn, statement["Resource"]):
            return HttpAnswer(403, {}, '{"message":"User is not authorized to access this resource"}')
        context = {name: str(value) for name, value in policy["context"].items()}
        event = proxy_event(
            method,
            path,
            body=None if json_body is None else json.dumps(json_body),
            headers=all_headers,
            query=query,
            authorizer={**context, "principalId": policy["principalId"]},
        )
        return answer_of(self.handler(event, LambdaContextStub()))


@pytest.fixture
def deployed(aws: None, storage_settings: StorageSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The three tables on moto, the functions' environment as deployed, and account acc_demo; yields the
    account's first admin key."""
    for name, value in {
        "CATALOG_TABLE": CATALOG_TABLE,
        "READINGS_TABLE": READINGS_TABLE,
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    create_tables(storage_settings)
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    stores = build_stores(storage_settings)
    _, admin_key = create_account("Demo", stores.accounts, stores.keys, datetime.now(UTC), account_id=ACCOUNT)
    dependencies.reset()
    authorizer.configure(None)
    yield admin_key
    dependencies.reset()
    authorizer.configure(None)


@pytest.fixture
def gateway(deployed: str) -> Gateway:
    return Gateway()


def new_key(gateway: Gateway, admin_key: str, *scopes: str) -> str:
    answer = gateway.request(
        admin_key, "POST", "/v1/api-keys", {"name": "+".join(scopes), "scopes": list(scopes)}
    )
    assert answer.status == 201
    return str(answer.json["key"])


def add_meter(gateway: Gateway, admin_key: str) -> None:
    site = {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}
    meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    assert gateway.request(admin_key, "POST", "/v1/sites", site).status == 201
    assert gateway.request(admin_key, "POST", "/v1/meters", meter).status == 201


def quarter_hour(minute: int, value: str) -> dict[str, Any]:
    at = f"2026-03-01T00:{minute:02d}:00Z"
    return {"meter_id": "mtr-1", "timestamp": at, "value": value, "type": "interval", "interval_minutes": 15}


def test_readings_go_from_a_collectors_key_into_one_bucket_item_and_come_back_as_usage(
    gateway: Gateway, deployed: str, tables: Tables
) -> None:
    add_meter(gateway, deployed)
    collector = new_key(gateway, deployed, "ingest")
    batch = {"readings": [quarter_hour(0, "1.25"), quarter_hour(15, "0.5"), quarter_hour(30, "12345.678")]}

    first = gateway.request(collector, "POST", "/v1/readings", batch)
    again = gateway.request(collector, "POST", "/v1/readings", batch)

    assert first.json == {"accepted": 3, "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0}
    assert again.json == {"accepted": 0, "duplicates": 3, "rejected": [], "rejected_count": 0, "replaced": 0}
    assert tables.all(READINGS_TABLE) == [
        {
            "series": {"S": f"{ACCOUNT}#mtr-1"},
            "bucket": {"S": "2026-03-01T00:00Z#i15"},
            "--A": {"N": "1.25"},
            "-EA": {"N": "0.5"},
            "-TA": {"N": "12345.678"},
            "version": {"N": "1"},
        }
    ]
    reader = new_key(gateway, deployed, "read")
    usage = gateway.request(
        reader,
        "GET",
        "/v1/meters/mtr-1/usage",
        query={"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T01:00:00Z", "resolution": "hour"},
    )
    assert (usage.status, usage.json["total"]) == (
        200,
        "12347.428",
    )  # 1.25 + 0.5 + 12345.678, the 4th missing


def test_a_customer_is_created_read_replaced_and_deleted_as_one_catalog_item(
    gateway: Gateway, deployed: str, tables: Tables
) -> None:
    created = gateway.request(
        deployed,
        "POST",
        "/v1/customers",
        {"id": "cus-1", "name": "Ada", "bill_day": 5, "language": "de", "vat_id": "DE123456789"},
    )

    item = tables.catalog(f"account#{ACCOUNT}#customer", "cus-1")
    assert item is not None
    assert json.loads(item["body"]["S"]) == {
        "id": "cus-1",
        "account_id": ACCOUNT,
        "name": "Ada",
        "emails": [],
        "phone": None,
        "address": None,
        "bill_title": None,
        "logo_ref": None,
        "attributes": {},
        "bill_day": 5,
        "language": "de",
        "vat_id": "DE123456789",
        "buyer_reference": None,
    }
    assert created.headers["etag"] == f'"{item["etag"]["S"]}"'
    assert gateway.request(deployed, "GET", "/v1/customers/cus-1").json["name"] == "Ada"

    stale = gateway.request(
        deployed, "PUT", "/v1/customers/cus-1", {"name": "Eve"}, headers={"If-Match": '"x"'}
    )
    replaced = gateway.request(
        deployed,
        "PUT",
        "/v1/customers/cus-1",
        {"name": "Ada L."},
        headers={"If-Match": created.headers["etag"]},
    )

    assert stale.status == 412
    assert replaced.status == 200
    item = tables.catalog(f"account#{ACCOUNT}#customer", "cus-1")
    assert item is not None
    assert (json.loads(item["body"]["S"])["name"], replaced.headers["etag"]) == (
        "Ada L.",
        f'"{item["etag"]["S"]}"',
    )

    deleted = gateway.request(
        deployed, "DELETE", "/v1/customers/cus-1", headers={"If-Match": replaced.headers["etag"]}
    )

    assert deleted.status == 204
    assert tables.catalog(f"account#{ACCOUNT}#customer", "cus-1") is None


def test_another_accounts_key_finds_nothing_of_this_account(
    gateway: Gateway, deployed: str, storage_settings: StorageSettings
) -> None:
    gateway.request(deployed, "POST", "/v1/customers", {"id": "cus-1", "name": "Ada"})
    stores = build_stores(storage_settings)
    _, other_admin = create_account(
        "Other", stores.accounts, stores.keys, datetime.now(UTC), account_id="acc_other"
    )

    read = gateway.request(other_admin, "GET", "/v1/customers/cus-1")
    listed = gateway.request(other_admin, "GET", "/v1/customers")

    assert (read.status, read.json["detail"]) == (404, "customer 'cus-1' not found")
    assert listed.json == {"items": [], "next_cursor": None}


def test_an_unknown_or_revoked_key_is_refused_by_the_authorizer(gateway: Gateway, deployed: str) -> None:
    collector = new_key(gateway, deployed, "ingest")
    key_id = collector.split("_")[1]
    gateway.request(deployed, "DELETE", f"/v1/api-keys/{key_id}")

    revoked = gateway.request(collector, "POST", "/v1/readings", {"readings": [quarter_hour(0, "1")]})
    unknown = gateway.request("mb_0123456789abcdef_" + "A" * 43, "GET", "/v1/customers")

    assert (revoked.status, unknown.status) == (401, 401)


def test_an_idempotency_key_answers_the_first_answer_again_from_the_idempotency_table(
    gateway: Gateway, deployed: str, tables: Tables
) -> None:
    add_meter(gateway, deployed)
    batch = {"readings": [quarter_hour(0, "1.25")]}

    first = gateway.request(deployed, "POST", "/v1/readings", batch, headers={"Idempotency-Key": "hour-0"})
    again = gateway.request(deployed, "POST", "/v1/readings", batch, headers={"Idempotency-Key": "hour-0"})
    other = gateway.request(
        deployed,
        "POST",
        "/v1/readings",
        {"readings": [quarter_hour(15, "1")]},
        headers={"Idempotency-Key": "hour-0"},
    )

    assert (
        first.json
        == again.json
        == {"accepted": 1, "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0}
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert (other.status, other.json["errors"][0]["field"]) == (422, "Idempotency-Key")
    (record,) = tables.all(IDEMPOTENCY_TABLE)
    assert record["status"] == {"S": "COMPLETED"}
    assert record["id"]["S"].startswith("POST /v1/readings#")
    assert json.loads(record["data"]["S"]) == {"status": 200, "body": first.json}


def test_a_meters_new_limits_mark_its_rated_days_and_the_next_pass_rates_them_again(
    gateway: Gateway, deployed: str, tables: Tables, storage_settings: StorageSettings
) -> None:
    add_meter(gateway, deployed)
    collector = new_key(gateway, deployed, "ingest")
    batch = {"readings": [quarter_hour(minute, "1.25") for minute in (0, 15, 30, 45)]}
    assert gateway.request(collector, "POST", "/v1/readings", batch).status == 200
    rating = rating_stores(DynamoDb(storage_settings))
    at = datetime(2026, 3, 1, 2, tzinfo=UTC)
    assert rating_pass(at, rating).days_written == 1  # local 1 March (Berlin), its 01:00 hour
    assert rating.readings.pending_marks(limit=10) == []
    meter = {"site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}

    replaced = gateway.request(deployed, "PUT", "/v1/meters/mtr-1", {**meter, "limits": {"max_power": "1"}})

    assert replaced.status == 200
    # Local 1 March is UTC 28 February 23:00 to 1 March 23:00: the UTC days 28 February to 2 March, each
    # marked before the meter was written and after; shard 1 = CRC-32 of "acc_demo#mtr-1" % 16.
    marks = [item for item in tables.all(CATALOG_TABLE) if item["pk"]["S"].startswith("rating-marks")]
    assert marks == [
        {"pk": {"S": "rating-marks#1"}, "sk": {"S": f"{ACCOUNT}#mtr-1#{day}"}, "changes": {"N": "2"}}
        for day in ("2026-02-28", "2026-03-01", "2026-03-02")
    ]
    again = rating_pass(at + timedelta(minutes=15), rating)
    assert (again.days_written, again.marks_cleared, again.failures) == (1, 3, [])
    (day,) = rating.metering.days(ACCOUNT, "mtr-1", date(2026, 3, 1), date(2026, 3, 2))
    # 1.25 kWh in 15 minutes is 5 kW, over max_power 1: the hour is not usable now (no like day before it).
    assert (day.qualities[4:8], day.total().total) == ("NNNN", 0)
    unchanged = gateway.request(deployed, "PUT", "/v1/meters/mtr-1", {**meter, "limits": {"max_power": "1"}})
    assert unchanged.status == 200
    assert rating.readings.pending_marks(limit=10) == []  # the same settings again: nothing to rate again
