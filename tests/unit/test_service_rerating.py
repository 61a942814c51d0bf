"""Re-rating candidates: late or corrected readings that touch an already issued period are recorded beside
that invoice by the rating pass, never applied to it; drafts get none (they are recomputed); today's readings
need no invoice lookup."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from meterbill.billing.invoice import Invoice, invoice_id
from meterbill.domain import Assignment
from meterbill.ports import InvoiceRecord, RatingStores, RawReading, ReratingCandidate
from meterbill.services import catalog as catalog_service
from meterbill.services import invoicing
from meterbill.services.rating import rating_pass
from tests.fakes import FakeMeteringStore, FakeStores
from tests.unit.invoicing_support import (
    BERLIN,
    A,
    add_customer,
    add_meter,
    add_site,
    assign,
    hourly,
    new_account,
    populate,
    tariff,
)
from tests.unit.test_service_invoicing import run_and_work

D = Decimal
JAN = (date(2026, 1, 1), date(2026, 2, 1))
ISSUED_AT = datetime(2026, 2, 3, 1, 0, tzinfo=BERLIN)  # bill day 1 + 2 days' grace
LATE = datetime(2026, 2, 3, 9, 15, tzinfo=BERLIN)  # the pass after the corrected reading arrived


def rating_ports(stores: FakeStores) -> RatingStores:
    return RatingStores(
        stores.readings, stores.catalog, FakeMeteringStore(), stores.accounts, stores.invoices
    )


def corrected(meter_id: str, day: int, kwh: str = "2.5") -> list[RawReading]:
    """The reading of 10:00 to 11:00 local on ``day`` January, sent again with another value."""
    return [RawReading(meter_id, datetime(2026, 1, day, 10, tzinfo=BERLIN), D(kwh), "interval", 60)]


def local_day(day: date) -> tuple[datetime, datetime]:
    return datetime(day.year, day.month, day.day, tzinfo=BERLIN), datetime(
        day.year, day.month, day.day + 1, tzinfo=BERLIN
    )


def january_billed() -> tuple[FakeStores, RatingStores, InvoiceRecord]:
    """c1 on m1 (flat 0.30) from 2026-01-01, bill day 1; hourly readings to 3 February, rated by the pass
    of 00:30 that night; January invoiced and issued at 01:00 (HPO-2026-000001)."""
    stores = FakeStores.empty()
    new_account(stores, bill_day=1)
    add_site(stores)
    catalog_service.create_tariff(A, tariff("flat", "0.30"), stores.catalog)
    add_meter(stores, "m1")
    add_customer(stores, "c1")
    assign(stores, "c1", "m1", "flat", date(2026, 1, 1))
    stores.readings.put_new(
        A, hourly("m1", datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2026, 2, 3, tzinfo=BERLIN))
    )
    ports = rating_ports(stores)
    first = rating_pass(datetime(2026, 2, 3, 0, 30, tzinfo=BERLIN), ports)
    assert (first.days_written, first.rerating_candidates, first.failures) == (33, 0, [])
    issued = invoicing.invoice_period(A, "c1", JAN, ISSUED_AT, stores.ports())
    assert (issued.state, issued.number) == ("issued", "HPO-2026-000001")
    return stores, ports, issued


def snapshot(record: InvoiceRecord) -> tuple[InvoiceRecord, str]:
    return record, json.dumps(record.body, sort_keys=True)


class CountingLists:
    """Counts ``InvoiceStore.list`` calls on a fake invoice store."""

    def __init__(self, stores: FakeStores) -> None:
        self.calls = 0
        listing = stores.invoices.list

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return listing(*args, **kwargs)

        stores.invoices.list = counted  # type: ignore[method-assign]


def test_a_corrected_reading_of_an_issued_period_is_one_candidate_and_the_invoice_stays_as_issued() -> None:
    stores, ports, issued = january_billed()
    before = snapshot(issued)
    writes = stores.invoices.writes
    stores.readings.put_new(A, corrected("m1", 17))  # 2.5 kWh instead of 1 at 10:00 on 17 January

    report = rating_pass(LATE, ports)

    assert (report.days_written, report.rerating_candidates, report.failures) == (1, 1, [])
    start, end = local_day(date(2026, 1, 17))
    assert stores.invoices.rerating_candidates(A, issued.invoice_id) == [
        ReratingCandidate(issued.invoice_id, "m1", start, end, LATE)
    ]
    assert (start, end) == (
        datetime.fromisoformat("2026-01-17T00:00:00+01:00"),
        datetime.fromisoformat("2026-01-18T00:00:00+01:00"),
    )
    assert snapshot(stores.invoices.get(A, issued.invoice_id)) == before  # byte for byte
    assert stores.invoices.writes == writes  # nothing was written to any invoice
    # The correction is in the rated day, so re-rating shows it: 1.5 kWh more at 0.30.
    rerating = invoicing.rerate(A, issued.invoice_id, LATE, stores.ports())
    assert rerating.difference is not None
    assert rerating.difference.total == D("1.5") * D("0.30")


def test_a_second_pass_adds_no_candidate_and_a_later_correction_keeps_the_first_receipt() -> None:
    stores, ports, issued = january_billed()
    stores.readings.put_new(A, corrected("m1", 17))
    rating_pass(LATE, ports)
    expected = stores.invoices.rerating_candidates(A, issued.invoice_id)

    assert isinstance(stores.readings.marks, dict)
    stores.readings.marks[(A, "m1", date(2026, 1, 17))] = 1  # marked again with nothing new
    again = rating_pass(datetime(2026, 2, 3, 9, 30, tzinfo=BERLIN), ports)

    assert (again.meters, again.days_written, again.rerating_candidates) == (1, 0, 0)
    assert stores.invoices.rerating_candidates(A, issued.invoice_id) == expected

    stores.readings.put_new(A, corrected("m1", 17, kwh="3"))  # corrected once more, an hour later
    later = rating_pass(datetime(2026, 2, 3, 10, 15, tzinfo=BERLIN), ports)

    assert (later.days_written, later.rerating_candidates) == (1, 1)
    assert stores.invoices.rerating_candidates(A, issued.invoice_id) == expected  # received_at: the first


def test_todays_readings_add_no_candidate_and_list_no_invoices() -> None:
    stores, ports, issued = january_billed()
    lists = CountingLists(stores)
    today = hourly("m1", datetime(2026, 2, 3, tzinfo=BERLIN), datetime(2026, 2, 3, 9, tzinfo=BERLIN))
    stores.readings.put_new(A, today)

    report = rating_pass(datetime(2026, 2, 3, 9, 15, tzinfo=BERLIN), ports)

    assert (report.days_written, report.rerating_candidates, lists.calls) == (1, 0, 0)
    assert stores.invoices.rerating_candidates(A, issued.invoice_id) == []


def test_a_late_reading_of_the_current_period_adds_no_candidate_and_lists_no_invoices() -> None:
    stores, ports, _ = january_billed()
    lists = CountingLists(stores)
    stores.readings.put_new(  # 2 February, yesterday: February is not invoiced yet
        A, [RawReading("m1", datetime(2026, 2, 2, 10, tzinfo=BERLIN), D("2.5"), "interval", 60)]
    )

    report = rating_pass(LATE, ports)

    assert (report.days_written, report.rerating_candidates, lists.calls) == (1, 0, 0)
    assert stores.invoices.candidates == {}


def test_a_draft_waiting_for_its_grace_gets_no_candidate_it_is_recomputed_with_the_reading() -> None:
    stores = FakeStores.empty()
    new_account(stores, bill_day=1)
    add_site(stores)
    catalog_service.create_tariff(A, tariff("flat", "0.30"), stores.catalog)
    add_meter(stores, "m1")
    add_customer(stores, "c1")
    assign(stores, "c1", "m1", "flat", date(2026, 1, 1))
    stores.readings.put_new(
        A, hourly("m1", datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2026, 2, 2, tzinfo=BERLIN))
    )
    ports = rating_ports(stores)
    rating_pass(datetime(2026, 2, 2, 0, 30, tzinfo=BERLIN), ports)
    draft = invoicing.invoice_period(A, "c1", JAN, datetime(2026, 2, 2, 1, 0, tzinfo=BERLIN), stores.ports())
    assert draft.state == "draft"
    lists = CountingLists(stores)
    stores.readings.put_new(A, corrected("m1", 17))

    report = rating_pass(datetime(2026, 2, 2, 9, 15, tzinfo=BERLIN), ports)

    assert (report.days_written, report.rerating_candidates, lists.calls) == (
        1,
        0,
        1,
    )  # looked, found a draft
    assert stores.invoices.candidates == {}
    issued = invoicing.invoice_period(A, "c1", JAN, ISSUED_AT, stores.ports())
    assert D(issued.body["total"]) == (31 * 24 + D("1.5")) * D("0.30")  # the draft counted the reading


def test_a_shared_meter_records_a_candidate_on_each_customers_invoice_for_the_days_it_was_theirs() -> None:
    # The portfolio (bill day 15): c-alice and c-bob share "common" half and half from 15 January, c-bob
    # until he moved out on 25 January. Their invoices of 15 January to 15 February are issued on the 17th.
    stores = FakeStores.empty()
    populate(stores, readings_to=datetime(2026, 2, 17, tzinfo=BERLIN))
    ports = rating_ports(stores)
    assert rating_pass(datetime(2026, 2, 17, 0, 30, tzinfo=BERLIN), ports).failures == []
    records = {r.customer_id: r for r in run_and_work(stores, datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN))}
    before = {c: snapshot(r) for c, r in records.items()}
    alice, bob = records["c-alice"], records["c-bob"]
    assert (alice.period_start, alice.period_end, alice.state) == (
        date(2026, 1, 15),
        date(2026, 2, 15),
        "issued",
    )
    assert (bob.period_start, bob.period_end, bob.state) == (date(2026, 1, 15), date(2026, 1, 25), "issued")
    at = datetime(2026, 2, 17, 9, 15, tzinfo=BERLIN)
    stores.readings.put_new(A, corrected("common", 20) + corrected("common", 28))

    report = rating_pass(at, ports)

    assert (report.days_written, report.rerating_candidates) == (2, 3)
    jan20, jan28 = local_day(date(2026, 1, 20)), local_day(date(2026, 1, 28))
    assert stores.invoices.rerating_candidates(A, alice.invoice_id) == [
        ReratingCandidate(alice.invoice_id, "common", *jan20, at),
        ReratingCandidate(alice.invoice_id, "common", *jan28, at),
    ]
    assert stores.invoices.rerating_candidates(A, bob.invoice_id) == [
        ReratingCandidate(bob.invoice_id, "common", *jan20, at)  # 28 January was no longer his
    ]
    assert {k[1] for k in stores.invoices.candidates} == {alice.invoice_id, bob.invoice_id}
    assert {c: snapshot(stores.invoices.get(A, r.invoice_id)) for c, r in records.items()} == before
    assert bob.invoice_id == invoice_id(A, "c-bob", date(2026, 1, 15), date(2026, 1, 25))


def test_a_correction_after_a_note_is_a_candidate_on_the_invoice_and_on_its_note() -> None:
    stores, ports, issued = january_billed()
    stores.readings.put_new(A, corrected("m1", 17))
    rating_pass(LATE, ports)
    note = invoicing.adjust(A, issued.invoice_id, LATE, stores.ports())
    assert note is not None
    assert (note.kind, note.state, note.period_start, note.period_end) == ("debit_note", "issued", *JAN)
    at = datetime(2026, 2, 3, 10, 15, tzinfo=BERLIN)
    stores.readings.put_new(A, corrected("m1", 20))

    report = rating_pass(at, ports)

    assert (report.days_written, report.rerating_candidates) == (1, 2)
    jan17, jan20 = local_day(date(2026, 1, 17)), local_day(date(2026, 1, 20))
    assert stores.invoices.rerating_candidates(A, issued.invoice_id) == [
        ReratingCandidate(issued.invoice_id, "m1", *jan17, LATE),
        ReratingCandidate(issued.invoice_id, "m1", *jan20, at),
    ]
    assert stores.invoices.rerating_candidates(A, note.invoice_id) == [
        ReratingCandidate(note.invoice_id, "m1", *jan20, at)
    ]


def test_a_corrected_sub_meter_reading_is_a_candidate_on_the_invoice_of_its_residuals_sharer() -> None:
    # c1 holds the residual of main meter m1 (m1 minus its sub-meter s1), c2 the sub-meter s1 itself.
    stores = FakeStores.empty()
    new_account(stores, bill_day=1)
    add_site(stores)
    catalog_service.create_tariff(A, tariff("flat", "0.30"), stores.catalog)
    add_meter(stores, "m1")
    add_meter(stores, "s1", kind="sub", parent_id="m1")
    add_customer(stores, "c1")
    add_customer(stores, "c2")
    residual = {"id": "as-c1-m1", "meter_id": "m1", "customer_id": "c1", "tariff_id": "flat"}
    catalog_service.create(
        A, Assignment, {**residual, "effective_from": "2026-01-01", "basis": "residual"}, stores.catalog
    )
    assign(stores, "c2", "s1", "flat", date(2026, 1, 1))
    january = (datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2026, 2, 3, tzinfo=BERLIN))
    stores.readings.put_new(A, hourly("m1", *january, lambda _: D(3)) + hourly("s1", *january))
    ports = rating_ports(stores)
    assert rating_pass(datetime(2026, 2, 3, 0, 30, tzinfo=BERLIN), ports).failures == []
    issued = invoicing.invoice_period(A, "c1", JAN, ISSUED_AT, stores.ports())
    other = invoicing.invoice_period(A, "c2", JAN, ISSUED_AT, stores.ports())
    assert Invoice.from_json(issued.body).total == 31 * 24 * (D(3) - D(1)) * D("0.30") == D("446.40")
    stores.readings.put_new(A, corrected("s1", 20))

    report = rating_pass(LATE, ports)

    assert report.rerating_candidates == 2
    jan20 = local_day(date(2026, 1, 20))
    assert stores.invoices.rerating_candidates(A, issued.invoice_id) == [
        ReratingCandidate(issued.invoice_id, "s1", *jan20, LATE)  # the sub-meter whose reading changed
    ]
    assert stores.invoices.rerating_candidates(A, other.invoice_id) == [
        ReratingCandidate(other.invoice_id, "s1", *jan20, LATE)
    ]
