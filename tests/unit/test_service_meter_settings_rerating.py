"""A meter's settings replaced (``PUT /v1/meters/{id}``: limits, CT ratio and its changes, register maximum,
interval, exchanges) mark the UTC days they change for the rating run, bounded by the days already rated; the
next pass rates them again and records re-rating candidates on the issued invoices they touch."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from meterbill.domain import Meter
from meterbill.ports import CatalogStore, RatingStores, ReratingCandidate
from meterbill.services import catalog as catalog_service
from meterbill.services.metering import resettled_days
from meterbill.services.rating import rating_pass
from tests.fakes import FakeInvoiceStore, FakeMeteringStore, FakeReadingStore
from tests.unit.invoicing_support import BERLIN
from tests.unit.invoicing_support import A as HPO
from tests.unit.test_service_rating import NOW, TEN_ON_THE_29TH, A, accounts, fakes, hourly_catalog, two_days
from tests.unit.test_service_rerating import LATE, january_billed

D = date


@pytest.fixture
def ports() -> RatingStores:
    """Account A, site berlin, hourly meter m1 with customer c1 (``test_service_rating``'s)."""
    return RatingStores(
        FakeReadingStore(), hourly_catalog(), FakeMeteringStore(), accounts(), FakeInvoiceStore()
    )


def meter_body(catalog: CatalogStore, account: str = A, **changes: Any) -> dict[str, Any]:
    entry = catalog_service.get(account, Meter, "m1", catalog)
    body = entry.value.model_dump(mode="json", exclude={"account_id"})
    return {**body, **changes}


def meter(**fields: Any) -> Meter:
    base = {"id": "m1", "account_id": A, "site_id": "berlin", "utility": "electricity", "unit": "kWh"}
    return Meter.model_validate({**base, "kind": "main", **fields})


def utc_days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_a_limits_change_marks_every_rated_day_and_the_next_pass_rates_them_again(
    ports: RatingStores,
) -> None:
    readings, metering = fakes(ports)
    readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))
    rating_pass(NOW, ports)  # local 28 and 29 March rated; marks cleared
    body = meter_body(ports.catalog, limits={"max_power": "1.5"})

    catalog_service.replace_meter(A, "m1", body, ports.catalog, readings, metering, if_match=None)

    # Local 28 March starts on 27 March UTC, 29 March ends on the 29th at 22:00 UTC: one UTC day more on each
    # side, marked before the meter is written and again after (2 changes each).
    assert readings.marks == {(A, "m1", d): 2 for d in utc_days(D(2026, 3, 27), D(2026, 3, 30))}
    report = rating_pass(NOW + timedelta(minutes=15), ports)
    assert (report.days_written, report.marks_cleared, report.failures) == (2, 4, [])
    dst_day = metering.rated[(A, "m1", D(2026, 3, 29))]
    # The 12 hours of 2 kWh (08:00 to 20:00) are over max_power 1.5 now: not usable, no like day to estimate.
    assert dst_day.qualities == "A" * 7 + "N" * 12 + "A" * 4
    assert dst_day.total().total == 11 * 1


def test_a_change_that_does_not_validate_differently_marks_nothing(ports: RatingStores) -> None:
    readings, metering = fakes(ports)
    readings.put_new(A, two_days())
    rating_pass(NOW, ports)
    body = meter_body(
        ports.catalog, serial="SN-2", labels={"room": "Main incomer"}, attributes={"phase_count": 3}
    )

    catalog_service.replace_meter(A, "m1", body, ports.catalog, readings, metering, if_match=None)

    assert readings.marks == {}


