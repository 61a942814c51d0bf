"""The console's sites pages: the tree of a colocation room (room hall-1, racks R01/R02, feeds A/B, phases
L1-L3, a PDU per rack, feed and phase, a master meter per feed and phase) with its sums per rack, feed,
phase and room computed by hand; mixed units kept apart; status propagation; the customers on a site and a
main meter's unaccounted part; through the API's handler on the fakes: the month on the site's calendar (a
reading at 2026-11-30T23:30Z counts for Berlin's December), a read session sees the pages, another account's
site is 404."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from html import unescape

import pytest

from meterbill.alerts.lifecycle import Alert, StateChange
from meterbill.alerts.model import Subject
from meterbill.api import dependencies
from meterbill.console import site_pages
from meterbill.console.site_pages import Node
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.ports import MonthRollup, RatingStores, RawReading, Rollup
from meterbill.services.rating import rating_pass
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, AlertFakes, handler_client
from tests.unit.test_console_pages import get, seed, sign_in

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

SITE = Site(id="colo", account_id=ACCOUNT, name="Colo Berlin", timezone="Europe/Berlin")
NOW = datetime(2026, 12, 10, 9, tzinfo=UTC)
# Month to date (kWh) of each PDU: rack → feed → phase.
PDUS = {
    "R01": {"A": {"L1": "10", "L2": "11", "L3": "12"}, "B": {"L1": "5", "L2": "6", "L3": "7"}},
    "R02": {"A": {"L1": "20", "L2": "21", "L3": "22"}, "B": {"L1": "1", "L2": "2", "L3": "3"}},
}
# Each feed's phase master measures its PDUs and a little more (the unaccounted power).
MASTERS = {
    "A": {"L1": "31.5", "L2": "32", "L3": "35"},  # 10+20 = 30 of 31.5; 11+21 = 32 of 32; 12+22 = 34 of 35
    "B": {"L1": "6", "L2": "9", "L3": "10"},  # 5+1 = 6 of 6; 6+2 = 8 of 9; 7+3 = 10 of 10
}


def meter(
    meter_id: str, *, unit: str = "kWh", utility: str = "electricity", kind: str = "sub", **labels: str
) -> Meter:
    parent = labels.pop("parent", None)
    return Meter.model_validate(
        {
            "id": meter_id,
            "account_id": ACCOUNT,
            "site_id": labels.pop("site", SITE.id),
            "utility": utility,
            "unit": unit,
            "kind": kind,
            "parent_id": parent,
            "labels": labels,
        }
    )


def rollup(meter_id: str, total: str, unit: str = "kWh", *, missing: bool = False) -> MonthRollup:
    start = datetime(2026, 12, 1, tzinfo=SITE.zone())
    return MonthRollup(
        meter_id=meter_id,
        year=2026,
        month=12,
        unit=unit,
        days=9,
        total=Rollup(start, start + timedelta(days=9), D(total), D(0), 864, 864 if missing else 0),
    )


def colocation() -> tuple[list[Meter], dict[str, MonthRollup | None]]:
    meters, usage = [], {}
    for feed, phases in MASTERS.items():
        for phase, total in phases.items():
            master = f"m-{feed}-{phase}"
            meters.append(
                meter(
                    master,
                    kind="main",
                    room="hall-1",
                    feed=feed,
                    phase=phase,
                    device=f"Master {feed}-{phase}",
                )
            )
            usage[master] = rollup(master, total)
    for rack, feeds in PDUS.items():
        for feed, phases in feeds.items():
            for phase, total in phases.items():
                pdu = f"pdu-{rack}-{feed}-{phase}"
                meters.append(
                    meter(
                        pdu,
                        parent=f"m-{feed}-{phase}",
                        room="hall-1",
                        rack=rack,
                        feed=feed,
                        phase=phase,
                        device=f"PDU {rack}{feed}{phase}",
                    )
                )
                usage[pdu] = rollup(pdu, total)
    return meters, usage


def node(tree: Node, path: str) -> Node:
    """The node at ``path`` ("hall-1/R01/A/L1"), by names."""
    found = tree
    for name in path.split("/"):
        matches = [c for c in found.children if c.name == name]
        assert len(matches) == 1, (name, [c.name for c in found.children])
        found = matches[0]
    return found


def usage_of(n: Node) -> list[tuple[str, D, str | None]]:
    return [(u.unit, u.total, u.share) for u in n.usage]


def shape(n: Node) -> object:
    """The tree as nested (level, name, children) tuples; a device as ("device", name, meter id)."""
    if n.meter is not None:
        return ("device", n.name, n.meter.id)
    return (n.level, n.name, [shape(c) for c in n.children])


def alert(n: int, meter_id: str, severity: str, *, state: str = "firing", kind: str = "meter") -> Alert:
    seen = NOW - timedelta(hours=n)
    return Alert(
        id=f"fp{n:04d}-{seen:%Y%m%dT%H%M%SZ}",
        fingerprint=f"fp{n:04d}",
        account_id=ACCOUNT,
        kind="flat_line",
        subject=Subject(kind, meter_id, SITE.id),  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        summary=f"{meter_id} is flat",
        facts={},
        depends_on=(),
        first_seen=seen,
        last_seen=seen,
        active_since=seen if state != "resolved" else None,
        fired_at=seen if state == "firing" else None,
        resolved_at=seen + timedelta(minutes=5) if state == "resolved" else None,
        history=(StateChange(seen, "pending", "seen"),),
    )


# --- the page model -----------------------------------------------------------------------------------------


def test_the_colocation_room_is_site_room_rack_feed_phase_device_with_masters_under_the_rooms_feeds() -> None:
    meters, usage = colocation()
    tree = site_pages.site_tree(SITE, meters, usage, [])
    pdus = lambda rack: [  # noqa: E731
        (
            "feed",
            feed,
            [
                ("phase", p, [("device", f"PDU {rack}{feed}{p}", f"pdu-{rack}-{feed}-{p}")])
                for p in ("L1", "L2", "L3")
            ],
        )
        for feed in ("A", "B")
    ]
    masters = [
        (
            "feed",
            feed,
            [("phase", p, [("device", f"Master {feed}-{p}", f"m-{feed}-{p}")]) for p in ("L1", "L2", "L3")],
        )
        for feed in ("A", "B")
    ]
    assert shape(tree) == (
        "site",
        "Colo Berlin",
        [("room", "hall-1", [("rack", "R01", pdus("R01")), ("rack", "R02", pdus("R02")), *masters])],
    )


def test_each_node_sums_its_devices_without_counting_a_pdu_and_its_master_twice() -> None:
    meters, usage = colocation()
    tree = site_pages.site_tree(SITE, meters, usage, [])
    room = D("31.5") + 32 + 35 + 6 + 9 + 10  # the six masters: 123.5 kWh (the PDUs are inside them)
    assert usage_of(tree) == [("kWh", room, None)]
    assert usage_of(node(tree, "hall-1")) == [("kWh", D("123.5"), "100.0 %")]
    assert usage_of(node(tree, "hall-1/R01")) == [
        ("kWh", D(10 + 11 + 12 + 5 + 6 + 7), "41.3 %")
    ]  # 51 / 123.5
    assert usage_of(node(tree, "hall-1/R02")) == [
        ("kWh", D(20 + 21 + 22 + 1 + 2 + 3), "55.9 %")
    ]  # 69 / 123.5
    assert usage_of(node(tree, "hall-1/R01/A")) == [("kWh", D(10 + 11 + 12), "26.7 %")]  # 33 / 123.5
    assert usage_of(node(tree, "hall-1/R01/B")) == [("kWh", D(5 + 6 + 7), "14.6 %")]  # 18 / 123.5
    assert usage_of(node(tree, "hall-1/R02/B/L3")) == [("kWh", D(3), "2.4 %")]  # 3 / 123.5
    assert usage_of(node(tree, "hall-1/A")) == [("kWh", D("31.5") + 32 + 35, "79.8 %")]  # 98.5 / 123.5
    assert usage_of(node(tree, "hall-1/B/L2")) == [("kWh", D(9), "7.3 %")]  # 9 / 123.5
    assert node(tree, "hall-1/R01/A/L2/PDU R01AL2").meter is not None
    assert [u.text for u in node(tree, "hall-1/R01").usage] == ["51.000 kWh"]


def test_a_master_shows_how_much_of_it_its_sub_meters_account_for() -> None:
    meters, usage = colocation()
    tree = site_pages.site_tree(SITE, meters, usage, [])
    a_l1 = node(tree, "hall-1/A/L1/Master A-L1").sub_metering
    assert a_l1 is not None
    assert (a_l1.sub_meters, a_l1.accounted, a_l1.unaccounted, a_l1.share) == (
        2,
        D(10 + 20),
        D("31.5") - 30,  # 1.5 kWh unaccounted
        "95.2 %",  # 30 / 31.5
    )
    b_l2 = node(tree, "hall-1/B/L2/Master B-L2").sub_metering
    assert b_l2 is not None and (b_l2.accounted, b_l2.unaccounted, b_l2.share) == (D(8), D(1), "88.9 %")
    assert node(tree, "hall-1/R01/A/L1/PDU R01AL1").sub_metering is None


def test_a_meter_without_rack_hangs_under_its_room_and_one_without_room_under_the_site() -> None:
    meters = [
        meter("m-rack-only", kind="main", rack="R09"),
        meter("m-bare", kind="main"),
        meter("m-room", kind="main", room="hall-2", phase="L2"),
    ]
    tree = site_pages.site_tree(SITE, meters, {}, [])
    assert shape(tree) == (
        "site",
        "Colo Berlin",
        [
            ("room", "hall-2", [("phase", "L2", [("device", "m-room", "m-room")])]),
            ("rack", "R09", [("device", "m-rack-only", "m-rack-only")]),
            ("device", "m-bare", "m-bare"),
        ],
    )


def test_units_are_kept_apart_and_shares_are_of_the_same_unit() -> None:
    meters, usage = colocation()
    meters += [
        meter("w-cooling", unit="m3", utility="water", kind="main", room="hall-1", device="Cooling water"),
        meter("w-office", unit="m3", utility="water", kind="main", device="Office water"),
        meter("chk-A-L1", kind="check", room="hall-1", feed="A", phase="L1", device="Check A-L1"),
    ]
    usage |= {
        "w-cooling": rollup("w-cooling", "12.5", "m3"),
        "w-office": rollup("w-office", "2.5", "m3"),
        "chk-A-L1": rollup("chk-A-L1", "31.4"),  # measures what Master A-L1 does: never added
    }
    tree = site_pages.site_tree(SITE, meters, usage, [])
    assert usage_of(tree) == [("kWh", D("123.5"), None), ("m3", D("12.5") + D("2.5"), None)]
    assert usage_of(node(tree, "hall-1")) == [("kWh", D("123.5"), "100.0 %"), ("m3", D("12.5"), "83.3 %")]
    assert usage_of(node(tree, "hall-1/A/L1")) == [("kWh", D("31.5"), "25.5 %")]  # 31.5 / 123.5
    assert usage_of(node(tree, "hall-1/A/L1/Check A-L1")) == [("kWh", D("31.4"), "25.4 %")]
    assert [u.text for u in tree.usage] == ["123.500 kWh", "15.000 m3"]


def test_the_worst_open_alert_wins_upward_and_a_node_without_any_data_says_so() -> None:
    meters, usage = colocation()
    usage["pdu-R02-B-L1"] = None  # not rated this month
    usage["pdu-R02-B-L2"] = rollup("pdu-R02-B-L2", "0", missing=True)  # rated, every interval null
    alerts = [
        alert(1, "pdu-R01-A-L2", "warning"),
        alert(2, "pdu-R02-A-L3", "critical", state="pending"),
        alert(3, "pdu-R01-B-L1", "critical", state="resolved"),  # resolved: not open
        alert(4, "pdu-R01-A-L2", "info"),
    ]
    tree = site_pages.site_tree(SITE, meters, usage, alerts)
    status = {
        path: node(tree, path).status
        for path in (
            "hall-1/R01/A/L2/PDU R01AL2",
            "hall-1/R01/A/L2",
            "hall-1/R01/A",
            "hall-1/R01",
            "hall-1/R01/B",
            "hall-1/R02/A",
            "hall-1/R02",
            "hall-1",
            "hall-1/R02/B/L1",
            "hall-1/R02/B/L2",
            "hall-1/R02/B",
            "hall-1/A",
        )
    }
    assert status == {
        "hall-1/R01/A/L2/PDU R01AL2": "warning",
        "hall-1/R01/A/L2": "warning",
        "hall-1/R01/A": "warning",
        "hall-1/R01": "warning",
        "hall-1/R01/B": "ok",  # its critical alert is resolved
        "hall-1/R02/A": "critical",
        "hall-1/R02": "critical",
        "hall-1": "critical",
        "hall-1/R02/B/L1": "no-data",
        "hall-1/R02/B/L2": "no-data",
        "hall-1/R02/B": "ok",  # L3 has data: ok, two of its three meters without data
        "hall-1/A": "ok",  # the masters: no alert
    }
    assert tree.status == "critical"
    rack_b = node(tree, "hall-1/R02/B")
    assert (rack_b.without_data, rack_b.meters, usage_of(rack_b)) == (2, 3, [("kWh", D(3), "2.4 %")])
    assert node(tree, "hall-1/R01/A/L2/PDU R01AL2").alerts == [
        "warning: pdu-R01-A-L2 is flat",
        "info: pdu-R01-A-L2 is flat",
    ]
    site_alert = alert(5, SITE.id, "warning", kind="site")
    quiet = site_pages.site_tree(SITE, meters, colocation()[1], [site_alert])
    assert (quiet.status, node(quiet, "hall-1").status) == ("warning", "ok")
    offline = replace(alert(6, "col-1", "critical"), subject=Subject("collector", "col-1", SITE.id))
    elsewhere = replace(alert(7, "col-2", "critical"), subject=Subject("collector", "col-2", "other-site"))
    unheard = site_pages.site_tree(SITE, meters, colocation()[1], [offline, elsewhere])
    assert (unheard.status, node(unheard, "hall-1").status) == ("critical", "ok")  # its collector is offline
    assert site_pages.site_tree(SITE, meters, colocation()[1], [elsewhere]).status == "ok"


def test_the_customers_holding_the_sites_meters_today_with_their_month_to_date_power() -> None:
    meters, usage = colocation()
    customers = {
        "cus-acme": Customer(id="cus-acme", account_id=ACCOUNT, name="Acme"),
        "cus-zed": Customer(id="cus-zed", account_id=ACCOUNT, name="Zed Hosting"),
    }
    today = date(2026, 12, 10)

    def assign(
        n: int, meter_id: str, customer: str, start: str, end: str | None = None, **more: str
    ) -> Assignment:
        body = {
            "id": f"asg-{n}",
            "account_id": ACCOUNT,
            "meter_id": meter_id,
            "customer_id": customer,
            "tariff_id": "t",
            "effective_from": start,
            "effective_to": end,
            **more,
        }
        return Assignment.model_validate(body)

    every = [
        *(
            assign(n, f"pdu-R01-{f}-{p}", "cus-acme", "2026-01-01")
            for n, (f, p) in enumerate([(f, p) for f in "AB" for p in ("L1", "L2", "L3")], start=1)
        ),
        assign(10, "pdu-R02-A-L1", "cus-zed", "2026-12-01"),
        assign(11, "pdu-R02-A-L2", "cus-zed", "2026-12-01", share="0.5"),
        assign(12, "pdu-R02-A-L3", "cus-acme", "2026-01-01", "2026-12-10"),  # moved out yesterday
        assign(13, "m-A-L1", "cus-zed", "2026-12-01", basis="residual"),
        assign(14, "m-B-L2", "cus-zed", "2026-12-01", basis="residual", allocation="area"),
    ]
    active = site_pages.active_today(every, today)
    assert [a.id for a in active] == [f"asg-{n}" for n in (1, 2, 3, 4, 5, 6, 10, 11, 13, 14)]
    tree = site_pages.site_tree(SITE, meters, usage, [], site_pages.holders(active, customers))
    rows = site_pages.customer_rows(tree, active, customers, usage)
    assert [(r.name, [u.text for u in r.usage], [u.share for u in r.usage], r.residuals) for r in rows] == [
        ("Acme", ["51.000 kWh"], ["41.3 %"], []),  # rack R01: 10+11+12+5+6+7 = 51; 51 / 123.5
        # 20 + 21 × 0.5 + (31.5 - 30) × 1 (the residual of master A/L1) = 32; 32 / 123.5
        ("Zed Hosting", ["32.000 kWh"], ["25.9 %"], ["Master B-L2 (residual by area)"]),
    ]
    assert [d for d, _ in rows[1].devices] == ["m-A-L1", "m-B-L2", "pdu-R02-A-L1", "pdu-R02-A-L2"]
    assert node(tree, "hall-1/R02/A/L1/PDU R02AL1").customers == [("cus-zed", "Zed Hosting")]
    assert node(tree, "hall-1/R02/A/L3/PDU R02AL3").customers == []


def test_the_month_is_the_sites_local_month() -> None:
    berlin = SITE.zone()
    assert site_pages.month_of(datetime(2026, 11, 30, 23, 0, tzinfo=UTC), berlin) == (2026, 12)
    assert site_pages.month_of(datetime(2026, 11, 30, 22, 59, tzinfo=UTC), berlin) == (2026, 11)


# --- through the handler ------------------------------------------------------------------------------------


def at(moment: datetime) -> None:
    """The handler's clock reads ``moment`` from now on."""
    dependencies.configure(replace(dependencies.backend(), clock=lambda: moment))


