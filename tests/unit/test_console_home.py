"""The console's home page beside the alarm zone, through the API's handler on the fakes: alert times on the
site's clock, the collectors with their latest heartbeat (offline by the ``collector_offline`` rule, to the
second), and this month's estimated revenue summed per currency."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from meterbill.alerts.communication import Heartbeat, MeterStatus
from meterbill.alerts.lifecycle import AlertBook
from meterbill.alerts.model import Subject
from meterbill.alerts.ports import CollectorHeartbeat
from meterbill.console.home import shown_time
from meterbill.domain import Customer, Site
from meterbill.ports import RunningCost, UsageSoFar
from meterbill.services import catalog as catalog_service
from tests.fakes import FIXED_NOW, FakeStores
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, AlertFakes
from tests.unit.test_console_pages import alert, get, sign_in

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

ALLOWANCE = timedelta(minutes=15)  # the communication rules' default heartbeat allowance


def site(fakes: FakeStores, site_id: str, zone: str, account: str = ACCOUNT) -> None:
    catalog_service.create(account, Site, {"id": site_id, "name": site_id, "timezone": zone}, fakes.catalog)


def customer(fakes: FakeStores, customer_id: str, account: str = ACCOUNT) -> None:
    catalog_service.create(account, Customer, {"id": customer_id, "name": customer_id}, fakes.catalog)


def heartbeat(
    alerts: AlertFakes,
    collector_id: str,
    received_at: datetime,
    *,
    site_id: str | None = None,
    meters: tuple[MeterStatus, ...] = (),
    warnings: tuple[str, ...] = (),
    account: str = ACCOUNT,
) -> None:
    alerts.store.put_heartbeat(
        account,
        CollectorHeartbeat(
            Heartbeat(collector_id, received_at, meters, site_id, warnings), version="1.4.2", spool_depth=37
        ),
    )


def running(fakes: FakeStores, customer_id: str, currency: str, cost: D, *, account: str = ACCOUNT) -> None:
    fakes.metering.put_running_cost(
        account,
        RunningCost(
            customer_id=customer_id,
            period_start=date(2026, 3, 1),
            period_end=date(2026, 4, 1),
            as_of=date(2026, 3, 1),
            currency=currency,
            usage=(UsageSoFar("kWh", D("100"), D("0")),),
            cost=cost,
            projected=cost * 31,
            computed_at=datetime(2026, 3, 1, 11, 15, tzinfo=UTC),
        ),
    )


def collector_ids(text: str) -> list[str]:
    return re.findall(r'data-collector-id="([^"]+)"', text)


# --- times on the site's clock ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone", "text", "iso"),
    [
        # Berlin: CET in winter, CEST in summer; the same UTC minute shows an hour apart
        (
            datetime(2026, 12, 4, 3, 6, tzinfo=UTC),
            "Europe/Berlin",
            "4 Dec 04:06 CET",
            "2026-12-04T04:06+01:00",
        ),
        (
            datetime(2026, 7, 4, 3, 6, tzinfo=UTC),
            "Europe/Berlin",
            "4 Jul 05:06 CEST",
            "2026-07-04T05:06+02:00",
        ),
        # the spring-forward night: 00:59 UTC is 01:59 CET, 01:00 UTC is 03:00 CEST
        (
            datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
            "Europe/Berlin",
            "29 Mar 01:59 CET",
            "2026-03-29T01:59+01:00",
        ),
        (
            datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
            "Europe/Berlin",
            "29 Mar 03:00 CEST",
            "2026-03-29T03:00+02:00",
        ),
        # Lord Howe: +10:30 in its winter, +11 in summer (a half-hour DST), no letter abbreviation
        (
            datetime(2026, 7, 4, 3, 6, tzinfo=UTC),
            "Australia/Lord_Howe",
            "4 Jul 13:36 UTC+10:30",
            "2026-07-04T13:36+10:30",
        ),
        (
            datetime(2026, 12, 4, 3, 6, tzinfo=UTC),
            "Australia/Lord_Howe",
            "4 Dec 14:06 UTC+11:00",
            "2026-12-04T14:06+11:00",
        ),
        (datetime(2026, 12, 4, 3, 6, tzinfo=UTC), None, "4 Dec 03:06 UTC", "2026-12-04T03:06+00:00"),
    ],
)
def test_a_moment_is_shown_on_the_sites_clock(moment, zone, text, iso):
    shown = shown_time(moment, None if zone is None else ZoneInfo(zone))

    assert (shown.text, shown.iso) == (text, iso)


def test_an_alerts_since_is_on_its_sites_clock_and_utc_without_a_site(fakes, alerts):
    site(fakes, "site-1", "Australia/Lord_Howe")  # FIXED_NOW 2026-03-01 12:00 UTC: Lord Howe's summer, +11
    on_site = alert(1, "critical")  # 11:00 UTC, subject site-1
    no_site = replace(alert(2, "warning"), subject=Subject("meter", "m-2", None))  # 10:00 UTC
    alerts.store.save_book(ACCOUNT, AlertBook(ACCOUNT, (on_site, no_site)), [on_site, no_site], [])
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert 'since <time datetime="2026-03-01T22:00+11:00">1 Mar 22:00 UTC+11:00</time>' in text
    assert 'since <time datetime="2026-03-01T10:00+00:00">1 Mar 10:00 UTC</time>' in text


# --- collectors ---------------------------------------------------------------------------------------------


def test_a_collector_is_offline_only_past_the_allowance(fakes, alerts):
    site(fakes, "berlin", "Europe/Berlin")
    heartbeat(alerts, "at-limit", FIXED_NOW - ALLOWANCE, site_id="berlin")
    heartbeat(alerts, "past-limit", FIXED_NOW - ALLOWANCE - timedelta(seconds=1), site_id="berlin")
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert collector_ids(text) == ["at-limit", "past-limit"]
    assert '<li class="collector" id="collector-at-limit"' in text
    assert '<li class="collector offline" id="collector-past-limit"' in text
    assert text.count('<strong class="flag">offline</strong>') == 1
    # 11:45 UTC is 12:45 CET; 11:44:59 UTC shows its minute
    assert 'last heartbeat <time datetime="2026-03-01T12:45+01:00">1 Mar 12:45 CET</time>' in text
    assert 'last heartbeat <time datetime="2026-03-01T12:44+01:00">1 Mar 12:44 CET</time>' in text
    assert '<span class="status">sending heartbeats</span>' in text
    assert '<span class="status">silent for 15 min (allowance 15 min)</span>' in text


def test_a_collector_shows_its_site_version_spool_failing_meters_and_warnings(fakes, alerts):
    heartbeat(
        alerts,
        "c-1",
        FIXED_NOW - timedelta(minutes=2),
        meters=(
            MeterStatus("m-ok", FIXED_NOW - timedelta(minutes=3)),
            MeterStatus("m-bad", FIXED_NOW - timedelta(hours=1), "Modbus timeout <unit 3>"),
            MeterStatus("m-never", None, "connection refused"),
        ),
        warnings=("spool thinned to hourly at its disk quota",),
    )
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert "Collectors (1)" in text
    assert '<span class="site">site none</span>' in text
    assert '<span class="version">version 1.4.2</span>' in text
    assert '<span class="spool">spool 37</span>' in text
    assert '<span class="meters">3 meters, 2 failing</span>' in text
    assert (
        '<li><span class="meter">m-bad</span>: <span class="error">Modbus timeout &lt;unit 3&gt;</span>'
        ' (last read <time datetime="2026-03-01T11:00+00:00">1 Mar 11:00 UTC</time>)</li>'
    ) in text
    assert (
        '<li><span class="meter">m-never</span>: <span class="error">connection refused</span></li>' in text
    )
    assert "m-ok" not in text
    assert "<li>spool thinned to hourly at its disk quota</li>" in text


def test_a_collector_with_one_meter_says_meter_not_meters(fakes, alerts):
    heartbeat(alerts, "c-1", FIXED_NOW, meters=(MeterStatus("m-bad", None, "Modbus timeout (unit 4)"),))
    heartbeat(alerts, "c-2", FIXED_NOW)
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert '<span class="meters">1 meter, 1 failing</span>' in text
    assert '<span class="meters">0 meters, 0 failing</span>' in text


def test_another_accounts_collectors_are_never_shown(fakes, alerts):
    heartbeat(alerts, "mine", FIXED_NOW)
    heartbeat(alerts, "theirs", FIXED_NOW, account=OTHER_ACCOUNT)
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert collector_ids(text) == ["mine"]
    assert "theirs" not in text


def test_no_collector_yet(fakes):
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert '<p id="collectors-empty">No collector has sent a heartbeat.</p>' in text
    assert "Collectors (0)" in text


# --- revenue ------------------------------------------------------------------------------------------------


def test_revenue_sums_each_currency_separately_to_the_cent(fakes):
    for customer_id in ("a", "b", "c", "gone"):
        customer(fakes, customer_id)
    customer(fakes, "x", account=OTHER_ACCOUNT)
    running(fakes, "a", "EUR", D("1234.56"))
    running(fakes, "b", "EUR", D("0.45"))
    running(fakes, "c", "CHF", D("99.95"))
    running(fakes, "x", "EUR", D("1000000.00"), account=OTHER_ACCOUNT)
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert D("1234.56") + D("0.45") == D("1235.01")
    assert '<li data-currency="CHF"><span class="amount">CHF99.95</span> from 1 customer</li>' in text
    assert '<li data-currency="EUR"><span class="amount">€1,235.01</span> from 2 customers</li>' in text
    assert text.index('data-currency="CHF"') < text.index('data-currency="EUR"')
    assert (
        '<p id="revenue-as-of">As of the rating pass of '
        '<time datetime="2026-03-01T11:15+00:00">1 Mar 11:15 UTC</time>.</p>'
    ) in text


def test_the_revenue_names_its_customers_once(fakes):
    for customer_id in ("a", "b"):
        customer(fakes, customer_id)
    running(fakes, "a", "EUR", D("412.37"))
    running(fakes, "b", "EUR", D("96.05"))
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text
    section = text[
        text.index('id="revenue-title"') : text.index("</section>", text.index('id="revenue-title"'))
    ]

    assert D("412.37") + D("96.05") == D("508.42")
    assert '<span class="amount">€508.42</span> from 2 customers</li>' in section
    assert section.count("customer") == 1


def test_a_running_cost_of_an_earlier_period_is_not_this_months(fakes):
    customer(fakes, "moved-out")
    fakes.metering.put_running_cost(
        ACCOUNT,
        RunningCost(
            customer_id="moved-out",
            period_start=date(2026, 2, 1),
            period_end=date(2026, 3, 1),  # FIXED_NOW is 2026-03-01: this period has ended
            as_of=date(2026, 2, 28),
            currency="EUR",
            usage=(),
            cost=D("50.00"),
            projected=D("50.00"),
            computed_at=datetime(2026, 2, 28, 0, 15, tzinfo=UTC),
        ),
    )
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert '<p id="revenue-empty">No rated usage yet this month.</p>' in text


def test_no_rated_usage_yet(fakes):
    customer(fakes, "a")
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert '<p id="revenue-empty">No rated usage yet this month.</p>' in text
    assert 'id="revenue"' not in text


def test_on_the_first_day_of_a_period_nothing_is_priced_yet_and_the_page_answers(fakes):
    customer(fakes, "a")
    running(fakes, "a", "", D("0"))  # the rating pass on day 1 of the period: no currency, nothing rated
    cookies, _ = sign_in(fakes)

    answer = get("/console/", cookies)

    assert answer.status == 200
    assert '<p id="revenue-empty">No rated usage yet this month.</p>' in answer.text


@pytest.mark.parametrize(
    ("zones", "as_of"),
    [
        # every site in Berlin: the pass of 11:15 UTC on Berlin's clock (CET, UTC+1)
        (
            ("Europe/Berlin", "Europe/Berlin"),
            '<time datetime="2026-03-01T12:15+01:00">1 Mar 12:15 CET</time>',
        ),
        # sites on two clocks: no one local time is right for all, so UTC, labelled
        (
            ("Europe/Berlin", "America/New_York"),
            '<time datetime="2026-03-01T11:15+00:00">1 Mar 11:15 UTC</time>',
        ),
        # no site yet: UTC, labelled
        ((), '<time datetime="2026-03-01T11:15+00:00">1 Mar 11:15 UTC</time>'),
    ],
)
def test_the_revenues_as_of_is_on_the_sites_clock_when_they_share_one(fakes, zones, as_of):
    for n, zone in enumerate(zones):
        site(fakes, f"site-{n}", zone)
    customer(fakes, "a")
    running(fakes, "a", "EUR", D("412.37"))  # computed at 2026-03-01 11:15 UTC
    cookies, _ = sign_in(fakes)

    text = get("/console/", cookies).text

    assert f'<p id="revenue-as-of">As of the rating pass of {as_of}.</p>' in text
