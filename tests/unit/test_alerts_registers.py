"""Detectors 3 and 4: a register that goes down, and an exchange or rollover for a person to confirm."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.alerts.model import Finding, Subject
from meterbill.alerts.registers import RegisterRules, register_findings
from meterbill.domain import Meter
from meterbill.ports import RawReading

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 6, 2, 0, 0, tzinfo=BERLIN)


def meter(**fields: Any) -> Meter:
    defaults: dict[str, Any] = {
        "id": "m1",
        "account_id": "acc",
        "site_id": "site1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
    }
    return Meter(**(defaults | fields))


def reads(*points: tuple[str, str]) -> list[RawReading]:
    return [RawReading("m1", datetime.fromisoformat(t), Decimal(v), "register") for t, v in points]


def kinds(findings: list[Finding]) -> list[tuple[str, bool]]:
    return [(f.kind, f.active) for f in findings]


def test_a_register_that_goes_down_is_negative_consumption() -> None:
    series = reads(
        ("2026-06-01T10:00+02:00", "1500.2"),
        ("2026-06-01T10:15+02:00", "1500.7"),
        ("2026-06-01T10:30+02:00", "1480.7"),
    )
    assert register_findings(meter(), series, NOW, zone=BERLIN) == [
        Finding(
            "negative_consumption",
            Subject("meter", "m1", "site1"),
            "warning",
            True,
            NOW,
            "meter m1: register fell from 1500.7 to 1480.7 at 2026-06-01 10:30 CEST",
            {
                "previous_value": "1500.7",
                "previous_at": "2026-06-01T10:15:00+02:00",
                "value": "1480.7",
                "at": "2026-06-01T10:30:00+02:00",
                "drop": str(Decimal("1500.7") - Decimal("1480.7")),  # 20.0
            },
        )
    ]


def test_a_rising_or_level_register_is_not_judged() -> None:
    series = reads(
        ("2026-06-01T10:00+02:00", "10"), ("2026-06-01T10:15+02:00", "10"), ("2026-06-01T10:30+02:00", "11")
    )
    assert register_findings(meter(), series, NOW) == []


def test_reads_are_judged_in_time_order_whatever_the_order_given() -> None:
    series = reads(("2026-06-01T10:30+02:00", "12"), ("2026-06-01T10:00+02:00", "10"))
    assert register_findings(meter(), series, NOW) == []


def test_a_rollover_near_the_maximum_is_no_negative_consumption_but_an_exchange_to_confirm() -> None:
    series = reads(("2026-06-01T10:00+02:00", "99999.5"), ("2026-06-01T10:15+02:00", "0.3"))
    findings = register_findings(meter(register_max=Decimal("99999.9")), series, NOW)
    assert kinds(findings) == [("meter_exchange", True)]
    assert findings[0].severity == "info"
    assert findings[0].facts == {
        "previous_value": "99999.5",
        "previous_at": "2026-06-01T10:00:00+02:00",
        "value": "0.3",
        "at": "2026-06-01T10:15:00+02:00",
        "drop": "99999.2",
        "register_max": "99999.9",
        "detected": "rollover",
    }


def test_a_drop_from_mid_range_is_no_rollover() -> None:
    # 50,000 is not within 10 % of the 99,999.9 maximum: the register went down.
    series = reads(("2026-06-01T10:00+02:00", "50000"), ("2026-06-01T10:15+02:00", "0.3"))
    findings = register_findings(meter(register_max=Decimal("99999.9")), series, NOW)
    assert kinds(findings) == [("meter_exchange", True), ("negative_consumption", True)]
    assert findings[0].facts["detected"] == "counter_reset"


def test_the_rollover_margin_is_a_rule() -> None:
    series = reads(("2026-06-01T10:00+02:00", "95000"), ("2026-06-01T10:15+02:00", "2000"))
    wide = register_findings(meter(register_max=Decimal("99999.9")), series, NOW)
    narrow = register_findings(
        meter(register_max=Decimal("99999.9")), series, NOW, RegisterRules(rollover_margin=Decimal("0.01"))
    )
    assert kinds(wide) == [("meter_exchange", True)]
    assert kinds(narrow) == [("negative_consumption", True)]


def test_a_counter_reset_without_a_record_looks_like_a_new_device() -> None:
    series = reads(("2026-06-01T10:00+02:00", "48213.6"), ("2026-06-01T10:15+02:00", "1.2"))
    findings = register_findings(meter(), series, NOW)
    assert kinds(findings) == [("meter_exchange", True), ("negative_consumption", True)]
    exchange = findings[0]
    assert exchange.severity == "info"
    assert exchange.summary == (
        "meter m1: register reset from 48213.6 to 1.2, a new device? Record the exchange to confirm"
    )
    assert exchange.facts["detected"] == "counter_reset"
    assert exchange.facts["drop"] == str(Decimal("48213.6") - Decimal("1.2"))  # 48212.4


def test_a_recorded_exchange_explains_the_drop_and_resolves_the_exchange_finding() -> None:
    exchange = {
        "timestamp": "2026-06-01T10:10+02:00",
        "old_final": "48213.9",
        "new_initial": "0.5",
        "new_serial": "B-2",
    }
    series = reads(("2026-06-01T10:00+02:00", "48213.6"), ("2026-06-01T10:15+02:00", "1.2"))
    findings = register_findings(meter(exchanges=[exchange]), series, NOW)
    assert kinds(findings) == [("meter_exchange", False), ("negative_consumption", False)]
    assert findings[0].facts == {
        "previous_value": "48213.6",
        "previous_at": "2026-06-01T10:00:00+02:00",
        "value": "1.2",
        "at": "2026-06-01T10:15:00+02:00",
        "drop": "48212.4",
        "exchange_at": "2026-06-01T10:10:00+02:00",
        "new_initial": "0.5",
        "detected": "exchange",
    }


def test_a_read_below_the_new_devices_initial_read_is_still_negative() -> None:
    exchange = {"timestamp": "2026-06-01T10:10+02:00", "old_final": "48213.9", "new_initial": "5"}
    series = reads(("2026-06-01T10:00+02:00", "48213.6"), ("2026-06-01T10:15+02:00", "1.2"))
    findings = register_findings(meter(exchanges=[exchange]), series, NOW, zone=BERLIN)
    assert kinds(findings) == [("meter_exchange", False), ("negative_consumption", True)]
    assert findings[1].summary == (
        "meter m1: register 1.2 at 2026-06-01 10:15 CEST is below the new device's initial read 5"
    )


def test_an_exchange_outside_the_pair_does_not_explain_it() -> None:
    exchange = {"timestamp": "2026-06-01T10:20+02:00", "old_final": "1", "new_initial": "0"}
    series = reads(("2026-06-01T10:00+02:00", "48213.6"), ("2026-06-01T10:15+02:00", "40000"))
    findings = register_findings(meter(exchanges=[exchange]), series, NOW)
    assert kinds(findings) == [("negative_consumption", True)]


def test_pairs_are_consecutive_in_real_time_across_the_fall_back_hour() -> None:
    # 2026-10-25 in Berlin: 02:30+02:00 comes before 02:15+01:00 (wall clock would order them the other way).
    series = [
        RawReading("m1", datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN), Decimal("100"), "register"),
        RawReading("m1", datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN), Decimal("101"), "register"),
    ]
    assert register_findings(meter(), series, NOW) == []
    series[1] = RawReading(
        "m1", datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN), Decimal("99"), "register"
    )
    findings = register_findings(meter(), series, NOW)
    assert kinds(findings) == [("negative_consumption", True)]
    assert findings[0].facts["at"] == "2026-10-25T02:15:00+01:00"


def test_interval_readings_null_reads_and_other_meters_are_ignored() -> None:
    series = [
        RawReading("m1", datetime(2026, 6, 1, 10, 0, tzinfo=BERLIN), Decimal("100"), "register"),
        RawReading("m1", datetime(2026, 6, 1, 10, 5, tzinfo=BERLIN), Decimal("0"), "register", quality="N"),
        RawReading("m1", datetime(2026, 6, 1, 10, 10, tzinfo=BERLIN), Decimal("2"), "interval", 15),
        RawReading("m2", datetime(2026, 6, 1, 10, 10, tzinfo=BERLIN), Decimal("50"), "register"),
        RawReading("m1", datetime(2026, 6, 1, 10, 15, tzinfo=BERLIN), Decimal("101"), "register"),
    ]
    assert register_findings(meter(), series, NOW) == []


def test_naive_times_are_refused_naming_the_field() -> None:
    naive = [RawReading("m1", datetime(2026, 6, 1, 8, 0), Decimal(1), "register")]
    with pytest.raises(ValueError, match=r"^reading of m1: timestamp: 2026-06-01T08:00:00 must be"):
        register_findings(meter(), naive, NOW)
    with pytest.raises(ValueError, match=r"^now: 2026-06-02T00:00:00 must be timezone-aware$"):
        register_findings(meter(), [], datetime(2026, 6, 2))


def test_summaries_tell_the_time_on_the_sites_clock_whatever_offset_the_reads_carry() -> None:
    stored_in_utc = reads(("2026-10-25T00:45+00:00", "200.5"), ("2026-10-25T01:15:07+00:00", "190"))
    (finding,) = register_findings(meter(), stored_in_utc, NOW, zone=BERLIN)
    # 01:15:07 UTC on the night Berlin goes back: 02:15:07 in winter time, the second 02:15 of the night.
    assert finding.summary == "meter m1: register fell from 200.5 to 190 at 2026-10-25 02:15:07 CET"
    assert finding.facts["at"] == "2026-10-25T01:15:07+00:00"  # facts keep the read's own ISO 8601
    (told_as_read,) = register_findings(meter(), stored_in_utc, NOW)
    assert told_as_read.summary.endswith("at 2026-10-25 01:15:07 UTC")