def summary(text: str, path: str) -> str:
    """The text of the node's summary (or device row) at ``data-path``, whitespace collapsed."""
    found = re.search(
        rf'data-path="{re.escape(path)}">\s*<(summary|div|details)[^>]*>(.*?)</(summary|div)>', text, re.S
    )
    if found is None:
        found = re.search(rf'data-path="{re.escape(path)}">.*?<summary>(.*?)</summary>', text, re.S)
    assert found is not None, path
    inner = found.group(found.lastindex - 1 if found.lastindex and found.lastindex > 1 else 1)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inner)).split())


def test_a_reading_at_2330_utc_on_30_november_counts_for_berlins_december(fakes: FakeStores) -> None:
    client = handler_client()
    assert (
        client.post("/v1/sites", {"id": "colo", "name": "Colo Berlin", "timezone": "Europe/Berlin"}).status
        == 201
    )
    body = {
        "id": "pdu-1",
        "site_id": "colo",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        "labels": {"room": "hall-1", "rack": "R01", "device": "PDU 1"},
    }
    assert client.post("/v1/meters", body).status == 201
    start = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)  # Berlin 23:00 on 30 November
    values = ["1.000", "1.000", "1.000", "1.000", "2.000", "2.000", "2.500", "2.000"]
    fakes.readings.put_new(
        ACCOUNT,
        [
            RawReading("pdu-1", start + timedelta(minutes=15 * n), D(v), "interval", 15)
            for n, v in enumerate(values)
        ],
    )
    rated = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    ports = RatingStores(fakes.readings, fakes.catalog, fakes.metering, fakes.accounts, fakes.invoices)
    assert rating_pass(rated, ports).failures == []
    assert fakes.metering.month(ACCOUNT, "pdu-1", 2026, 12).total.total == D("2.000") + 2 + D("2.500") + 2  # type: ignore[union-attr]
    at(datetime(2026, 11, 30, 23, 50, tzinfo=UTC))  # Berlin 00:50 on 1 December
    cookies, _ = sign_in(fakes, "read")
    text = get("/console/sites/colo", cookies).text
    assert (
        " ".join(
            unescape(re.sub(r"<[^>]+>", " ", re.search(r'id="site-month">(.*?)</dd>', text).group(1))).split()
        )
        == "2026-12 (Europe/Berlin)"
    )  # type: ignore[union-attr]
    assert "8.500 kWh" in summary(text, "site/room:hall-1/rack:R01")  # 2 + 2 + 2.5 + 2 (from 23:00Z)
    assert '<time datetime="2026-12-01T01:00+01:00">1 Dec 01:00 CET</time>' in text  # 00:00Z, Berlin
    at(datetime(2026, 11, 30, 22, 50, tzinfo=UTC))  # Berlin 23:50 on 30 November: November's 4 kWh
    text = get("/console/sites/colo", cookies).text
    assert "4.000 kWh" in summary(text, "site/room:hall-1/rack:R01")  # 1 + 1 + 1 + 1 (22:00Z-23:00Z)


