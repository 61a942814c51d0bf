"""Energy evasion and phase-sum mismatch (issue 11, detectors 2 and 5): hand-made usage over one window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.alerts.energy import EvasionRule, PhaseSumRule, energy_evasion, phase_sum_mismatch
from meterbill.alerts.model import Subject
from meterbill.domain import Meter, MeterLabels

D = Decimal
START = datetime(2026, 3, 2, tzinfo=UTC)
END = START + timedelta(days=1)
NOW = END + timedelta(minutes=5)


def meter(id: str, kind: str = "sub", parent_id: str | None = "main", **fields: Any) -> Meter:
    defaults: dict[str, Any] = {
        "id": id,
        "account_id": "acme",
        "site_id": "fra1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": kind,
        "parent_id": None if kind == "main" else parent_id,
    }
    return Meter(**(defaults | fields))


SITE = [meter("main", kind="main"), meter("tenant-a"), meter("tenant-b")]


def test_evasion_above_both_thresholds_fires_with_both_numbers_the_window_and_the_sub_meters() -> None:
    usage = {"main": D("1000"), "tenant-a": D("500"), "tenant-b": D("380")}
    rule = EvasionRule(min_percent=D(5), min_absolute=D(50), loss_percent=D(2))

    [finding] = energy_evasion(SITE, usage, START, END, rule, NOW)

    losses = D("1000") * D(2) / 100  # 20
    unmetered = D("1000") - (D("500") + D("380")) - losses  # 100
    assert finding.active
    assert (finding.kind, finding.subject) == ("energy_evasion", Subject("meter", "main", "fra1"))
    assert finding.facts["unmetered"] == str(unmetered) == "100"
    assert finding.facts["unmetered_percent"] == "10.00"  # 100 * 100 / 1000
    assert finding.facts["declared_losses"] == str(losses) == "20"
    assert finding.facts["sub_usage"] == "880"
    assert finding.facts["sub_meters"] == "tenant-a,tenant-b"
    assert (finding.facts["window_start"], finding.facts["window_end"]) == (
        START.isoformat(),
        END.isoformat(),
    )
    assert finding.depends_on == tuple(Subject("meter", m, "fra1") for m in ("main", "tenant-a", "tenant-b"))
    assert finding.observed_at == NOW
    assert finding.summary == (
        "Main meter main: 100 kWh (10.00 %) unmetered beyond its 2 sub-meter(s) "
        "from 2026-03-02 00:00 UTC to 2026-03-03 00:00 UTC"
    )


def test_evasion_tells_its_window_on_the_clock_the_pass_gives_it() -> None:
    usage = {"main": D("1000"), "tenant-a": D("500"), "tenant-b": D("380")}
    berlin = ZoneInfo("Europe/Berlin")
    start, end = datetime(2026, 3, 28, tzinfo=berlin), datetime(2026, 3, 30, tzinfo=berlin)  # across DST

    [finding] = energy_evasion(SITE, usage, start, end, EvasionRule(), NOW)

    assert finding.summary.endswith("from 2026-03-28 00:00 CET to 2026-03-30 00:00 CEST")


@pytest.mark.parametrize(
    ("main", "subs", "unmetered"),
    [
        # 1000 − (600 + 350) = 50: 50 * 100 / 1000 = 5 % is not above 5 % (though 50 is above 10)
        (D("1000"), (D("600"), D("350")), "50"),
        # 150 − (100 + 40) = 10: 10 * 100 / 150 = 6.67 % is above 5 %, but 10 is not above 10
        (D("150"), (D("100"), D("40")), "10"),
    ],
)
def test_evasion_within_either_threshold_stays_quiet(
    main: Decimal, subs: tuple[Decimal, Decimal], unmetered: str
) -> None:
    usage = {"main": main, "tenant-a": subs[0], "tenant-b": subs[1]}

    [finding] = energy_evasion(SITE, usage, START, END, EvasionRule(), NOW)

    assert not finding.active
    assert finding.facts["unmetered"] == unmetered


def test_evasion_declared_losses_keep_a_lossy_site_quiet() -> None:
    usage = {"main": D("1000"), "tenant-a": D("500"), "tenant-b": D("400")}  # 100 unmetered, 10 %
    assert energy_evasion(SITE, usage, START, END, EvasionRule(), NOW)[0].active
    # 8 % declared losses: 1000 − 900 − 80 = 20 unmetered, 2 % (not above 5 %)
    [finding] = energy_evasion(SITE, usage, START, END, EvasionRule(loss_percent=D(8)), NOW)
    assert not finding.active
    assert finding.facts["unmetered"] == str(D("1000") - D("900") - D("1000") * D(8) / 100)


def test_evasion_is_not_judged_without_every_meters_usage_or_without_sub_meters() -> None:
    partial = {"main": D("1000"), "tenant-a": D("500")}
    assert energy_evasion(SITE, partial, START, END, EvasionRule(), NOW) == []
    assert (
        energy_evasion([meter("lonely", kind="main")], {"lonely": D(5)}, START, END, EvasionRule(), NOW) == []
    )


def test_evasion_with_a_silent_main_meter_is_inactive() -> None:
    usage = {"main": D(0), "tenant-a": D(0), "tenant-b": D(0)}
    [finding] = energy_evasion(SITE, usage, START, END, EvasionRule(), NOW)
    assert not finding.active
    assert finding.facts["unmetered_percent"] == "n/a"


def test_evasion_rejects_a_naive_or_empty_window() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        energy_evasion(SITE, {}, START.replace(tzinfo=None), END, EvasionRule(), NOW)
    with pytest.raises(ValueError, match="must be after its start"):
        energy_evasion(SITE, {}, END, START, EvasionRule(), NOW)


def labelled(id: str, kind: str, feed: str = "A", phase: str = "L1", site_id: str = "fra1") -> Meter:
    return meter(
        id, kind=kind, parent_id="master-a-l1", site_id=site_id, labels=MeterLabels(feed=feed, phase=phase)
    )


ROW = [
    labelled("master-a-l1", "main"),
    labelled("pdu-1", "sub"),
    labelled("pdu-2", "sub"),
    labelled("pdu-3", "sub", phase="L2"),  # another phase: no master, not judged
]


def test_phase_sum_beyond_tolerance_fires() -> None:
    usage = {"master-a-l1": D("200"), "pdu-1": D("100"), "pdu-2": D("90"), "pdu-3": D("70")}

    [finding] = phase_sum_mismatch(ROW, usage, START, END, PhaseSumRule(tolerance_percent=D(2)), NOW)

    assert finding.active
    assert (finding.kind, finding.subject) == ("phase_sum", Subject("meter", "master-a-l1", "fra1"))
    assert finding.facts["difference"] == str(D("100") + D("90") - D("200")) == "-10"
    assert finding.facts["difference_percent"] == "5.00"  # 10 * 100 / 200
    assert (finding.facts["feed"], finding.facts["phase"], finding.facts["pdus"]) == (
        "A",
        "L1",
        "pdu-1,pdu-2",
    )
    assert [s.id for s in finding.depends_on] == ["master-a-l1", "pdu-1", "pdu-2"]


def test_phase_sum_within_tolerance_stays_quiet() -> None:
    # 197 vs 200: 3 * 100 / 200 = 1.5 % ≤ 2 %
    usage = {"master-a-l1": D("200"), "pdu-1": D("100"), "pdu-2": D("97")}
    [finding] = phase_sum_mismatch(ROW, usage, START, END, PhaseSumRule(), NOW)
    assert not finding.active
    assert finding.facts["difference_percent"] == "1.50"


def test_phase_sum_groups_by_site_feed_and_phase() -> None:
    other_site = [labelled("master-b", "main", site_id="ams1"), labelled("pdu-9", "sub", site_id="ams1")]
    usage = {
        "master-a-l1": D("200"),
        "pdu-1": D("100"),
        "pdu-2": D("100"),
        "master-b": D("10"),
        "pdu-9": D("20"),
    }
    findings = phase_sum_mismatch(ROW + other_site, usage, START, END, PhaseSumRule(), NOW)
    assert [(f.subject.id, f.active) for f in findings] == [("master-b", True), ("master-a-l1", False)]


def test_phase_sum_with_a_zero_master_fires_only_if_the_pdus_drew_power() -> None:
    quiet = phase_sum_mismatch(
        ROW, {"master-a-l1": D(0), "pdu-1": D(0), "pdu-2": D(0)}, START, END, PhaseSumRule(), NOW
    )
    loud = phase_sum_mismatch(
        ROW, {"master-a-l1": D(0), "pdu-1": D(1), "pdu-2": D(0)}, START, END, PhaseSumRule(), NOW
    )
    assert (quiet[0].active, loud[0].active) == (False, True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"min_percent": D(-1)}, "min_percent -1 must be a finite number of at least 0"),
        ({"loss_percent": D(100)}, "loss_percent 100 must be below 100"),
        ({"min_absolute": D("NaN")}, "min_absolute NaN must be a finite number"),
    ],
)
def test_an_evasion_rule_names_the_field_it_refuses(fields: dict[str, Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EvasionRule(**fields)
