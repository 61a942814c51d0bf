"""The bill run and its worker on the fakes: a portfolio billed by hand-computed totals, drafts waiting for
their grace, settlements, and invoices issued exactly once whatever crashes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from meterbill.billing.invoice import Invoice, invoice_id
from meterbill.errors import InvalidInputError
from meterbill.ports import InvoiceRecord, InvoiceWork, Stores
from meterbill.services import billrun, invoicing
from tests.fakes import FakeInvoiceWorkQueue, FakeStores
from tests.unit.invoicing_support import BERLIN, A, add_customer, add_meter, assign, portfolio, tariff

D = Decimal
RATE = {"flat": D("0.30"), "green": D("0.20"), "formula": D("0.25")}
JAN15_FEB15 = 31 * 24  # hours of 2026-01-15 .. 2026-02-15 in Berlin (no DST change)
JAN15_FEB1, FEB1_FEB15 = 17 * 24, 14 * 24


def run_and_work(stores: FakeStores, now: datetime) -> list[InvoiceRecord]:
    queue = FakeInvoiceWorkQueue()
    billrun.run(now, stores.ports(), queue)
    return [billrun.work(item, stores.ports()) for item in queue.take()]


def body(record: InvoiceRecord) -> Invoice:
    return Invoice.from_json(record.body)


def test_the_portfolio_is_invoiced_on_each_customers_bill_day_to_the_cent() -> None:
    stores = portfolio()
    now = datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN)  # bill day 15 + 2 days' grace has begun

    records = run_and_work(stores, now)

    assert [(r.customer_id, r.period_start, r.period_end, r.state, r.number) for r in records] == [
        ("c-alice", date(2026, 1, 15), date(2026, 2, 15), "issued", "HPO-2026-000001"),
        ("c-bob", date(2026, 1, 15), date(2026, 1, 25), "issued", "HPO-2026-000002"),  # moved out
        ("c-carol", date(2026, 1, 15), date(2026, 2, 15), "issued", "HPO-2026-000003"),
        ("c-dave", date(2026, 1, 15), date(2026, 2, 15), "issued", "HPO-2026-000004"),
        ("c-rack", date(2026, 1, 1), date(2026, 2, 1), "issued", "HPO-2026-000005"),  # colocation: the 1st
    ]
    totals = {r.customer_id: body(r).total for r in records}
    assert totals == {
        # own meter, and half the common area's meter
        "c-alice": JAN15_FEB15 * RATE["flat"] + JAN15_FEB15 * D("0.5") * RATE["flat"],
        # half the common area for the 10 days until moving out
        "c-bob": 10 * 24 * D("0.5") * RATE["flat"],
        # formula: 0.25 for a meter of 3 phases
        "c-carol": JAN15_FEB15 * RATE["formula"],
        # two meters on two tariffs
        "c-dave": JAN15_FEB15 * RATE["flat"] + JAN15_FEB15 * RATE["green"],
        "c-rack": 31 * 24 * RATE["flat"],
    }
    assert totals["c-alice"] == D("334.80")
    alice = body(records[0])
    assert [
        (line.meter_id, line.start, line.end, line.quantity, line.rate, line.amount) for line in alice.lines
    ] == [
        ("common", date(2026, 1, 15), date(2026, 2, 1), JAN15_FEB1 * D("0.5"), D("0.30"), D("61.20")),
        ("common", date(2026, 2, 1), date(2026, 2, 15), FEB1_FEB15 * D("0.5"), D("0.30"), D("50.40")),
        ("m-alice", date(2026, 1, 15), date(2026, 2, 1), D(JAN15_FEB1), D("0.30"), D("122.40")),
        ("m-alice", date(2026, 2, 1), date(2026, 2, 15), D(FEB1_FEB15), D("0.30"), D("100.80")),
    ]
    assert [(u.meter_id, u.total) for u in alice.meter_usage] == [
        ("common", JAN15_FEB15 * D("0.5")),
        ("m-alice", D(JAN15_FEB15)),
    ]
    assert (alice.number, alice.issued_at, alice.currency) == ("HPO-2026-000001", now, "EUR")

    # The next pass finds nothing to do.
    queue = FakeInvoiceWorkQueue()
    assert billrun.run(datetime(2026, 2, 17, 2, 0, tzinfo=BERLIN), stores.ports(), queue).sent == 0


def test_drafts_wait_for_the_grace_period_and_are_recomputed_on_every_pass() -> None:
    stores = portfolio()
    first = run_and_work(stores, datetime(2026, 2, 15, 0, 30, tzinfo=BERLIN))
    assert [(r.customer_id, r.state, r.number) for r in first] == [
        ("c-alice", "draft", None),
        ("c-bob", "issued", "HPO-2026-000001"),  # its last period ended at the move-out: grace is over
        ("c-carol", "draft", None),
        ("c-dave", "draft", None),
        ("c-rack", "issued", "HPO-2026-000002"),  # its period ended on the 1st: grace is over
    ]
    # A late reading for m-carol counts: the draft is recomputed on the next pass.
    from tests.unit.invoicing_support import hourly

    late = hourly("m-carol", datetime(2026, 2, 10, tzinfo=BERLIN), datetime(2026, 2, 10, 1, tzinfo=BERLIN),
                  lambda _: D("5"))  # fmt: skip
    stores.readings.put_new(A, late)
    second = run_and_work(stores, datetime(2026, 2, 16, 12, 0, tzinfo=BERLIN))
    carol = next(r for r in second if r.customer_id == "c-carol")
    assert (carol.state, body(carol).total) == ("draft", (JAN15_FEB15 + 4) * D("0.25"))
    assert carol.version == 2
    unchanged = next(r for r in second if r.customer_id == "c-alice")
    assert unchanged.version == 1  # the same invoice again: not rewritten
    assert (
        billrun.run(datetime(2026, 2, 16, 12, 0, tzinfo=BERLIN), stores.ports(), FakeInvoiceWorkQueue()).sent
        == 3  # the three drafts
    )
    third = run_and_work(stores, datetime(2026, 2, 17, 0, 0, tzinfo=BERLIN))
    assert [(r.customer_id, r.number) for r in third] == [
        ("c-alice", "HPO-2026-000003"),
        ("c-carol", "HPO-2026-000004"),
        ("c-dave", "HPO-2026-000005"),
    ]


def test_a_tariff_in_another_currency_is_refused_naming_it() -> None:
    stores = portfolio()
    from meterbill.services import catalog as catalog_service

    catalog_service.create_tariff(A, {**tariff("usd", "0.10"), "currency": "USD"}, stores.catalog)
    add_customer(stores, "c-eve")
    add_meter(stores, "m-eve")
    assign(stores, "c-eve", "m-eve", "usd", date(2026, 2, 15))

    with pytest.raises(InvalidInputError) as raised:
        invoicing.compute(A, "c-eve", date(2026, 2, 15), date(2026, 2, 19), stores.ports(),
                          datetime(2026, 3, 1, tzinfo=BERLIN))  # fmt: skip
    assert raised.value.field == "tariff.currency"
    assert "tariff 'usd' version 1 is in USD; the account bills in EUR" in raised.value.reason


def test_a_move_out_settlement_voids_the_overlapping_draft_and_the_run_bills_only_the_rest() -> None:
    stores = portfolio()
    run_and_work(stores, datetime(2026, 2, 15, 0, 30, tzinfo=BERLIN))  # c-dave: draft of Jan 15 - Feb 15
    full = invoice_id(A, "c-dave", date(2026, 1, 15), date(2026, 2, 15))
    assert stores.invoices.get(A, full).state == "draft"

    moved_out = datetime(2026, 2, 15, 9, 0, tzinfo=BERLIN)
    settlement = invoicing.settle(
        A, "c-dave", date(2026, 1, 15), date(2026, 2, 1), "move-out", moved_out, stores.ports()
    )

    assert stores.invoices.get(A, full).state == "void"
    # [Jan 15, Feb 1) ended on Feb 1: its grace is over, so the settlement is issued at once.
    assert (settlement.state, settlement.number) == ("issued", "HPO-2026-000003")  # c-bob, c-rack: 1, 2
    assert body(settlement).reason == "move-out"
    assert body(settlement).total == JAN15_FEB1 * (RATE["flat"] + RATE["green"])
    rest = run_and_work(stores, datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN))
    dave = [r for r in rest if r.customer_id == "c-dave"]
    assert [(r.period_start, r.period_end, r.state) for r in dave] == [
        (date(2026, 2, 1), date(2026, 2, 15), "issued")
    ]
    assert body(dave[0]).total == FEB1_FEB15 * (RATE["flat"] + RATE["green"])


def test_a_settlement_over_an_issued_invoice_is_refused() -> None:
    stores = portfolio()
    run_and_work(stores, datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN))
    with pytest.raises(InvalidInputError) as raised:
        invoicing.settle(A, "c-dave", date(2026, 2, 1), date(2026, 2, 10), "move-out",
                         datetime(2026, 2, 17, 2, 0, tzinfo=BERLIN), stores.ports())  # fmt: skip
    assert raised.value.field == "from"
    assert (
        "overlaps invoice HPO-2026-000004 (2026-01-15 to 2026-02-15), already issued" in raised.value.reason
    )


def test_a_malformed_work_message_names_the_field() -> None:
    with pytest.raises(InvalidInputError) as raised:
        billrun.work_from_json({"account": A, "customer_id": "c", "period_start": "2026-01-01",
                               "period_end": "2026-01-01", "as_of": "2026-02-01T00:00+01:00"})  # fmt: skip
    assert (raised.value.field, raised.value.reason) == (
        "period_end",
        "2026-01-01 is not after period_start 2026-01-01",
    )


# --- crash injection ---------------------------------------------------------------------------------------


class Crash(Exception):
    pass


class Crashing:
    """A port whose calls count as the worker's steps; the call numbered ``crash_after`` completes and then
    raises Crash (the worker dies right after that step)."""

    def __init__(self, port: Any, steps: list[str], crash_after: int | None) -> None:
        self._port, self._steps, self._crash_after = port, steps, crash_after

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._port, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            self._steps.append(f"{type(self._port).__name__}.{name}")
            if len(self._steps) == self._crash_after:
                raise Crash(self._steps[-1])
            return result

        return call


def crashing(stores: FakeStores, steps: list[str], crash_after: int | None) -> Stores:
    ports = stores.ports()
    wrap: Callable[[Any], Any] = lambda port: Crashing(port, steps, crash_after)  # noqa: E731
    return Stores(
        catalog=wrap(ports.catalog),
        readings=wrap(ports.readings),
        keys=ports.keys,
        accounts=wrap(ports.accounts),
        invoices=wrap(ports.invoices),
    )


def test_a_worker_killed_after_any_step_and_retried_issues_one_invoice_with_one_number() -> None:
    item = InvoiceWork(
        A, "c-alice", date(2026, 1, 15), date(2026, 2, 15), datetime(2026, 2, 17, 1, tzinfo=BERLIN)
    )
    clean = portfolio()
    steps: list[str] = []
    expected = billrun.work(item, crashing(clean, steps, None))
    assert "FakeInvoiceStore.put_draft" in steps and steps[-1] == "FakeInvoiceStore.issue"

    for k in range(1, len(steps) + 1):
        stores = portfolio()
        with pytest.raises(Crash):
            billrun.work(item, crashing(stores, [], k))
        again = billrun.work(item, stores.ports())  # SQS delivers the message again
        third = billrun.work(item, stores.ports())  # ... and once more, for good measure
        assert again == third
        assert (again.state, again.number, again.body) == ("issued", "HPO-2026-000001", expected.body), steps[
            k - 1
        ]
        assert stores.invoices.counters == {(A, "invoice"): 1}
        assert list(stores.invoices.items) == [(A, expected.invoice_id)]


# --- corrections -------------------------------------------------------------------------------------------


def test_late_corrected_readings_rerate_to_the_exact_difference_and_adjust_issues_one_credit_note() -> None:
    stores = portfolio()
    run_and_work(stores, datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN))
    original_id = invoice_id(A, "c-alice", date(2026, 1, 15), date(2026, 2, 15))
    before = stores.invoices.get(A, original_id)
    before_bytes = json.dumps(before.body, sort_keys=True)
    # Corrected readings for m-alice on 20 January: 0.5 kWh an hour instead of 1.
    from tests.unit.invoicing_support import hourly

    stores.readings.put_new(A, hourly("m-alice", datetime(2026, 1, 20, tzinfo=BERLIN),
                                      datetime(2026, 1, 21, tzinfo=BERLIN), lambda _: D("0.5")))  # fmt: skip
    now = datetime(2026, 3, 10, 9, 0, tzinfo=BERLIN)

    rerating = invoicing.rerate(A, original_id, now, stores.ports())
    assert rerating.difference is not None
    assert rerating.difference.kind == "credit_note"
    assert [
        (x.meter_id, x.start, x.end, x.quantity, x.rate, x.amount) for x in rerating.difference.lines
    ] == [
        (
            "m-alice",
            date(2026, 1, 15),
            date(2026, 2, 1),
            -24 * D("0.5"),
            D("0.30"),
            -24 * D("0.5") * D("0.30"),
        ),
    ]
    assert rerating.difference.total == D("-3.60")
    assert stores.invoices.get(A, original_id) == before  # re-rating changes nothing

    note = invoicing.adjust(A, original_id, now, stores.ports(), reason="corrected readings")
    assert note is not None
    assert (note.kind, note.state, note.number) == ("credit_note", "issued", "HPO-CN-000001")
    assert (body(note).corrects, body(note).total, body(note).reason) == (
        original_id,
        D("-3.60"),
        "corrected readings",
    )
    assert invoicing.adjust(A, original_id, now, stores.ports()) is None  # nothing new: nothing issued
    assert invoicing.rerate(A, original_id, now, stores.ports()).difference is None
    assert stores.invoices.counters[(A, "credit_note")] == 1
    after = stores.invoices.get(A, original_id)
    assert after == before and json.dumps(after.body, sort_keys=True) == before_bytes


def test_an_invoice_issued_more_than_12_months_ago_is_not_rerated() -> None:
    stores = portfolio()
    run_and_work(stores, datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN))
    original_id = invoice_id(A, "c-alice", date(2026, 1, 15), date(2026, 2, 15))
    invoicing.rerate(
        A, original_id, datetime(2027, 2, 17, 1, 0, tzinfo=BERLIN), stores.ports()
    )  # 12 months: yes
    with pytest.raises(InvalidInputError) as raised:
        invoicing.rerate(A, original_id, datetime(2027, 2, 17, 1, 1, tzinfo=BERLIN), stores.ports())
    assert raised.value.field == "id"
    assert "more than 12 months" in raised.value.reason


# --- demand ratchets ----------------------------------------------------------------------------------------


def test_a_ratchet_reads_the_peak_of_the_customers_previous_invoice() -> None:
    from meterbill.services import catalog as catalog_service
    from meterbill.services.preview import bill_preview
    from tests.unit.invoicing_support import add_site, hourly, new_account

    stores = FakeStores.empty()
    new_account(stores, bill_day=1)
    add_site(stores)
    ratchet = {
        **tariff("demand", "0.10"),
        "demand": {
            "flat": {
                "periods": [{"name": "flat", "tiers": [{"rate": "10"}]}],
                "ratchet": {"percent": "80", "months": 11},
            }
        },
    }
    catalog_service.create_tariff(A, ratchet, stores.catalog)
    add_meter(stores, "m-plant")
    add_customer(stores, "c-plant")
    assign(stores, "c-plant", "m-plant", "demand", date(2026, 1, 1))
    peak_hour = datetime(2026, 1, 20, 12, tzinfo=BERLIN)  # 100 kWh in one hour: 100 kW
    stores.readings.put_new(
        A,
        hourly("m-plant", datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2026, 3, 1, tzinfo=BERLIN),
               lambda t: D("100") if t == peak_hour else D("1")),
    )  # fmt: skip

    (january,) = run_and_work(stores, datetime(2026, 2, 3, 0, 30, tzinfo=BERLIN))
    (february,) = run_and_work(stores, datetime(2026, 3, 3, 0, 30, tzinfo=BERLIN))

    assert [(x.quantity, x.amount) for x in body(january).lines if x.component == "demand"] == [
        (D("100"), D("1000.00"))
    ]
    # February measured 1 kW; the ratchet bills 80 % of January's 100 kW, read from January's invoice.
    assert [(x.quantity, x.amount) for x in body(february).lines if x.component == "demand"] == [
        (D("80") * D("100") / 100, D("80") * D("10"))
    ]
    # The preview (no invoices behind it) still bills the measured peak.
    (preview,) = bill_preview(
        A, "c-plant", date(2026, 2, 1), date(2026, 3, 1), stores.catalog, stores.readings
    )
    assert [(x.quantity, x.amount) for x in preview.bill.lines if x.component == "demand"] == [
        (D("1"), D("10.00"))
    ]


def test_two_workers_racing_on_one_message_issue_one_invoice_with_one_number() -> None:
    import threading

    stores = portfolio()
    item = InvoiceWork(
        A, "c-alice", date(2026, 1, 15), date(2026, 2, 15), datetime(2026, 2, 17, 1, tzinfo=BERLIN)
    )
    results: list[InvoiceRecord] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(billrun.work(item, stores.ports()))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {(r.invoice_id, r.number, r.version) for r in results} == {
        (results[0].invoice_id, "HPO-2026-000001", results[0].version)
    }
    assert stores.invoices.counters == {(A, "invoice"): 1}


def test_an_account_whose_settings_cannot_be_read_is_reported_and_the_others_are_billed() -> None:
    from meterbill.ports import AccountRecord

    stores = portfolio()
    broken = AccountRecord(
        "aaa-broken", "Broken", datetime(2026, 1, 1, tzinfo=BERLIN), {"billing": {"bill_day": 99}}
    )
    stores.accounts.create(broken)
    queue = FakeInvoiceWorkQueue()

    report = billrun.run(datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN), stores.ports(), queue)

    assert (report.accounts, report.sent, report.failed) == (2, 5, ("aaa-broken",))
    assert {item.account for item in queue.messages} == {A}


def test_a_voided_draft_is_not_billed_again_and_cannot_be_issued() -> None:
    from meterbill.errors import InvalidStateError

    stores = portfolio()
    run_and_work(stores, datetime(2026, 2, 15, 0, 30, tzinfo=BERLIN))
    carol = invoice_id(A, "c-carol", date(2026, 1, 15), date(2026, 2, 15))

    assert invoicing.void_draft(A, carol, stores.ports()).state == "void"

    later = run_and_work(stores, datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN))
    assert [r.customer_id for r in later] == ["c-alice", "c-dave"]
    assert stores.invoices.get(A, carol).state == "void"
    with pytest.raises(InvalidStateError):
        invoicing.issue_now(A, carol, stores.ports(), datetime(2026, 2, 17, 2, 0, tzinfo=BERLIN))


def test_more_usage_found_after_a_credit_note_is_a_debit_note_in_the_same_series() -> None:
    from tests.unit.invoicing_support import hourly

    stores = portfolio()
    run_and_work(stores, datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN))
    original = invoice_id(A, "c-carol", date(2026, 1, 15), date(2026, 2, 15))
    day = (datetime(2026, 1, 20, tzinfo=BERLIN), datetime(2026, 1, 21, tzinfo=BERLIN))
    stores.readings.put_new(A, hourly("m-carol", *day, lambda _: D("0.5")))
    now = datetime(2026, 3, 10, 9, 0, tzinfo=BERLIN)
    credit = invoicing.adjust(A, original, now, stores.ports())
    stores.readings.put_new(A, hourly("m-carol", *day, lambda _: D("2")))

    debit = invoicing.adjust(A, original, now, stores.ports())

    assert credit is not None and debit is not None
    assert (credit.kind, credit.number, body(credit).total) == (
        "credit_note",
        "HPO-CN-000001",
        -12 * D("0.25"),
    )
    # from 0.5 to 2 kWh an hour for 24 hours, at 0.25
    assert (debit.kind, debit.number, body(debit).total) == (
        "debit_note",
        "HPO-CN-000002",
        24 * D("1.5") * D("0.25"),
    )
    assert body(debit).corrects == original


def test_a_customers_calendar_is_its_first_meters_zone_and_its_bill_day() -> None:
    from zoneinfo import ZoneInfo

    from meterbill.billing_settings import BillingSettings
    from meterbill.domain import Assignment, Customer, Meter, Site

    def meter(meter_id: str, site_id: str, **labels: str) -> Meter:
        fields = {"utility": "electricity", "unit": "kWh", "kind": "main", "labels": labels}
        return Meter.model_validate({"id": meter_id, "account_id": A, "site_id": site_id, **fields})

    def assignment(meter_id: str, start: str) -> Assignment:
        fields = {"customer_id": "c", "tariff_id": "t", "effective_from": start}
        return Assignment.model_validate(
            {"id": f"as-{meter_id}", "account_id": A, "meter_id": meter_id, **fields}
        )

    sites = {
        "ny": Site(id="ny", account_id=A, name="NY", timezone="America/New_York"),
        "berlin": Site(id="berlin", account_id=A, name="Berlin", timezone="Europe/Berlin"),
    }
    meters = {"m-b": meter("m-b", "berlin"), "m-n": meter("m-n", "ny"), "m-r": meter("m-r", "ny", rack="R1")}
    settings = BillingSettings(bill_day=15)
    two_zones = [assignment("m-n", "2026-02-01"), assignment("m-b", "2026-01-01")]
    plain = Customer(id="c", account_id=A, name="C")

    calendar = invoicing.customer_calendar(plain, two_zones, meters, sites, settings)
    assert calendar is not None
    assert (calendar.zone, calendar.bill_day, calendar.colocation) == (ZoneInfo("Europe/Berlin"), 15, False)
    racked = invoicing.customer_calendar(plain, [assignment("m-r", "2026-01-01")], meters, sites, settings)
    assert racked is not None and (racked.zone, racked.bill_day, racked.colocation) == (
        ZoneInfo("America/New_York"), 1, True,
    )  # fmt: skip
    flagged = Customer(id="c", account_id=A, name="C", attributes={"colocation": True})
    assert invoicing.customer_calendar(flagged, two_zones, meters, sites, settings).bill_day == 1  # type: ignore[union-attr]
    own_day = Customer(id="c", account_id=A, name="C", bill_day=20, attributes={"colocation": True})
    assert invoicing.customer_calendar(own_day, two_zones, meters, sites, settings).bill_day == 20  # type: ignore[union-attr]
    assert invoicing.customer_calendar(plain, [], meters, sites, settings) is None