def march(meter_id: str, total: str, unit: str = "kWh") -> MonthRollup:
    """The fakes' clock is 2026-03-01T12:00Z: Berlin's March, rated until 13:00 local."""
    start = datetime(2026, 3, 1, tzinfo=SITE.zone())
    return MonthRollup(
        meter_id, 2026, 3, unit, 1, Rollup(start, start + timedelta(hours=13), D(total), D(0), 52, 0)
    )


@pytest.fixture
def colo(fakes: FakeStores, alerts: AlertFakes) -> FakeStores:
    """The colocation room on site colo (rated this March), an office site with a water meter, a warning on
    PDU R01AL2; Bob's site bob-site."""
    client = handler_client()
    assert (
        client.post("/v1/sites", {"id": "colo", "name": "Colo Berlin", "timezone": "Europe/Berlin"}).status
        == 201
    )
    assert (
        client.post("/v1/sites", {"id": "office", "name": "Office", "timezone": "Europe/Berlin"}).status
        == 201
    )
    meters, usage = colocation()
    for m in meters:
        body = m.model_dump(mode="json", exclude={"account_id"}, exclude_none=True)
        assert client.post("/v1/meters", body).status == 201, body
        rolled = usage[m.id]
        assert rolled is not None
        fakes.metering.put_month(ACCOUNT, march(m.id, str(rolled.total.total)))
    water = {"id": "w-1", "site_id": "office", "utility": "water", "unit": "m3", "kind": "main"}
    assert client.post("/v1/meters", water).status == 201
    fakes.metering.put_month(ACCOUNT, march("w-1", "4.25", "m3"))
    seed(
        alerts, replace(alert(1, "pdu-R01-A-L2", "warning"), subject=Subject("meter", "pdu-R01-A-L2", "colo"))
    )
    bob = client.as_key(OTHER_ACCOUNT, "admin")
    assert bob.post("/v1/sites", {"id": "bob-site", "name": "Bob's", "timezone": "UTC"}).status == 201
    return fakes