def test_a_ct_ratio_change_rates_again_from_its_effective_date_to_the_next_change() -> None:
    rated = (D(2026, 3, 1), D(2026, 3, 31))  # local days of Berlin
    tenth, twentieth = "2026-03-10T12:00:00+01:00", "2026-03-20T12:00:00+01:00"
    before = meter(
        multipliers=[
            {"effective_from": tenth, "multiplier": "2"},
            {"effective_from": twentieth, "multiplier": "3"},
        ]
    )
    changed = meter(
        multipliers=[
            {"effective_from": tenth, "multiplier": "4"},
            {"effective_from": twentieth, "multiplier": "3"},
        ]
    )
    added = meter(
        multipliers=[
            *before.model_dump(mode="json")["multipliers"],
            {"effective_from": "2026-03-25T00:00:00+01:00", "multiplier": "5"},
        ]
    )

    # From 10 March to 20 March only: the ratio of the 20th on is the same before and after.
    assert resettled_days(before, changed, rated) == utc_days(D(2026, 3, 10), D(2026, 3, 20))
    # A new last change: from its date (24 March 23:00 UTC) to the UTC day after the last rated day.
    assert resettled_days(before, added, rated) == utc_days(D(2026, 3, 24), D(2026, 4, 1))
    # The meter's own ratio: up to its first change, from the UTC day before the first rated day.
    assert resettled_days(before, meter(**{**before.model_dump(), "multiplier": "40"}), rated) == utc_days(
        D(2026, 2, 28), D(2026, 3, 10)
    )
    # Nothing rated yet: nothing to rate again (the readings' own marks rate them with the new settings).
    assert resettled_days(before, changed, None) == []


def test_an_exchange_edited_in_a_put_marks_its_day_and_a_long_history_is_bounded_to_the_rerating_year() -> (
    None
):
    swap = {"timestamp": "2026-03-15T09:30:00+01:00", "old_final": "1234.5", "new_initial": "0"}
    with_swap = meter(exchanges=[swap])
    corrected = meter(exchanges=[{**swap, "old_final": "1240.5"}])

    assert resettled_days(meter(), with_swap, (D(2026, 3, 1), D(2026, 3, 31))) == [D(2026, 3, 15)]
    assert resettled_days(with_swap, corrected, (D(2026, 3, 1), D(2026, 3, 31))) == [D(2026, 3, 15)]
    assert (
        resettled_days(
            with_swap, meter(exchanges=[{**swap, "note": "PDU 7"}]), (D(2026, 3, 1), D(2026, 3, 31))
        )
        == []
    )
    # Three years rated, the register maximum set: the 366 days before the last rated day, and one UTC day
    # on either side (368 marks), not 1,098.
    days = resettled_days(meter(), meter(register_max="99999.9"), (D(2023, 4, 1), D(2026, 3, 31)))
    assert (days[0], days[-1], len(days)) == (D(2025, 3, 30), D(2026, 4, 1), 368)


def test_a_limits_change_puts_a_rerating_candidate_on_each_issued_day_and_leaves_the_invoice_alone() -> None:
    stores, ports, issued = january_billed()  # 1 kWh an hour, rated to 3 February, January issued
    body = meter_body(stores.catalog, HPO, limits={"max_power": "0.5"})
    catalog_service.replace_meter(
        HPO, "m1", body, stores.catalog, stores.readings, ports.metering, if_match=None
    )

    # Rated local days 1 January to 2 February: UTC 31 December to 3 February.
    assert sorted(stores.readings.marks) == [(HPO, "m1", d) for d in utc_days(D(2025, 12, 31), D(2026, 2, 3))]
    report = rating_pass(LATE, ports)

    assert (report.days_written, report.rerating_candidates, report.failures) == (33, 31, [])
    candidates = stores.invoices.rerating_candidates(HPO, issued.invoice_id)
    assert candidates[0] == ReratingCandidate(
        issued.invoice_id,
        "m1",
        datetime(2026, 1, 1, tzinfo=BERLIN),
        datetime(2026, 1, 2, tzinfo=BERLIN),
        LATE,
    )
    assert [c.start.date() for c in candidates] == utc_days(D(2026, 1, 1), D(2026, 1, 31))
    assert stores.invoices.get(HPO, issued.invoice_id) == issued  # never applied to the invoice
