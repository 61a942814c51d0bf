"""Time travel: the bill run and its worker every hour, as the schedule fires, for 13 months (October 2027
to November 2028) over customers in three zones (Berlin, New York, Lord Howe Island's half-hour DST), bill
days 1, 15 and 28, move-ins and move-outs mid-period, a gap between two assignments, and 29 February 2028.
Every day between move-in and move-out is invoiced exactly once, every invoice is issued, and numbers run
1..N without gap."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from meterbill.billing.invoice import Invoice
from meterbill.billing.periods import DateSpan, due_periods, period_containing
from meterbill.services import billrun
from tests.fakes import FakeInvoiceWorkQueue, FakeStores
from tests.unit.invoicing_support import A, add_customer, add_meter, add_site, assign, new_account, tariff


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def build() -> FakeStores:
    stores = FakeStores.empty()
    new_account(stores, bill_day=1, at=datetime(2027, 1, 1, tzinfo=UTC))
    from meterbill.services import catalog as catalog_service

    catalog_service.create_tariff(A, tariff("flat", "0.30"), stores.catalog)
    add_site(stores, "berlin", "Europe/Berlin")
    add_site(stores, "ny", "America/New_York")
    add_site(stores, "howe", "Australia/Lord_Howe")
    add_meter(stores, "m-berlin", "berlin")
    add_meter(stores, "m-ny", "ny")
    add_meter(stores, "m-leap", "berlin")
    add_meter(stores, "m-howe1", "howe", labels={"rack": "R1"}, interval_minutes=30)  # half-hour DST
    add_meter(stores, "m-howe2", "howe", labels={"feed": "B"}, interval_minutes=30)
    add_customer(stores, "t-berlin")  # the account's bill day, 1
    add_customer(stores, "t-ny", bill_day=15)
    add_customer(stores, "t-leap", bill_day=28)
    add_customer(stores, "t-howe", bill_day=None)  # colocation: billed on the 1st
    assign(stores, "t-berlin", "m-berlin", "flat", date(2027, 10, 10))  # moves in on the 10th
    assign(stores, "t-ny", "m-ny", "flat", date(2027, 9, 20), date(2028, 2, 29))  # last day: 28 February
    assign(stores, "t-leap", "m-leap", "flat", date(2028, 2, 29))  # moves in on 29 February
    assign(stores, "t-howe", "m-howe1", "flat", date(2027, 10, 1), date(2028, 3, 15))
    assign(stores, "t-howe", "m-howe2", "flat", date(2028, 4, 10))  # a gap from 15 March to 10 April
    return stores


EXPECTED_DAYS = {
    "t-berlin": days(date(2027, 10, 10), date(2028, 11, 1)),
    "t-ny": days(date(2027, 9, 20), date(2028, 2, 29)),
    "t-leap": days(date(2028, 2, 29), date(2028, 10, 28)),
    "t-howe": days(date(2027, 10, 1), date(2028, 3, 15)) + days(date(2028, 4, 10), date(2028, 11, 1)),
}
BILL_DAY = {"t-berlin": 1, "t-ny": 15, "t-leap": 28, "t-howe": 1}


def test_thirteen_months_of_hourly_runs_bill_every_day_exactly_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stores = build()
    queue = FakeInvoiceWorkQueue()
    now = datetime(2027, 10, 1, tzinfo=UTC)
    end = datetime(2028, 11, 5, tzinfo=UTC)
    while now < end:  # hourly, as the schedule fires: every local midnight and DST change is passed
        billrun.run(now, stores.ports(), queue)
        for item in queue.take():
            billrun.work(item, stores.ports())
        now += timedelta(hours=1)

    records = list(stores.invoices.items.values())
    assert {r.state for r in records} == {"issued"}
    billed: dict[str, Counter[date]] = {}
    for record in records:
        billed.setdefault(record.customer_id, Counter()).update(days(record.period_start, record.period_end))
        # each invoice lies in one bill period of its customer
        period = period_containing(record.period_start, BILL_DAY[record.customer_id])
        assert period.start <= record.period_start < record.period_end <= period.end, record
    for customer_id, expected in EXPECTED_DAYS.items():
        assert sorted(billed[customer_id]) == expected, customer_id
        assert set(billed[customer_id].values()) == {1}, customer_id  # no day twice
    issued_in_order = sorted(records, key=lambda r: r.number or "")
    assert [r.number for r in issued_in_order] == [f"HPO-2026-{n:06d}" for n in range(1, len(records) + 1)]
    assert [Invoice.from_json(r.body).number for r in issued_in_order] == [r.number for r in issued_in_order]
    per_customer = Counter(r.customer_id for r in records)
    # Berlin: 10-31 Oct 2027, then Nov 2027..Oct 2028 (12); NY: Sep 20-Oct 15, 4 more to Feb 15, Feb 15-29;
    # leap: Feb 29-Mar 28 and 7 more to Oct 28; Lord Howe: Oct 2027..Oct 2028, 13 months.
    assert per_customer == {"t-berlin": 13, "t-ny": 6, "t-leap": 8, "t-howe": 13}

    # An hourly pass looks at the periods from the first day not yet invoiced, not at every month since
    # the move-in: t-ny moved out and is billed to the end, t-howe's gap has no assignment.
    asked: dict[tuple[str, int], date | None] = {}  # (zone, bill day): the first day due_periods looks at

    def recording(*args: Any, **kwargs: Any) -> list[DateSpan]:
        asked[str(args[1]), args[2]] = kwargs["since"]
        return due_periods(*args, **kwargs)

    monkeypatch.setattr(billrun, "due_periods", recording)
    billrun.run(end, stores.ports(), queue)
    assert queue.take() == []
    assert asked == {
        ("Europe/Berlin", 1): date(2028, 11, 1),  # t-berlin
        ("America/New_York", 15): date.max,  # t-ny
        ("Europe/Berlin", 28): date(2028, 10, 28),  # t-leap
        ("Australia/Lord_Howe", 1): date(2028, 11, 1),  # t-howe
    }