def cells(text: str, table: str) -> list[list[str]]:
    found = re.search(rf'<table[^>]*id="{table}">.*?<tbody>(.*?)</tbody>', text, re.S)
    assert found is not None, text
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)
    ]


def test_a_read_session_sees_every_site_with_meters_alerts_and_month_to_date_usage(colo: FakeStores) -> None:
    cookies, _ = sign_in(colo, "read")
    answer = get("/console/sites", cookies)
    assert answer.status == 200
    assert cells(answer.text, "sites") == [
        ["Colo Berlin", "Europe/Berlin", "18", "1", "warning", "electricity 123.500 kWh (2026-03)"],
        ["Office", "Europe/Berlin", "1", "0", "ok", "water 4.250 m3 (2026-03)"],
    ]
    assert 'href="/console/sites/colo"' in answer.text
    assert "bob-site" not in answer.text and "Bob" not in answer.text


def test_a_read_session_sees_a_sites_tree_linking_each_device_to_its_meter_page(colo: FakeStores) -> None:
    cookies, _ = sign_in(colo, "read")
    answer = get("/console/sites/colo", cookies)
    assert answer.status == 200
    text = answer.text
    assert summary(text, "site/room:hall-1") == "Room hall-1 123.500 kWh · 100.0 % warning"
    assert summary(text, "site/room:hall-1/rack:R01") == "Rack R01 51.000 kWh · 41.3 % warning"
    assert summary(text, "site/room:hall-1/rack:R02") == "Rack R02 69.000 kWh · 55.9 % ok"
    assert summary(text, "site/room:hall-1/rack:R01/feed:B/phase:L3") == "Phase L3 7.000 kWh · 5.7 % ok"
    master = summary(text, "site/room:hall-1/feed:A/phase:L1/meter:m-A-L1")
    assert master == (
        "Master A-L1 m-A-L1 · main 31.500 kWh · 25.5 % ok 2 sub-meters: 30.000 kWh (95.2 %) accounted, "
        "1.500 kWh unaccounted"
    )
    assert summary(text, "site/room:hall-1/rack:R01/feed:A/phase:L2/meter:pdu-R01-A-L2") == (
        "PDU R01AL2 pdu-R01-A-L2 11.000 kWh · 8.9 % warning warning: pdu-R01-A-L2 is flat"
    )
    assert 'href="/console/meters/pdu-R01-A-L2"' in text
    assert re.findall(r'<form method="post" action="([^"]+)"', text) == [
        "/console/sign-out"
    ]  # nothing to change
    assert 'id="site-month">2026-03 (Europe/Berlin)<' in text
    assert '<time datetime="2026-03-01T13:00+01:00">1 Mar 13:00 CET</time>' in text
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_another_accounts_site_or_an_unknown_one_is_404(colo: FakeStores) -> None:
    cookies, _ = sign_in(colo, "admin")
    for path in ("/console/sites/bob-site", "/console/sites/nowhere"):
        answer = get(path, cookies)
        assert answer.status == 404
        assert "No such site." in answer.text


