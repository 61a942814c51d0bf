"""The rating pass: marked meters validated again over the days their readings touch, stored as rated days
(validated intervals, flags, methods, reasons; hourly and daily rollups) and monthly rollups; each customer's
running period cost; idempotent; marks cleared only when unchanged; fan-out through a work queue."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError
from meterbill.meterdata.rollups import rated_series
from meterbill.money import round_money
from meterbill.ports import AccountRecord, CatalogStore, PendingMark, RatedDay, RatingStores, RawReading
from meterbill.services import billing_settings
from meterbill.services import catalog as catalog_service
from meterbill.services.preview import bill_preview
from meterbill.services.rating import rate_message, rating_pass, update_running_cost
from tests.builders import UTC
from tests.fakes import (
    FakeAccountStore,
    FakeCatalogStore,
    FakeInvoiceStore,
    FakeMeteringStore,
    FakeReadingStore,
    FakeWorkQueue,
)

A = "acc-a"
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
D = Decimal
NOW = datetime(2026, 3, 30, 0, 30, tzinfo=BERLIN)  # the pass after the DST day 2026-03-29 (23 hours)
AT = NOW.isoformat()
KIND = "rate-meters"


def accounts() -> FakeAccountStore:
    """Account A with the default billing settings: bill day 1, so running periods are calendar months."""
    store = FakeAccountStore()
    store.create(AccountRecord(A, "Account A", datetime(2026, 1, 1, tzinfo=UTC)))
    return store


def hourly_catalog(meters: int = 1, store: CatalogStore | None = None, account: str = A) -> CatalogStore:
    """Site berlin; hourly kWh meters m1..mN; customer c1 on m1 (share 1) at 0.30 EUR/kWh from 2026-01-01."""
    store = FakeCatalogStore() if store is None else store
    catalog_service.create(
        account, Site, {"id": "berlin", "name": "Plant", "timezone": "Europe/Berlin"}, store
    )
    for n in range(1, meters + 1):
        meter = {"id": f"m{n}", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "main"}
        catalog_service.create(account, Meter, {**meter, "interval_minutes": 60}, store)
    tariff = {
        "id": "flat",
        "name": "Flat",
        "currency": "EUR",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
        "effective_from": "2026-01-01",
    }
    catalog_service.create_tariff(account, tariff, store)
    catalog_service.create(account, Customer, {"id": "c1", "name": "C1"}, store)
    assignment = {"id": "as1", "meter_id": "m1", "customer_id": "c1", "tariff_id": "flat"}
    catalog_service.create(account, Assignment, {**assignment, "effective_from": "2026-01-01"}, store)
    return store


def two_days(meter_id: str = "m1", *, skip: datetime | None = None) -> list[RawReading]:
    """Local 2026-03-28 (24 h) and the DST day 2026-03-29 (23 h): 1 kWh an hour, 2 kWh from 08:00 to 20:00."""
    start = datetime(2026, 3, 28, tzinfo=BERLIN).astimezone(UTC)
    readings = []
    for n in range(24 + 23):
        at = start + timedelta(hours=n)
        if skip is not None and at == skip:
            continue
        value = D("2.000") if 8 <= at.astimezone(BERLIN).hour < 20 else D("1.000")
        readings.append(RawReading(meter_id, at, value, "interval", 60))
    return readings


TEN_ON_THE_29TH = datetime(2026, 3, 29, 10, tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def ports() -> RatingStores:
    return RatingStores(
        FakeReadingStore(), hourly_catalog(), FakeMeteringStore(), accounts(), FakeInvoiceStore()
    )


def fakes(ports: RatingStores) -> tuple[FakeReadingStore, FakeMeteringStore]:
    assert isinstance(ports.readings, FakeReadingStore) and isinstance(ports.metering, FakeMeteringStore)
    return ports.readings, ports.metering


def test_ingest_marks_each_meter_and_utc_day_it_stored_readings_of(ports: RatingStores) -> None:
    readings, _ = fakes(ports)
    readings.put_new(A, two_days())
    readings.put_new(A, two_days())  # duplicates: no new mark
    # Local 28 March 00:00 is 27 March 23:00 UTC; local 29 March ends at 22:00 UTC.
    assert readings.pending_marks(limit=10) == [
        PendingMark(A, "m1", date(2026, 3, 27), 1),
        PendingMark(A, "m1", date(2026, 3, 28), 1),
        PendingMark(A, "m1", date(2026, 3, 29), 1),
    ]


def test_a_pass_stores_the_validated_dst_day_with_its_flags_and_23_hourly_rollups(
    ports: RatingStores,
) -> None:
    readings, metering = fakes(ports)
    readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))

    report = rating_pass(NOW, ports)

    assert (report.meters, report.days_written, report.months_written, report.costs_written) == (1, 2, 1, 1)
    assert (report.marks_cleared, report.marks_kept, readings.marks) == (3, 0, {})
    dst_day = metering.rated[(A, "m1", date(2026, 3, 29))]
    assert dst_day.start == datetime(2026, 3, 29, tzinfo=BERLIN)
    assert dst_day.values == (1000,) * 7 + (2000,) * 12 + (1000,) * 4  # 23 hours: 02:00 does not exist
    assert dst_day.exponent == -3
    assert dst_day.qualities == "A" * 9 + "E" + "A" * 13  # 10:00 is the 10th interval (no 02:00)
    assert dst_day.substitutions == {
        9: ("linear", "no readings for 1 h; interpolated between the neighbouring intervals")
    }
    hours = dst_day.hours()
    assert len(hours) == 23
    assert (hours[1].start, hours[1].end) == (
        datetime(2026, 3, 29, 1, tzinfo=BERLIN),
        datetime(2026, 3, 29, 3, tzinfo=BERLIN),
    )
    assert (hours[9].start.hour, hours[9].total, hours[9].estimated) == (10, D("2.000"), D("2.000"))
    day = dst_day.total()
    assert (day.total, day.estimated, day.intervals, day.missing) == (
        7 * D(1) + 12 * D(2) + 4 * D(1),
        D("2.000"),
        23,
        0,
    )
    assert metering.rated[(A, "m1", date(2026, 3, 28))].total().total == 8 * D(1) + 12 * D(2) + 4 * D(1)
    march = metering.monthly[(A, "m1", 2026, 3)]
    assert (march.days, march.total.total, march.total.estimated, march.total.intervals) == (
        2,
        D(36) + D(35),
        D(2),
        47,
    )


def test_the_running_cost_projects_the_cost_so_far_over_the_period(ports: RatingStores) -> None:
    readings, metering = fakes(ports)
    readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))

    rating_pass(NOW, ports)

    running = metering.running[(A, "c1")]
    assert (running.period_start, running.period_end, running.as_of) == (
        date(2026, 3, 1),
        date(2026, 4, 1),
        date(2026, 3, 30),
    )
    assert running.cost == (D(36) + D(35)) * D("0.30")
    assert running.projected == round_money(running.cost * 31 / 29, "EUR") == D("22.77")
    assert [(u.unit, u.total, u.estimated) for u in running.usage] == [("kWh", D(71), D(2))]


def test_the_running_period_is_the_bill_runs_a_colocation_customer_runs_from_the_1st(
    ports: RatingStores,
) -> None:
    # The account bills on the 15th; a customer whose meter hangs in a rack is colocation, billed on the 1st,
    # as the bill run invoices it (invoicing.customer_calendar).
    billing_settings.replace(A, {"bill_day": 15}, ports.accounts, NOW, if_match=None)
    rack = {"id": "m1", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.replace(
        A,
        Meter,
        "m1",
        {**rack, "interval_minutes": 60, "labels": {"rack": "R12"}},
        ports.catalog,
        if_match=None,
    )
    readings, metering = fakes(ports)
    readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))

    rating_pass(NOW, ports)

    running = metering.running[(A, "c1")]
    assert (running.period_start, running.period_end) == (date(2026, 3, 1), date(2026, 4, 1))


def test_a_second_pass_over_the_same_data_writes_nothing(ports: RatingStores) -> None:
    readings, metering = fakes(ports)
    readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))
    rating_pass(NOW, ports)
    writes = metering.writes
    readings.marks[(A, "m1", date(2026, 3, 28))] = 1  # marked again with nothing new

    report = rating_pass(NOW + timedelta(minutes=15), ports)

    assert (report.meters, report.marks_cleared) == (1, 1)
    assert (report.days_written, report.months_written, report.costs_written) == (0, 0, 0)
    assert metering.writes == writes


def test_a_late_reading_rewrites_its_day_and_month_only(ports: RatingStores) -> None:
    readings, metering = fakes(ports)
    readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))
    rating_pass(NOW, ports)
    before_28th = metering.rated[(A, "m1", date(2026, 3, 28))]

    readings.put_new(A, [RawReading("m1", TEN_ON_THE_29TH, D("2.500"), "interval", 60)])
    report = rating_pass(NOW + timedelta(minutes=15), ports)

    assert (report.days_written, report.months_written, report.costs_written) == (1, 1, 1)
    assert metering.rated[(A, "m1", date(2026, 3, 28))] is before_28th
    dst_day = metering.rated[(A, "m1", date(2026, 3, 29))]
    assert (dst_day.qualities, dst_day.substitutions, dst_day.total().total) == ("A" * 23, {}, D("35.5"))
    assert metering.monthly[(A, "m1", 2026, 3)].total.total == D(36) + D("35.5")
    assert metering.running[(A, "c1")].cost == (D(36) + D("35.5")) * D("0.30")


def test_a_finer_reading_rewrites_only_its_own_day_not_the_weeks_validated_with_it(
    ports: RatingStores,
) -> None:
    readings, metering = fakes(ports)
    whole = [replace(r, value=r.value.quantize(D(1))) for r in two_days()]  # "1", "2": exponent 0
    readings.put_new(A, whole)
    rating_pass(NOW, ports)
    before_28th = metering.rated[(A, "m1", date(2026, 3, 28))]

    readings.put_new(A, [RawReading("m1", TEN_ON_THE_29TH, D("2.5"), "interval", 60)])  # tenths
    report = rating_pass(NOW + timedelta(minutes=15), ports)

    # The span (27 March to now) is validated in tenths; the 28th holds the same kWh: not written again.
    assert (report.days_written, report.months_written) == (1, 1)
    assert metering.rated[(A, "m1", date(2026, 3, 28))] is before_28th
    dst_day = metering.rated[(A, "m1", date(2026, 3, 29))]
    assert (dst_day.exponent, dst_day.total().total) == (-1, 7 * D(1) + 12 * D(2) + 4 * D(1) + D("0.5"))


class ArrivesDuringThePass(FakeReadingStore):
    """A reading of m1 arrives while the pass validates m1 (after it read the marks)."""

    late: RawReading | None = None

    def between(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[RawReading]:
        found = list(super().between(account, meter_id, start, end))
        if self.late is not None:
            late, self.late = self.late, None
            self.put_new(account, [late])
        return iter(found)


def test_a_reading_stored_during_the_pass_keeps_its_mark_for_the_next_pass() -> None:
    readings = ArrivesDuringThePass()
    metering = FakeMeteringStore()
    ports = RatingStores(readings, hourly_catalog(), metering, accounts(), FakeInvoiceStore())
    readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))
    readings.late = RawReading("m1", TEN_ON_THE_29TH, D("2.500"), "interval", 60)

    first = rating_pass(NOW, ports)

    assert (first.marks_cleared, first.marks_kept) == (2, 1)
    assert readings.marks == {(A, "m1", date(2026, 3, 29)): 2}
    assert metering.rated[(A, "m1", date(2026, 3, 29))].qualities[9] == "E"  # rated without it

    second = rating_pass(NOW + timedelta(minutes=15), ports)

    assert (second.marks_cleared, second.marks_kept, readings.marks) == (1, 0, {})
    assert metering.rated[(A, "m1", date(2026, 3, 29))].total().total == D("35.5")


def test_a_large_pass_fans_out_in_batches_and_the_worker_runs_the_same_step() -> None:
    readings, metering, queue = FakeReadingStore(), FakeMeteringStore(), FakeWorkQueue()
    ports = RatingStores(readings, hourly_catalog(meters=5), metering, accounts(), FakeInvoiceStore())
    for n in range(1, 6):
        readings.put_new(A, two_days(f"m{n}"))

    report = rating_pass(NOW, ports, queue, fan_out_above=2, batch_size=2)

    assert (report.messages_sent, report.meters, metering.writes) == (3, 0, 0)
    assert [[m["meter_id"] for m in message["meters"]] for message in queue.messages] == [
        ["m1", "m2"],
        ["m3", "m4"],
        ["m5"],
    ]
    assert queue.messages[0]["meters"][0]["marks"][0] == {"day": "2026-03-27", "changes": 1}
    assert queue.messages[0]["at"] == "2026-03-30T00:30:00+02:00"
    done = [rate_message(message, ports) for message in queue.messages]
    assert [r.meters for r in done] == [2, 2, 1]
    assert sorted({m for (_, m, _) in metering.rated}) == ["m1", "m2", "m3", "m4", "m5"]
    assert readings.marks == {}


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"kind": "other"}, "kind"),
        ({"kind": KIND, "at": "2026-03-30T00:30"}, "at"),
        ({"kind": KIND, "at": AT, "meters": []}, "meters"),
        (
            {"kind": KIND, "at": AT, "meters": [{"account": A, "meter_id": "", "marks": []}]},
            "meters[0].meter_id",
        ),
        (
            {"kind": KIND, "at": AT, "meters": [{"account": A, "meter_id": "m1", "marks": [{"day": "x"}]}]},
            "meters[0].marks[0]",
        ),
    ],
)
def test_a_message_that_is_not_a_batch_of_meters_is_refused_naming_the_field(
    ports: RatingStores, message: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        rate_message(message, ports)
    assert raised.value.field == field


def test_the_night_clocks_go_back_has_25_hourly_rollups_with_two_2_am_hours() -> None:
    day = RatedDay(
        "m1", date(2026, 10, 25), datetime(2026, 10, 25, tzinfo=BERLIN), 60, "kWh", 0, (1,) * 25, "A" * 25
    )
    hours = day.hours()
    assert len(hours) == 25
    assert [(h.start.hour, h.start.utcoffset()) for h in hours[2:4]] == [
        (2, timedelta(hours=2)),
        (2, timedelta(hours=1)),
    ]
    assert day.total().total == 25


def test_on_lord_howe_the_hour_the_clocks_skip_half_of_is_a_half_hour_rollup() -> None:
    # 2026-10-04: clocks go from 02:00 (+10:30) to 02:30 (+11); the day has 47 half hours.
    start = datetime(2026, 10, 4, tzinfo=LORD_HOWE)
    day = RatedDay("m1", date(2026, 10, 4), start, 30, "kWh", 0, (1,) * 47, "A" * 47)
    hours = day.hours()
    assert len(hours) == 24
    skipped = hours[2]
    assert (skipped.start, skipped.end, skipped.intervals, skipped.total) == (
        datetime(2026, 10, 4, 2, 30, tzinfo=LORD_HOWE),
        datetime(2026, 10, 4, 3, tzinfo=LORD_HOWE),
        1,
        1,
    )
    assert day.end == datetime(2026, 10, 5, tzinfo=LORD_HOWE)


def test_a_customer_that_cannot_be_costed_is_reported_and_the_meter_still_rated() -> None:
    readings, metering = FakeReadingStore(), FakeMeteringStore()
    ports = RatingStores(readings, hourly_catalog(meters=2), metering, accounts(), FakeInvoiceStore())
    later = {
        "id": "later",
        "name": "Later",
        "currency": "EUR",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.40"}]}]},
        "effective_from": "2026-03-29",
    }
    catalog_service.create_tariff(A, later, ports.catalog)
    catalog_service.create(A, Customer, {"id": "c2", "name": "C2"}, ports.catalog)
    assignment = {"id": "as2", "meter_id": "m2", "customer_id": "c2", "tariff_id": "later"}
    catalog_service.create(A, Assignment, {**assignment, "effective_from": "2026-03-01"}, ports.catalog)
    readings.put_new(A, two_days("m2"))

    report = rating_pass(NOW, ports)

    assert (report.days_written, report.costs_written, readings.marks) == (2, 0, {})
    (failure,) = report.failures
    assert (failure.subject, failure.field) == ("customer c2", "assignment.tariff_id")
    assert (
        failure.reason
        == "assignment 'as2': no version of the tariff is in force from 2026-03-01 to 2026-03-29"
    )
    assert (A, "c2") not in metering.running


def test_the_day_still_running_ends_where_its_readings_end_not_with_an_estimated_last_hour(
    ports: RatingStores,
) -> None:
    readings, metering = fakes(ports)
    morning = [r for r in two_days() if r.timestamp < datetime(2026, 3, 29, 11, tzinfo=BERLIN)]
    readings.put_new(A, morning)

    rating_pass(datetime(2026, 3, 29, 11, 50, tzinfo=BERLIN), ports)  # 11:00-12:00 not sent yet

    today = metering.rated[(A, "m1", date(2026, 3, 29))]
    assert (today.end, today.qualities) == (datetime(2026, 3, 29, 11, tzinfo=BERLIN), "A" * 10)


def test_the_running_cost_from_rated_days_is_what_the_bill_preview_validating_raw_readings_gives(
    ports: RatingStores,
) -> None:
    readings, metering = fakes(ports)
    readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))
    rating_pass(NOW, ports)

    bills = bill_preview(A, "c1", date(2026, 3, 1), date(2026, 3, 30), ports.catalog, readings)

    assert metering.running[(A, "c1")].cost == sum(b.bill.total for b in bills) == D("21.30")


def test_rated_days_become_one_series_at_the_finest_exponent_with_unrated_hours_missing() -> None:
    first = RatedDay(
        "m1", date(2026, 3, 28), datetime(2026, 3, 28, tzinfo=BERLIN), 60, "kWh", 0, (2,) * 24, "A" * 24
    )
    dst = datetime(2026, 3, 29, tzinfo=BERLIN)
    second = RatedDay("m1", date(2026, 3, 29), dst, 60, "kWh", -3, (1500,) * 10, "A" * 9 + "E")  # to 11:00

    series = rated_series(
        [first, second], datetime(2026, 3, 28, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN), 60, "kWh"
    )

    assert (series.exponent, len(series.values)) == (-3, 24 + 23)
    assert series.values[:24] == [2000] * 24
    assert series.values[24:] == [1500] * 10 + [0] * 13
    assert series.missing == frozenset(range(34, 47))
    assert series.estimated == frozenset({33} | set(range(34, 47)))


def test_on_the_night_the_clocks_go_back_a_pass_at_noon_rates_13_hours_and_the_next_night_25() -> None:
    readings, metering = FakeReadingStore(), FakeMeteringStore()
    ports = RatingStores(readings, hourly_catalog(), metering, accounts(), FakeInvoiceStore())
    midnight = datetime(2026, 10, 25, tzinfo=BERLIN).astimezone(UTC)
    readings.put_new(
        A, [RawReading("m1", midnight + timedelta(hours=n), D(1), "interval", 60) for n in range(25)]
    )

    rating_pass(datetime(2026, 10, 25, 12, 10, tzinfo=BERLIN), ports)  # 00:00 to 12:00 is 13 hours today
    assert len(metering.rated[(A, "m1", date(2026, 10, 25))].values) == 13

    readings.marks[(A, "m1", date(2026, 10, 25))] = 1
    rating_pass(datetime(2026, 10, 26, 0, 30, tzinfo=BERLIN), ports)
    day = metering.rated[(A, "m1", date(2026, 10, 25))]
    assert (len(day.values), len(day.hours()), day.total().total) == (25, 25, D(25))


def test_a_meter_exchange_recorded_after_a_pass_is_rated_into_the_day_by_the_next_one(
    ports: RatingStores,
) -> None:
    """m1 is read as a register hourly on 2026-03-28; at 12:30 its device is swapped (old 1012.5, new 0.0)."""
    readings, metering = fakes(ports)
    day = datetime(2026, 3, 28, tzinfo=BERLIN)
    old = [(day + timedelta(hours=h), D(1000 + h)) for h in range(13)]  # 1000.0 at 00:00 ... 1012.0 at 12:00
    new = [(day + timedelta(hours=h), D(h - 12) - D("0.5")) for h in range(13, 25)]  # 0.5 at 13:00 ... 11.5
    readings.put_new(A, [RawReading("m1", at.astimezone(UTC), value, "register") for at, value in old + new])
    rating_pass(NOW, ports)
    before = metering.rated[(A, "m1", date(2026, 3, 28))]
    assert before.qualities[12] == "E"  # 12:00-13:00: the register fell from 1012.0 to 0.5, estimated

    swap = {"timestamp": "2026-03-28T12:30:00+01:00", "old_final": "1012.5", "new_initial": "0.0"}
    catalog_service.record_exchange(A, "m1", swap, ports.catalog, readings, if_match=None)
    report = rating_pass(NOW, ports)

    after = metering.rated[(A, "m1", date(2026, 3, 28))]
    swapped = (D("1012.5") - D("1012.0")) + (D("0.5") - D("0.0"))  # the old device's last half hour + new's
    assert report.meters == 1
    assert after.qualities == "A" * 24
    assert [D(v).scaleb(after.exponent) for v in after.values] == [D(1)] * 12 + [swapped] + [D(1)] * 11


def test_the_running_cost_of_a_residual_share_is_the_main_meter_minus_its_sub_meter(
    ports: RatingStores,
) -> None:
    catalog = ports.catalog
    catalog_service.create(
        A,
        Meter,
        {"id": "s1", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "sub",
         "parent_id": "m1", "interval_minutes": 60},
        catalog,
    )  # fmt: skip
    catalog_service.create(A, Customer, {"id": "c2", "name": "C2"}, catalog)
    residual = {"meter_id": "m1", "customer_id": "c2", "tariff_id": "flat", "basis": "residual"}
    catalog_service.create(A, Assignment, {**residual, "id": "as2", "effective_from": "2026-01-01"}, catalog)
    readings, metering = fakes(ports)
    readings.put_new(A, two_days())
    readings.put_new(A, [replace(r, meter_id="s1", value=D("0.5")) for r in two_days()])

    rating_pass(NOW, ports)

    # m1: 36 + 35 kWh over 28 and 29 March; s1: 47 hours * 0.5 kWh = 23.5; the residual 71 - 23.5 = 47.5.
    running = metering.running[(A, "c2")]
    assert [(u.unit, u.total, u.estimated) for u in running.usage] == [("kWh", D(71) - D("23.5"), D(0))]
    assert running.cost == D("47.5") * D("0.30") == D("14.25")


def test_on_day_1_of_the_period_the_running_cost_is_stored_in_the_tariffs_currency(
    ports: RatingStores,
) -> None:
    # The pass just after midnight of 2026-04-01: no day of the April period is over, nothing is priced yet,
    # but the cost (zero) is in the tariff's currency, never "".
    readings, metering = fakes(ports)
    readings.put_new(A, two_days())

    written = update_running_cost(A, "c1", datetime(2026, 4, 1, 0, 30, tzinfo=BERLIN), ports)

    running = metering.running[(A, "c1")]
    assert written == 1
    assert (running.period_start, running.as_of) == (date(2026, 4, 1), date(2026, 4, 1))
    assert (running.currency, running.cost, running.projected, running.usage) == ("EUR", D(0), D(0), ())
