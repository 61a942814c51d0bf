"""Invoices over HTTP on moto's DynamoDB, through the API's Lambda handler: a draft issued now, read back,
re-rated after corrected readings (nothing changes), adjusted by one credit note, adjusted again (nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest

from meterbill.api import dependencies
from meterbill.api.dependencies import Backend
from meterbill.billing.invoice import invoice_id
from meterbill.ports import Stores
from meterbill.services import billrun
from tests.fakes import FakeInvoiceWorkQueue
from tests.integration.conftest import Clock, Tables
from tests.unit.api_support import SETTINGS, ApiClient, no_idempotency_store
from tests.unit.invoicing_support import BERLIN, A, hourly, populate

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

D = Decimal
ALICE = invoice_id(A, "c-alice", date(2026, 1, 15), date(2026, 2, 15))


@pytest.fixture
def api(stores: Stores, clock: Clock) -> Iterator[ApiClient]:
    from functions.ingest.ingest_handler import lambda_handler

    populate(stores, readings_to=datetime(2026, 2, 16, tzinfo=BERLIN))
    dependencies.configure(
        Backend(settings=SETTINGS, stores=stores, idempotency=no_idempotency_store, clock=clock)
    )
    yield ApiClient(lambda_handler, account=A)
    dependencies.reset()


def test_issue_read_rerate_and_adjust_an_invoice_on_dynamodb(
    api: ApiClient, stores: Stores, clock: Clock, tables: Tables
) -> None:
    queue = FakeInvoiceWorkQueue()
    billrun.run(datetime(2026, 2, 16, 1, 0, tzinfo=BERLIN), stores, queue)  # grace not over: a draft
    for item in queue.take():
        billrun.work(item, stores)

    issued = api.post(f"/v1/invoices/{ALICE}/issue")
    read = api.get(f"/v1/invoices/{ALICE}")

    # c-bob (moved out on 25 January) and c-rack (January) were issued by the run: 1 and 2
    assert (issued.status, issued.json["state"], issued.json["number"]) == (200, "issued", "HPO-2026-000003")
    assert read.headers["etag"] == issued.headers["etag"] == '"v2"'
    assert read.json == issued.json
    assert (read.json["total"], read.json["issued_at"]) == ("334.80", "2026-03-01T09:00:00Z")
    assert D(read.json["total"]) == 31 * 24 * (1 + D("0.5")) * D("0.30")  # m-alice and half of common
    stored = tables.catalog(f"account#{A}#invoice", ALICE)
    assert stored is not None and stored["number"] == {"S": "HPO-2026-000003"}

    # m-alice read 0.5 kWh an hour on 20 January, not 1: corrected readings arrive
    day = datetime(2026, 1, 20, tzinfo=BERLIN)
    stores.readings.put_new(
        A, hourly("m-alice", day, datetime(2026, 1, 21, tzinfo=BERLIN), lambda _: D("0.5"))
    )
    clock.advance(days=9)

    rerated = api.post(f"/v1/invoices/{ALICE}/rerate")
    first = api.post(f"/v1/invoices/{ALICE}/adjust")
    second = api.post(f"/v1/invoices/{ALICE}/adjust")
    after = api.get(f"/v1/invoices/{ALICE}")

    assert (rerated.json["charged"], rerated.json["rerated"], rerated.json["difference"]) == (
        "334.80",
        "331.20",
        "-3.60",
    )
    assert [(x["meter_id"], x["quantity"], x["rate"], x["amount"]) for x in rerated.json["lines"]] == [
        ("m-alice", "-12.0", "0.30", "-3.60")  # -24 h * 0.5 kWh at 0.30
    ]
    note = first.json["note"]
    assert first.status == 201
    assert (note["kind"], note["number"], note["corrects"], note["total"]) == (
        "credit_note",
        "HPO-CN-000001",
        ALICE,
        "-3.60",
    )
    assert note["issued_at"] == "2026-03-10T09:00:00Z"
    assert (second.status, second.json["issued"], second.json["note"]) == (200, False, None)
    assert [(n["number"], n["total"]) for n in after.json["notes"]] == [("HPO-CN-000001", "-3.60")]
    assert after.headers["etag"] == '"v2"'
    assert json.dumps(
        tables.catalog(f"account#{A}#invoice", ALICE), sort_keys=True, default=str
    ) == json.dumps(stored, sort_keys=True, default=str)