def test_without_a_session_the_sites_pages_send_to_sign_in(colo: FakeStores) -> None:
    for path in ("/console/sites", "/console/sites/colo"):
        answer = get(path)
        assert (answer.status, answer.headers["location"]) == (303, "/console/sign-in")


def test_a_site_of_500_meters_asks_the_store_once_for_every_meters_month_rollup(
    fakes: FakeStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meterbill.services import catalog as catalog_service

    catalog_service.create(
        ACCOUNT, Site, {"id": "big", "name": "Big", "timezone": "Europe/Berlin"}, fakes.catalog
    )
    for n in range(500):
        labels = {
            "room": f"hall-{n % 2}",
            "rack": f"R{n % 25:02d}",
            "feed": "AB"[n % 2],
            "phase": f"L{n % 3 + 1}",
        }
        body = {
            "id": f"pdu-{n:03d}",
            "site_id": "big",
            "utility": "electricity",
            "unit": "kWh",
            "kind": "main",
        }
        catalog_service.create(ACCOUNT, Meter, {**body, "labels": labels}, fakes.catalog)
        fakes.metering.put_month(ACCOUNT, march(f"pdu-{n:03d}", "1.5"))
    asks: list[list[tuple[str, int, int]]] = []
    months = fakes.metering.months

    def counted(
        account: str, wanted: Iterable[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], MonthRollup]:
        asks.append(sorted(wanted))
        return months(account, asks[-1])

    monkeypatch.setattr(fakes.metering, "months", counted)
    cookies, _ = sign_in(fakes, "read")
    text = get("/console/sites/big", cookies).text
    every = [(f"pdu-{n:03d}", 2026, 3) for n in range(500)]
    assert asks == [every]  # one ask, each meter once, Berlin's March (the adapter: 5 BatchGetItem)
    assert summary(text, "site/room:hall-0") == "Room hall-0 375.000 kWh · 50.0 % ok"  # 250 × 1.5
    asks.clear()
    assert cells(get("/console/sites", cookies).text, "sites") == [
        ["Big", "Europe/Berlin", "500", "0", "ok", "electricity 750.000 kWh (2026-03)"]  # 500 × 1.5
    ]
    assert asks == [every]


def test_a_past_month_is_shown_whole_with_the_customers_of_its_last_day(colo: FakeStores) -> None:
    start = datetime(2026, 2, 1, tzinfo=SITE.zone())
    february = Rollup(start, datetime(2026, 3, 1, tzinfo=SITE.zone()), D("96.250"), D(0), 2688, 0)
    colo.metering.put_month(ACCOUNT, MonthRollup("m-A-L1", 2026, 2, "kWh", 1, february))
    cookies, _ = sign_in(colo, "read")

    answer = get("/console/sites/colo?month=2026-02", cookies)

    assert answer.status == 200
    assert 'id="site-month">2026-02 (Europe/Berlin)<' in answer.text
    assert "Usage is the whole month's." in answer.text
    assert "Customers on this site on 2026-02-28" in answer.text
    assert "96.250 kWh" in summary(answer.text, "site/room:hall-1")  # only the master A-L1 has February
    assert '<a id="month-previous" href="?month=2026-01">' in answer.text
    assert '<a id="month-next" href="?month=2026-03">' in answer.text
    this_month = get("/console/sites/colo", cookies).text
    assert 'id="month-next"' not in this_month  # the fakes' clock is in March 2026: no April yet


@pytest.mark.parametrize(
    ("month", "reason"),
    [
        ("2026-13", "month: '2026-13' is not a month (YYYY-MM)"),
        ("March", "month: 'March' is not a month (YYYY-MM)"),
        ("2026-04", "month: 2026-04 has not begun on the site's clock (Europe/Berlin)"),
    ],
)
def test_a_month_that_is_not_one_or_has_not_begun_is_a_422_naming_month(
    colo: FakeStores, month: str, reason: str
) -> None:
    cookies, _ = sign_in(colo, "read")

    answer = get(f"/console/sites/colo?month={month}", cookies)

    assert answer.status == 422
    assert unescape(reason) in unescape(answer.text)
