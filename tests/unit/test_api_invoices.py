"""Invoices over HTTP on the fakes: listing and reading them, issuing and voiding drafts, re-rating (nothing
changes) and adjusting (one note, then nothing), settlements, the accounting export byte for byte, and a
customer's charges over time. The portfolio is ``tests/unit/invoicing_support.py`` (account ``hpo``, Berlin,
1 kWh an hour on every meter, 0.30 EUR/kWh flat); the API's clock is the fakes' 2026-03-01T12:00Z."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from meterbill.billing.invoice import invoice_id
from meterbill.ports import AccountRecord, ReratingCandidate, RunningCost, UsageSoFar
from meterbill.services import billrun
from tests.fakes import FakeInvoiceWorkQueue, FakeStores, fixed_clock
from tests.unit.api_support import ApiClient, configure_backend, problem
from tests.unit.charges_support import add_grid_customer
from tests.unit.invoicing_support import BERLIN, A, hourly, portfolio

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

D = Decimal
OTHER = "acc_other"
RUN_AT = datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN)  # bill day 15 + 2 days' grace: issued
BEFORE_GRACE = datetime(2026, 2, 16, 1, 0, tzinfo=BERLIN)  # periods ended, grace not over: drafts
ALICE = invoice_id(A, "c-alice", date(2026, 1, 15), date(2026, 2, 15))
JAN15_FEB1, FEB1_FEB15 = 17 * 24, 14 * 24  # hours (Berlin, no DST change)


@pytest.fixture
def stores() -> Iterator[FakeStores]:
    from meterbill.api import dependencies

    fakes = portfolio()
    fakes.accounts.create(AccountRecord(OTHER, OTHER, fixed_clock()))
    configure_backend(fakes)
    try:
        yield fakes
    finally:
        dependencies.reset()


@pytest.fixture
def api(stores: FakeStores) -> ApiClient:
    from functions.ingest.ingest_handler import lambda_handler

    return ApiClient(lambda_handler, account=A)


def run(stores: FakeStores, now: datetime) -> None:
    queue = FakeInvoiceWorkQueue()
    billrun.run(now, stores.ports(), queue)
    for item in queue.take():
        billrun.work(item, stores.ports())


def correct_alice_on_jan_20(stores: FakeStores) -> None:
    """Corrected readings for m-alice on 20 January: 0.5 kWh an hour instead of 1."""
    day, following = datetime(2026, 1, 20, tzinfo=BERLIN), datetime(2026, 1, 21, tzinfo=BERLIN)
    stores.readings.put_new(A, hourly("m-alice", day, following, lambda _: D("0.5")))


# --- reading ------------------------------------------------------------------------------------------------


def test_an_issued_invoice_reads_with_its_lines_totals_number_and_etag(api, stores):
    run(stores, RUN_AT)

    answer = api.get(f"/v1/invoices/{ALICE}")

    assert answer.status == 200
    assert answer.headers["etag"] == '"v2"'  # written as a draft, then issued
    document = answer.json
    assert {k: document[k] for k in ("id", "kind", "state", "number", "customer_id", "currency")} == {
        "id": ALICE,
        "kind": "invoice",
        "state": "issued",
        "number": "HPO-2026-000001",
        "customer_id": "c-alice",
        "currency": "EUR",
    }
    assert (document["period_start"], document["period_end"], document["etag"]) == (
        "2026-01-15",
        "2026-02-15",
        "v2",
    )
    assert (document["subtotal"], document["taxes"], document["total"]) == ("334.80", "0.00", "334.80")
    assert D(document["total"]) == (JAN15_FEB1 + FEB1_FEB15) * D("1.5") * D("0.30")
    assert [
        (x["meter_id"], x["start"], x["end"], x["quantity"], x["rate"], x["amount"])
        for x in document["lines"]
    ] == [
        ("common", "2026-01-15", "2026-02-01", "204.0", "0.30", "61.20"),  # 17 * 24 * 0.5 kWh
        ("common", "2026-02-01", "2026-02-15", "168.0", "0.30", "50.40"),  # 14 * 24 * 0.5 kWh
        ("m-alice", "2026-01-15", "2026-02-01", "408", "0.30", "122.40"),
        ("m-alice", "2026-02-01", "2026-02-15", "336", "0.30", "100.80"),
    ]
    assert [(u["meter_id"], u["total"]) for u in document["meter_usage"]] == [
        ("common", "372.0"),
        ("m-alice", "744"),
    ]
    assert (document["issued_at"], document["notes"], document["rerating_candidates"]) == (
        "2026-02-17T01:00:00+01:00",
        [],
        [],
    )


def test_an_invoice_shows_its_rerating_candidates(api, stores):
    run(stores, RUN_AT)
    received = datetime(2026, 2, 25, 8, 0, tzinfo=UTC)
    stores.invoices.add_rerating_candidate(
        A,
        ReratingCandidate(
            ALICE,
            "m-alice",
            datetime(2026, 1, 20, tzinfo=BERLIN),
            datetime(2026, 1, 21, tzinfo=BERLIN),
            received,
        ),
    )

    candidates = api.get(f"/v1/invoices/{ALICE}").json["rerating_candidates"]

    assert candidates == [
        {
            "meter_id": "m-alice",
            "start": "2026-01-20T00:00:00+01:00",
            "end": "2026-01-21T00:00:00+01:00",
            "received_at": "2026-02-25T08:00:00Z",
        }
    ]


def test_invoices_are_listed_by_customer_and_state_page_by_page(api, stores):
    run(stores, RUN_AT)

    alice = api.get("/v1/invoices", customer_id="c-alice")
    first = api.get("/v1/invoices", state="issued", limit="3")
    second = api.get("/v1/invoices", state="issued", limit="3", cursor=first.json["next_cursor"])
    drafts = api.get("/v1/invoices", state="draft")
    january = api.get("/v1/invoices", **{"from": "2026-01-01", "to": "2026-01-15"})

    assert [(i["customer_id"], i["number"], i["total"]) for i in alice.json["items"]] == [
        ("c-alice", "HPO-2026-000001", "334.80")
    ]
    assert "lines" not in alice.json["items"][0]
    numbers = [i["number"] for i in first.json["items"] + second.json["items"]]
    assert sorted(numbers) == [f"HPO-2026-00000{n}" for n in range(1, 6)]
    assert second.json["next_cursor"] is None
    assert drafts.json == {"items": [], "next_cursor": None}
    assert [i["customer_id"] for i in january.json["items"]] == ["c-rack"]  # the only period from 1 January


def test_a_bad_date_or_state_filter_is_refused_naming_it(api, stores):
    bad_from = api.get("/v1/invoices", **{"from": "2026-02-30"})
    bad_state = api.get("/v1/invoices", state="paid")

    assert bad_from.status == 422 and bad_from.json["errors"][0]["field"] == "from"
    assert bad_state.status == 422 and bad_state.json["errors"][0]["field"] == "state"


def test_another_accounts_invoice_is_not_found_and_not_listed(api, stores):
    run(stores, RUN_AT)
    other = api.as_key(OTHER, "admin")

    assert other.get(f"/v1/invoices/{ALICE}").status == 404
    assert other.post(f"/v1/invoices/{ALICE}/void").status == 404
    assert other.post(f"/v1/invoices/{ALICE}/rerate").status == 404
    assert other.get("/v1/invoices").json == {"items": [], "next_cursor": None}


def test_a_read_key_reads_invoices_but_does_not_issue_them(api, stores):
    run(stores, BEFORE_GRACE)
    reader = api.as_key(A, "read")

    assert reader.get(f"/v1/invoices/{ALICE}").status == 200
    assert reader.post(f"/v1/invoices/{ALICE}/issue").status == 403
    assert stores.invoices.get(A, ALICE).state == "draft"


# --- issue and void ---------------------------------------------------------------------------------------


def test_a_draft_is_issued_now_once(api, stores):
    run(stores, BEFORE_GRACE)  # issues c-bob's (moved out 25 January) and c-rack's (January): numbers 1 and 2
    assert stores.invoices.get(A, ALICE).state == "draft"

    first = api.post(f"/v1/invoices/{ALICE}/issue")
    again = api.post(f"/v1/invoices/{ALICE}/issue")

    assert (first.status, first.json["state"], first.json["number"]) == (200, "issued", "HPO-2026-000003")
    assert first.json["issued_at"] == "2026-03-01T12:00:00Z"
    assert again.json == first.json
    assert stores.invoices.counters[(A, "invoice")] == 3


def test_voiding_a_draft_voids_it_and_an_issued_invoice_cannot_be_voided(api, stores):
    run(stores, BEFORE_GRACE)
    dave = invoice_id(A, "c-dave", date(2026, 1, 15), date(2026, 2, 15))
    api.post(f"/v1/invoices/{ALICE}/issue")

    voided = api.post(f"/v1/invoices/{dave}/void")
    refused = api.post(f"/v1/invoices/{ALICE}/void")
    issue_void = api.post(f"/v1/invoices/{dave}/issue")

    assert (voided.status, voided.json["state"], voided.json["number"]) == (200, "void", None)
    assert refused.status == 409
    assert refused.json == problem(
        409,
        f"state: invoice {ALICE!r} is issued: cannot void",
        ("state", f"invoice {ALICE!r} is issued: cannot void"),
    )
    assert refused.content_type == "application/problem+json"
    assert issue_void.status == 409 and issue_void.json["errors"][0]["field"] == "state"
    assert stores.invoices.get(A, ALICE).state == "issued"


def test_an_unknown_invoice_is_not_found(api, stores):
    answer = api.post("/v1/invoices/inv_nothing/issue")

    assert answer.status == 404 and answer.content_type == "application/problem+json"


# --- corrections ------------------------------------------------------------------------------------------


def test_rerate_returns_the_difference_line_by_line_and_changes_nothing(api, stores):
    run(stores, RUN_AT)
    before = stores.invoices.get(A, ALICE)
    correct_alice_on_jan_20(stores)

    answer = api.post(f"/v1/invoices/{ALICE}/rerate")

    assert answer.status == 200
    assert {k: v for k, v in answer.json.items() if k != "lines"} == {
        "invoice_id": ALICE,
        "number": "HPO-2026-000001",
        "currency": "EUR",
        "charged": "334.80",
        "rerated": "331.20",  # 334.80 - 24 * 0.5 * 0.30
        "kind": "credit_note",
        "difference": "-3.60",
    }
    assert [
        (x["meter_id"], x["start"], x["end"], x["quantity"], x["rate"], x["amount"])
        for x in answer.json["lines"]
    ] == [
        ("m-alice", "2026-01-15", "2026-02-01", "-12.0", "0.30", "-3.60"),  # -24 h * 0.5 kWh, at 0.30
    ]
    assert stores.invoices.get(A, ALICE) == before


def test_adjust_issues_one_credit_note_and_a_second_adjust_issues_nothing(api, stores):
    run(stores, RUN_AT)
    before = json.dumps(stores.invoices.get(A, ALICE).body, sort_keys=True)
    correct_alice_on_jan_20(stores)

    first = api.post(f"/v1/invoices/{ALICE}/adjust")
    second = api.post(f"/v1/invoices/{ALICE}/adjust")
    rerated_again = api.post(f"/v1/invoices/{ALICE}/rerate")
    original = api.get(f"/v1/invoices/{ALICE}").json

    assert first.status == 201
    note = first.json["note"]
    assert first.headers["location"] == f"/v1/invoices/{note['id']}"
    assert (first.json["issued"], first.json["detail"]) == (True, "credit note HPO-CN-000001 issued")
    assert (note["kind"], note["state"], note["number"], note["corrects"], note["total"]) == (
        "credit_note",
        "issued",
        "HPO-CN-000001",
        ALICE,
        "-3.60",  # -24 * 0.5 kWh * 0.30
    )
    assert (second.status, second.json) == (
        200,
        {
            "issued": False,
            "detail": f"invoice {ALICE!r} comes to what was charged: no note issued",
            "note": None,
        },
    )
    assert {k: rerated_again.json[k] for k in ("charged", "rerated", "kind", "difference", "lines")} == {
        "charged": "331.20",  # 334.80 invoiced - 3.60 credited
        "rerated": "331.20",
        "kind": None,
        "difference": "0.00",
        "lines": [],
    }
    assert [(n["id"], n["number"], n["total"]) for n in original["notes"]] == [
        (note["id"], "HPO-CN-000001", "-3.60")
    ]
    assert json.dumps(stores.invoices.get(A, ALICE).body, sort_keys=True) == before
    assert stores.invoices.counters[(A, "credit_note")] == 1


def test_a_draft_cannot_be_rerated(api, stores):
    run(stores, BEFORE_GRACE)

    answer = api.post(f"/v1/invoices/{ALICE}/rerate")

    assert answer.status == 409
    assert answer.json["errors"] == [
        {"field": "state", "reason": f"invoice {ALICE!r} is draft invoice: cannot re-rate"}
    ]


# --- settlements ------------------------------------------------------------------------------------------


def test_a_settlement_invoices_the_days_asked_for(api, stores):
    answer = api.post(
        "/v1/invoices",
        {"customer_id": "c-bob", "from": "2026-01-15", "to": "2026-01-20", "reason": "move-out"},
    )

    bob = invoice_id(A, "c-bob", date(2026, 1, 15), date(2026, 1, 20))
    assert answer.status == 201
    assert answer.headers["location"] == f"/v1/invoices/{bob}"
    assert (answer.json["state"], answer.json["number"], answer.json["reason"]) == (
        "issued",  # grace (2 days after 20 January) is long over at 1 March
        "HPO-2026-000001",
        "move-out",
    )
    assert D(answer.json["total"]) == 5 * 24 * D("0.5") * D("0.30")  # half the common area, 5 days


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_id": "c-bob", "from": "2026-01-20", "to": "2026-01-15", "reason": "x"}, "to"),
        ({"customer_id": "c-bob", "from": "2026-01-32", "to": "2026-02-15", "reason": "x"}, "from"),
        ({"customer_id": "c-bob", "from": "2026-01-15", "to": "2026-01-20"}, "reason"),
        (
            {"customer_id": "c-bob", "from": "2026-01-15", "to": "2026-01-20", "reason": "x", "total": 1},
            "total",
        ),
    ],
)
def test_a_bad_settlement_is_refused_naming_the_field(api, stores, body, field):
    answer = api.post("/v1/invoices", body)

    assert answer.status == 422
    assert answer.json["errors"][0]["field"] == field
    assert stores.invoices.items == {}


def test_a_settlement_of_an_unknown_customer_is_not_found(api, stores):
    answer = api.post(
        "/v1/invoices", {"customer_id": "c-nobody", "from": "2026-01-15", "to": "2026-01-20", "reason": "x"}
    )

    assert answer.status == 404


# --- export -----------------------------------------------------------------------------------------------


def test_the_export_has_one_csv_line_per_invoice_line_of_the_month(api, stores):
    api.post(
        "/v1/invoices",
        {"customer_id": "c-bob", "from": "2026-01-15", "to": "2026-01-25", "reason": "move-out"},
    )
    run(stores, RUN_AT)  # February: the others' invoices are issued on 17 February
    correct_alice_on_jan_20(stores)
    api.post(f"/v1/invoices/{ALICE}/adjust")

    march = api.get("/v1/invoices/export", month="2026-03")

    assert march.status == 200
    assert march.content_type == "text/csv; charset=utf-8"
    assert march.headers["content-disposition"] == 'attachment; filename="invoices-2026-03.csv"'
    assert march.text == (
        "number,kind,issue_date,customer_id,period_start,period_end,meter_id,component,quantity,unit,rate,"
        "amount,tax,currency\r\n"
        # 10 days * 24 h * 0.5 kWh = 120.0 kWh at 0.30
        "HPO-2026-000001,invoice,2026-03-01,c-bob,2026-01-15,2026-01-25,common,energy,120.0,kWh,0.30,36.00,0.00,EUR\r\n"
        # 24 h * -0.5 kWh at 0.30
        "HPO-CN-000001,credit_note,2026-03-01,c-alice,2026-01-15,2026-02-15,m-alice,energy,-12.0,kWh,0.30,-3.60,0.00,EUR\r\n"
    )
    february = api.get("/v1/invoices/export", month="2026-02").text.split("\r\n")
    assert [line.split(",")[0] for line in february[1:-1]] == ["HPO-2026-000002"] * 4 + [
        "HPO-2026-000003"
    ] * 2 + ["HPO-2026-000004"] * 4 + ["HPO-2026-000005"]


def test_an_export_month_that_is_not_yyyy_mm_is_refused_naming_month(api, stores):
    for month in ("2026-13", "2026-1", "march"):
        answer = api.get("/v1/invoices/export", month=month)
        assert (answer.status, answer.json["errors"][0]["field"]) == (422, "month"), month


def test_a_tax_line_is_exported_in_the_tax_column(stores):
    from meterbill.services.invoice_views import export_month

    record = stores.invoices  # the fakes' store; a taxed invoice is built by the core
    run(stores, RUN_AT)
    rack = invoice_id(A, "c-rack", date(2026, 1, 1), date(2026, 2, 1))
    issued = record.items[(A, rack)]
    body = dict(issued.body)
    line = dict(body["lines"][0])
    tax = {
        **line,
        "component": "tax",
        "description": "VAT 20 %",
        "quantity": "223.20",
        "unit": "EUR",
        "rate": "0.20",
        "amount": "44.64",
    }
    body["lines"] = [line, tax]
    record.items[(A, rack)] = type(issued)(
        **{**{f: getattr(issued, f) for f in issued.__dataclass_fields__}, "body": body}
    )

    text = export_month(A, date(2026, 2, 1), record)

    rack_lines = [x for x in text.split("\r\n") if x.startswith("HPO-2026-000005")]
    assert rack_lines == [
        "HPO-2026-000005,invoice,2026-02-17,c-rack,2026-01-01,2026-02-01,m-rack,energy,744,kWh,0.30,223.20,0.00,EUR",
        "HPO-2026-000005,invoice,2026-02-17,c-rack,2026-01-01,2026-02-01,m-rack,tax,223.20,EUR,0.20,0.00,44.64,EUR",
    ]


# --- charges ----------------------------------------------------------------------------------------------


def test_charges_by_month_are_the_preview_bills_of_each_month(api, stores):
    answer = api.get(
        "/v1/customers/c-alice/charges", **{"from": "2026-01-01", "to": "2026-02-15", "resolution": "month"}
    )

    assert answer.status == 200
    assert answer.json == {
        "customer_id": "c-alice",
        "start": "2026-01-01",
        "end": "2026-02-15",
        "resolution": "month",
        "currency": "EUR",
        "total": "334.80",
        "buckets": [
            # assigned from 15 January: 17 days * 24 h * (1 + 0.5) kWh * 0.30
            {
                "start": "2026-01-01",
                "end": "2026-02-01",
                "currency": "EUR",
                "subtotal": "183.60",
                "taxes": "0.00",
                "total": "183.60",
            },
            # 14 days * 24 h * 1.5 kWh * 0.30
            {
                "start": "2026-02-01",
                "end": "2026-02-15",
                "currency": "EUR",
                "subtotal": "151.20",
                "taxes": "0.00",
                "total": "151.20",
            },
        ],
        "running": None,
    }
    assert D("183.60") == 17 * 24 * D("1.5") * D("0.30") and D("151.20") == 14 * 24 * D("1.5") * D("0.30")


def test_charges_by_day_rate_each_day_and_show_the_running_cost(api, stores):
    stores.metering.put_running_cost(
        A,
        RunningCost(
            customer_id="c-alice",
            period_start=date(2026, 2, 15),
            period_end=date(2026, 3, 15),
            as_of=date(2026, 2, 20),
            currency="EUR",
            usage=(UsageSoFar("kWh", D("180.0"), D("0")),),
            cost=D("54.00"),
            projected=D("302.40"),
            computed_at=datetime(2026, 2, 20, 0, 15, tzinfo=UTC),
        ),
    )

    answer = api.get(
        "/v1/customers/c-alice/charges", **{"from": "2026-01-14", "to": "2026-01-16", "resolution": "day"}
    )

    assert [(b["start"], b["end"], b["currency"], b["total"]) for b in answer.json["buckets"]] == [
        ("2026-01-14", "2026-01-15", None, "0"),  # not yet assigned
        ("2026-01-15", "2026-01-16", "EUR", "10.80"),  # 24 h * 1.5 kWh * 0.30
    ]
    assert answer.json["total"] == "10.80"
    assert answer.json["running"] == {
        "period_start": "2026-02-15",
        "period_end": "2026-03-15",
        "as_of": "2026-02-20",
        "currency": "EUR",
        "usage": [{"unit": "kWh", "total": "180.0", "estimated": "0"}],
        "cost": "54.00",
        "projected": "302.40",
        "computed_at": "2026-02-20T00:15:00Z",
    }


def test_charges_by_hour_give_each_day_its_wall_clock_hours(api, stores):
    answer = api.get(
        "/v1/customers/c-alice/charges", **{"from": "2026-01-15", "to": "2026-01-16", "resolution": "hour"}
    )

    assert answer.status == 200
    assert answer.json["resolution"] == "hour" and answer.json["total"] == "10.80"
    (day,) = answer.json["buckets"]
    assert {k: day[k] for k in ("start", "end", "currency", "subtotal", "taxes", "total")} == {
        "start": "2026-01-15",
        "end": "2026-01-16",
        "currency": "EUR",
        "subtotal": "10.80",
        "taxes": "0.00",
        "total": "10.80",
    }
    assert len(day["hours"]) == 24 and day["unallocated"] == []
    # m-alice 1 kWh + half of common's 1 kWh, at 0.30: 0.30 + 0.15 an hour
    assert day["hours"][0] == {
        "start": "2026-01-15T00:00:00+01:00",
        "end": "2026-01-15T01:00:00+01:00",
        "hour": 0,
        "minutes": 60,
        "amount": "0.45",
    }
    assert D("0.45") == D("1") * D("0.30") + D("0.5") * D("0.30")
    assert {h["amount"] for h in day["hours"]} == {"0.45"}


def test_the_charge_sessions_above_the_package_threshold_over_http(api, stores):
    add_grid_customer(stores)

    answer = api.get(
        "/v1/customers/c-grid/charges/sessions", **{"from": "2026-01-10", "to": "2026-01-11", "limit": "1"}
    )

    assert answer.status == 200
    assert answer.json["items"] == [
        {
            "session_id": "node-1@2026-01-10T07:00:00+00:00",
            "meter_id": "node-1",
            "assignment_id": "as-c-grid-node-1",
            "start": "2026-01-10T08:00:00+01:00",
            "end": "2026-01-10T08:45:00+01:00",
            "seconds": 2700,
            "package": 0,
            "description": "Job package",
            "threshold_seconds": "1800",
            "units": 3,
            "unit_seconds": "300",
            "amount": "0.0367",
            "currency": "EUR",
        }
    ]
    assert D("0.0367") == D("0.01") + 3 * D("0.0089")  # 2,700 s: 900 s beyond 1,800 = 3 started 300 s
    following = api.get(
        "/v1/customers/c-grid/charges/sessions",
        **{"from": "2026-01-10", "to": "2026-01-11", "limit": "1", "cursor": answer.json["next_cursor"]},
    )
    assert [(s["start"], s["seconds"], s["units"], s["amount"]) for s in following.json["items"]] == [
        ("2026-01-10T14:00:00+01:00", 2220, 2, "0.0278")  # 0.01 + 2 * 0.0089: 420 s beyond = 2 units
    ]
    assert following.json["next_cursor"] is None


def test_the_charge_sessions_of_a_customer_without_packages_are_none(api, stores):
    answer = api.get("/v1/customers/c-alice/charges/sessions", **{"from": "2026-01-15", "to": "2026-01-16"})

    assert (answer.status, answer.json) == (200, {"items": [], "next_cursor": None})


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-01-05", "to": "2026-01-02"}, "to"),
        ({"from": "2026-01-01", "to": "2026-06-01"}, "to"),
        ({"from": "2026-01-01", "to": "2026-01-02", "threshold": "below"}, "threshold"),
        ({"from": "2026-01-01", "to": "2026-01-02", "cursor": "bm90LW91cnM"}, "cursor"),
        ({"to": "2026-01-02"}, "from"),
    ],
)
def test_bad_charge_session_queries_are_refused_naming_the_field(api, stores, query, field):
    answer = api.get("/v1/customers/c-alice/charges/sessions", **query)

    assert answer.status == 422
    assert answer.json["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-01-01", "to": "2026-02-02", "resolution": "hour"}, "to"),
        ({"from": "2026-01-01", "to": "2026-01-02", "resolution": "week"}, "resolution"),
        ({"from": "2026-01-05", "to": "2026-01-02"}, "to"),
        ({"from": "2026-01-01", "to": "2026-06-01", "resolution": "day"}, "to"),
        ({"from": "01/01/2026", "to": "2026-01-02"}, "from"),
        ({"to": "2026-01-02"}, "from"),
    ],
)
def test_bad_charges_queries_are_refused_naming_the_field(api, stores, query, field):
    answer = api.get("/v1/customers/c-alice/charges", **query)

    assert answer.status == 422
    assert answer.json["errors"][0]["field"] == field
