"""What one bill-run message reads (issue 9's goal: <= 30 read units per customer-invoice): the customer's own
assignments whatever the size of the account, usage from the rated days, and nothing more for a draft whose
inputs have not changed."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from meterbill.billing.invoice import Invoice
from meterbill.domain import Customer, Meter
from meterbill.ports import InvoiceRecord, RatedDay, RatingStores, RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services import invoicing, rating
from meterbill.services.invoicing import INPUTS
from tests.fakes import FakeStores
from tests.unit.invoicing_support import (
    BERLIN,
    A,
    add_customer,
    add_meter,
    add_site,
    assign,
    hourly,
    new_account,
    tariff,
)

D = Decimal
JANUARY = (date(2026, 1, 1), date(2026, 2, 1))
JANUARY_HOURS = 31 * 24  # Berlin, no DST change in January
RATE = D("0.30")


def account_of(customers: int) -> FakeStores:
    """``customers`` customers on the flat tariff (0.30 EUR/kWh), each with one hourly meter from 2026-01-01;
    January's readings (1 kWh an hour) for the first customer's meter only."""
    stores = FakeStores.empty()
    new_account(stores, bill_day=1)
    add_site(stores)
    catalog_service.create_tariff(A, tariff("flat", "0.30"), stores.catalog)
    for n in range(customers):
        add_customer(stores, f"c-{n}")
        add_meter(stores, f"m-{n}")
        assign(stores, f"c-{n}", f"m-{n}", "flat", JANUARY[0])
    stores.readings.put_new(
        A, hourly("m-0", datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2026, 2, 1, tzinfo=BERLIN))
    )
    return stores


def rate(stores: FakeStores, now: datetime) -> None:
    ports = RatingStores(stores.readings, stores.catalog, stores.metering, stores.accounts, stores.invoices)
    assert rating.rating_pass(now, ports).failures == []


def work(stores: FakeStores, now: datetime) -> InvoiceRecord:
    return invoicing.invoice_period(A, "c-0", JANUARY, now, stores.ports())


def count_calls(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, calls: Counter[str]) -> None:
    original = getattr(target, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)


def catalog_reads_of_one_message(customers: int) -> tuple[int, dict[str, int], int, Decimal]:
    stores = account_of(customers)
    stores.catalog.get_calls, stores.catalog.list_calls, stores.catalog.assignment_queries = 0, {}, 0

    record = work(stores, datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN))

    catalog = stores.catalog
    return (
        catalog.get_calls,
        dict(catalog.list_calls),
        catalog.assignment_queries,
        Invoice.from_json(record.body).total,
    )


def test_a_worker_message_reads_the_customers_own_catalog_whatever_the_number_of_customers() -> None:
    # The customer, its meter and its site one read each, its tariff's versions one listing, its assignments
    # one query: no listing of the account's assignments, the same for 2 customers as for 60.
    expected = (3, {"tariff": 1}, 1, JANUARY_HOURS * RATE)

    assert catalog_reads_of_one_message(2) == expected
    assert catalog_reads_of_one_message(60) == expected


def test_a_draft_is_billed_from_the_rated_days_without_reading_raw_readings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stores = account_of(1)
    rate(stores, datetime(2026, 2, 1, 0, 15, tzinfo=BERLIN))
    calls: Counter[str] = Counter()
    count_calls(monkeypatch, stores.readings, "between", calls)

    record = work(stores, datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN))

    assert calls["between"] == 0
    assert (record.state, Invoice.from_json(record.body).total) == ("draft", JANUARY_HOURS * RATE)
    assert Invoice.from_json(record.body).total == D("223.20")
    assert isinstance(record.body[INPUTS], str) and len(record.body[INPUTS]) == 32


def test_a_day_not_rated_yet_is_billed_from_raw_readings_to_the_same_cent_and_recomputed_next_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stores = account_of(1)  # no rating pass: no rated day
    calls: Counter[str] = Counter()
    count_calls(monkeypatch, stores.readings, "between", calls)

    first = work(stores, datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN))

    assert calls["between"] == 1  # the meter's raw readings, validated
    assert Invoice.from_json(first.body).total == JANUARY_HOURS * RATE
    assert INPUTS not in first.body  # inputs not known: computed again on the next pass
    work(stores, datetime(2026, 2, 1, 1, 30, tzinfo=BERLIN))
    assert calls["between"] == 2


def test_an_unchanged_draft_is_not_recomputed_nor_rewritten_and_a_late_reading_changes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stores = account_of(1)
    rate(stores, datetime(2026, 2, 1, 0, 15, tzinfo=BERLIN))
    first = work(stores, datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN))
    calls: Counter[str] = Counter()
    count_calls(monkeypatch, stores.metering, "days", calls)
    count_calls(monkeypatch, stores.readings, "between", calls)
    count_calls(monkeypatch, stores.invoices, "put_draft", calls)

    again = work(stores, datetime(2026, 2, 1, 1, 30, tzinfo=BERLIN))

    assert again == first  # the same record: version 1, the same body and computed_at
    assert calls == Counter()  # no usage read, nothing written

    late = RawReading("m-0", datetime(2026, 1, 10, 8, tzinfo=BERLIN), D("5"), "interval", 60)
    stores.readings.put_new(A, [late])  # replaces the 1 kWh of 08:00
    rate(stores, datetime(2026, 2, 1, 1, 45, tzinfo=BERLIN))  # re-rates the day: its month's digest changes
    changed = work(stores, datetime(2026, 2, 1, 2, 30, tzinfo=BERLIN))

    assert (changed.state, changed.version) == ("draft", 2)
    assert Invoice.from_json(changed.body).total == (JANUARY_HOURS - 1 + 5) * RATE
    assert changed.body[INPUTS] != first.body[INPUTS]
    assert calls["put_draft"] == 1


def test_a_catalog_change_recomputes_the_draft_and_one_without_effect_keeps_its_computed_at() -> None:
    stores = account_of(1)
    rate(stores, datetime(2026, 2, 1, 0, 15, tzinfo=BERLIN))
    first = work(stores, datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN))
    renamed = {"name": "Customer zero, renamed"}
    catalog_service.replace(A, Customer, "c-0", renamed, stores.catalog, if_match=None)

    again = work(stores, datetime(2026, 2, 1, 1, 30, tzinfo=BERLIN))

    # Recomputed (the customer's ETag is an input), the same amounts: only the fingerprint is written anew.
    assert again.version == 2
    assert again.body[INPUTS] != first.body[INPUTS]
    assert Invoice.from_json(again.body) == Invoice.from_json(first.body)  # computed_at kept


def test_a_meter_whose_validation_settings_changed_since_its_days_were_rated_is_billed_from_raw_readings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stores = account_of(1)
    rate(stores, datetime(2026, 2, 1, 0, 15, tzinfo=BERLIN))
    meter = catalog_service.get(A, Meter, "m-0", stores.catalog).value
    changed = {**meter.model_dump(mode="json", exclude={"account_id"}), "multiplier": "40"}
    catalog_service.replace(A, Meter, "m-0", changed, stores.catalog, if_match=None)  # a CT ratio fixed
    calls: Counter[str] = Counter()
    count_calls(monkeypatch, stores.readings, "between", calls)

    record = work(stores, datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN))

    # The month was rated with the old settings (its rated_with differs): validated again with the new ones
    # (the multiplier scales register reads; these interval readings bill the same 744 kWh).
    assert calls["between"] == 1
    assert Invoice.from_json(record.body).total == JANUARY_HOURS * RATE
    assert INPUTS not in record.body  # computed again on each pass until the days are rated again


def test_rated_days_are_read_eventually_consistent_and_read_again_when_a_lagging_copy_differs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stores = account_of(1)
    rate(stores, datetime(2026, 2, 1, 0, 15, tzinfo=BERLIN))
    reads: list[bool] = []
    days = stores.metering.days

    def recorded(*args: Any, consistent: bool = True) -> list[RatedDay]:
        reads.append(consistent)
        return days(*args, consistent=consistent)

    monkeypatch.setattr(stores.metering, "days", recorded)

    work(stores, datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN))
    assert reads == [False]  # half the units: the days match their month's digest

    # A replica lagging behind answers 10 January as it was before a correction: 0 kWh at 08:00.
    key = (A, "m-0", date(2026, 1, 10))
    stored = stores.metering.rated[key]
    stores.metering.stale[key] = replace(stored, values=(*stored.values[:8], 0, *stored.values[9:]))
    stores.invoices.items.clear()
    reads.clear()

    record = work(stores, datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN))

    assert reads == [False, True]  # the digest differs: read again, strongly consistent
    assert Invoice.from_json(record.body).total == JANUARY_HOURS * RATE  # not (JANUARY_HOURS - 1) * RATE
