"""The console's meter page through the API's handler on the fakes: the header, the chart's series embedded as
JSON on the site's local calendar (a 23-hour DST day in Berlin), estimated buckets flagged, the events and
exchanges, the exchange form (admin only, CSRF, errors re-rendered with 422), and 404s for others' meters."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import OTHER_ACCOUNT, ApiClient, HttpAnswer, handler_client, proxy_event
from tests.unit.test_console_pages import handler, post, sign_in

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

DAY_START = datetime(2025, 3, 29, 23, tzinfo=UTC)  # local midnight of Sunday 2025-03-30 in Berlin (CET)
MISSING_HOUR = 9  # the 10th interval, local 10:00 CEST: interpolated (estimated)


def readings(meter: str, hours: range, skip: int | None = None) -> list[dict[str, Any]]:
    return [
        {
            "meter_id": meter,
            "timestamp": (DAY_START + timedelta(hours=i)).isoformat(),
            "value": "1.5",
            "type": "interval",
            "interval_minutes": 60,
        }
        for i in hours
        if i != skip
    ]


@pytest.fixture
def admin(fakes: FakeStores) -> ApiClient:
    """Site site-1 (Europe/Berlin) with main meter mtr-1 (hourly, 1.5 kWh an hour on 2025-03-30, the
    10:00 hour missing) and its sub-meter mtr-2; Bob's site and meter exist too."""
    client = handler_client()
    assert (
        client.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}).status == 201
    )
    main = {
        "id": "mtr-1",
        "site_id": "site-1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        "interval_minutes": 60,
        "labels": {"room": "R1", "rack": "A01"},
    }
    assert client.post("/v1/meters", main).status == 201
    sub = {**main, "id": "mtr-2", "kind": "sub", "parent_id": "mtr-1", "labels": {}}
    assert client.post("/v1/meters", sub).status == 201
    assert client.post("/v1/readings", {"readings": readings("mtr-1", range(23), MISSING_HOUR)}).status in (
        200,
        201,
        202,
    )
    bob = client.as_key(OTHER_ACCOUNT, "admin")
    assert bob.post("/v1/sites", {"id": "site-b", "name": "B", "timezone": "Europe/Berlin"}).status == 201
    assert bob.post("/v1/meters", {**main, "id": "mtr-b", "site_id": "site-b"}).status == 201
    return client


def get(path: str, cookies: str = "", **query: str) -> HttpAnswer:
    headers = {"Cookie": cookies} if cookies else {}
    return handler(proxy_event("GET", path, headers=headers, query=query or None))


def series_of(text: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="series">(.*?)</script>', text, re.S)
    assert found is not None, text
    return json.loads(found.group(1))


def test_the_hour_series_of_a_23_hour_dst_day_is_embedded_exactly(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    answer = get(
        "/console/meters/mtr-1", cookies, resolution="hour", **{"from": "2025-03-30", "to": "2025-03-31"}
    )

    assert answer.status == 200
    starts = [f"2025-03-30T{h:02d}:00:00+01:00" for h in (0, 1)] + [
        f"2025-03-30T{h:02d}:00:00+02:00" for h in range(3, 24)
    ]
    assert series_of(answer.text) == {
        "meter_id": "mtr-1",
        "unit": "kWh",
        "timezone": "Europe/Berlin",
        "resolution": "hour",
        "x": [int((DAY_START + timedelta(hours=i)).timestamp()) for i in range(23)],
        "starts": starts,
        "y": [1.5] * 23,
        "totals": ["1.5"] * 23,  # the missing hour interpolated between its 1.5 neighbours
        "estimated": [i == MISSING_HOUR for i in range(23)],
        # half an hour before the first bar's start and after the last one's: no bar clipped
        "x_range": [
            int(DAY_START.timestamp()) - 1800,
            int((DAY_START + timedelta(hours=22)).timestamp()) + 1800,
        ],
        "bars_y_min": 0.0,
        "axis": {
            "locale": "en-GB",
            "timezone": "Europe/Berlin",
            "ticks": {"hour": "2-digit", "minute": "2-digit", "hourCycle": "h23"},  # "14:00"
            "midnight": {"day": "numeric", "month": "short"},  # "30 Mar" at local midnight
            "legend": {
                "day": "numeric",
                "month": "short",
                "year": "numeric",
                "hour": "2-digit",
                "minute": "2-digit",
                "hourCycle": "h23",
            },
        },
    }


def test_the_day_series_sums_the_23_hours_and_flags_the_estimated_day(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    answer = get(
        "/console/meters/mtr-1", cookies, resolution="day", **{"from": "2025-03-29", "to": "2025-03-31"}
    )

    assert answer.status == 200
    assert series_of(answer.text) == {
        "meter_id": "mtr-1",
        "unit": "kWh",
        "timezone": "Europe/Berlin",
        "resolution": "day",
        "x": [int(datetime(2025, 3, 28, 23, tzinfo=UTC).timestamp()), int(DAY_START.timestamp())],
        "starts": ["2025-03-29T00:00:00+01:00", "2025-03-30T00:00:00+01:00"],
        "y": [0.0, 34.5],
        "totals": ["0.0", "34.5"],  # 23 hours * 1.5; the 29th has no readings at all (missing)
        "estimated": [True, True],
        # the 29th is 24 hours (half: 12 h before its start); after the DST day 30th (23 hours) half the
        # longer of it and the day before it (uPlot draws every bar as wide): 12 h
        "x_range": [
            int(datetime(2025, 3, 28, 23, tzinfo=UTC).timestamp()) - 12 * 3600,
            int(DAY_START.timestamp()) + 24 * 3600 // 2,
        ],
        "bars_y_min": 0.0,  # bars start on the axis, whatever the lowest total
        "axis": {
            "locale": "en-GB",
            "timezone": "Europe/Berlin",
            "ticks": {"day": "numeric", "month": "short"},  # "30 Mar", never "3/30"
            "midnight": None,
            "legend": {"weekday": "short", "day": "numeric", "month": "short", "year": "numeric"},
        },
    }


def test_the_week_series_sums_the_days_of_a_local_iso_week(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    answer = get(
        "/console/meters/mtr-1", cookies, resolution="week", **{"from": "2025-03-24", "to": "2025-04-07"}
    )

    days = series_of(
        get(
            "/console/meters/mtr-1", cookies, resolution="day", **{"from": "2025-03-24", "to": "2025-04-07"}
        ).text
    )
    data = series_of(answer.text)
    assert data["starts"] == ["2025-03-24T00:00:00+01:00", "2025-03-31T00:00:00+02:00"]
    assert data["x"] == [days["x"][0], days["x"][7]]
    first, second = (sum(Decimal(t) for t in days["totals"][a : a + 7]) for a in (0, 7))
    assert first == Decimal("34.5")  # only Sunday 2025-03-30 has readings: 23 * 1.5
    assert data["totals"] == [str(first), str(second)]
    assert data["estimated"] == [True, True]


def test_the_page_shows_the_header_tabs_legend_and_the_events(admin, fakes):
    cookies, _ = sign_in(fakes, "admin")

    answer = get(
        "/console/meters/mtr-1", cookies, resolution="hour", **{"from": "2025-03-30", "to": "2025-03-31"}
    )

    text = answer.text
    assert '<dd id="meter-label">R1 · A01</dd>' in text
    assert "Plant (site-1, Europe/Berlin)" in text
    assert '<dd id="meter-kind">main</dd>' in text
    assert '<a href="/console/meters/mtr-2">mtr-2</a>' in text
    assert 'data-resolution="hour" aria-current="page"' in text
    assert "shaded: the bucket contains estimated" in text
    assert '<script src="/console/static/meter.js" defer></script>' in text
    assert "<script>" not in text and "style=" not in text
    assert (
        '<li><time datetime="2025-03-30T10:00+02:00">30 Mar 10:00 CEST</time> <strong>gap</strong>' in text
    ), text
    assert 'id="exchange-form"' in text
    sub = get("/console/meters/mtr-2", cookies)
    assert '<a id="meter-parent" href="/console/meters/mtr-1">mtr-1</a>' in sub.text


def test_the_default_window_is_the_last_31_days_by_day(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    data = series_of(get("/console/meters/mtr-1", cookies).text)

    # today is 2026-03-01 (the fakes' clock): 2026-01-30 ... 2026-03-01, 31 days; mtr-1 sent nothing today,
    # so the window ends at today's midnight (nothing of today is over): 30 buckets, up to 2026-02-28
    assert data["resolution"] == "day"
    assert data["starts"][0] == "2026-01-30T00:00:00+01:00"
    assert data["starts"][-1] == "2026-02-28T00:00:00+01:00"
    assert len(data["x"]) == 30


def test_a_bad_resolution_answers_422_naming_it(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    answer = get("/console/meters/mtr-1", cookies, resolution="year")

    assert answer.status == 422
    assert "resolution: &#39;year&#39; is not one of: hour, day, week, month" in answer.text


def test_a_read_session_sees_no_form_and_its_post_is_refused(admin, fakes):
    cookies, csrf = sign_in(fakes, "read")

    assert 'id="exchange-form"' not in get("/console/meters/mtr-1", cookies).text
    answer = post("/console/meters/mtr-1/exchanges", exchange_form(csrf), cookies)

    assert answer.status == 403
    assert "sign in with an admin key to record an exchange" in answer.text
    assert fakes.catalog.get("acc_a", "meter", "mtr-1").body.get("exchanges", []) in ([], ())


def exchange_form(csrf: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "timestamp": "2025-03-30T12:00",
        "old_serial": "",
        "old_final": "1234.5",
        "new_serial": "PDU-2",
        "new_initial": "0",
        "note": "PDU swapped",
    }
    return {**form, **changes}


def test_an_admin_records_an_exchange_at_the_sites_local_time(admin, fakes):
    cookies, csrf = sign_in(fakes, "admin")

    answer = post("/console/meters/mtr-1/exchanges", exchange_form(csrf), cookies)

    assert answer.status == 303
    assert answer.headers["location"] == "/console/meters/mtr-1"
    stored = fakes.catalog.get("acc_a", "meter", "mtr-1").body
    assert stored["exchanges"] == [
        {
            "timestamp": "2025-03-30T12:00:00+02:00",
            "old_serial": None,
            "old_final": "1234.5",
            "new_serial": "PDU-2",
            "new_initial": "0",
            "note": "PDU swapped",
        }
    ]
    assert stored["serial"] == "PDU-2"
    page = get("/console/meters/mtr-1", cookies).text
    assert (
        '<li><time datetime="2025-03-30T12:00+02:00">30 Mar 12:00 CEST</time> old device final 1234.5'
        " → PDU-2 initial 0 — PDU swapped</li>" in page
    )


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"old_final": "lots"}, "old_final", "Input should be a valid decimal"),
        ({"timestamp": "yesterday"}, "timestamp", "&#39;yesterday&#39; is not a date and time"),
        ({"new_initial": ""}, "new_initial", "required"),
    ],
)
def test_bad_exchange_input_rerenders_the_form_with_the_fields_error(admin, fakes, changes, field, reason):
    cookies, csrf = sign_in(fakes, "admin")

    answer = post("/console/meters/mtr-1/exchanges", exchange_form(csrf, **changes), cookies)

    assert answer.status == 422
    found = re.search(rf'<p class="error" id="x-{field}-error">([^<]*)</p>', answer.text)
    assert found is not None, answer.text
    assert reason in found.group(1)
    assert f'id="x-{field}" name="{field}"' in answer.text and 'aria-invalid="true"' in answer.text
    assert 'value="PDU swapped"' in answer.text  # what was typed is kept
    assert fakes.catalog.get("acc_a", "meter", "mtr-1").body.get("exchanges", []) in ([], ())


def test_an_exchange_without_the_csrf_token_is_refused(admin, fakes):
    cookies, _ = sign_in(fakes, "admin")

    assert post("/console/meters/mtr-1/exchanges", exchange_form("forged"), cookies).status == 403


@pytest.mark.parametrize("meter", ["mtr-b", "mtr-none"])
def test_another_accounts_or_an_unknown_meter_is_not_found(admin, fakes, meter):
    cookies, csrf = sign_in(fakes, "admin")

    page = get(f"/console/meters/{meter}", cookies)
    posted = post(f"/console/meters/{meter}/exchanges", exchange_form(csrf), cookies)

    assert (page.status, posted.status) == (404, 404)
    assert "No such meter." in page.text and "mtr-b" not in page.text


def test_without_a_session_the_meter_page_sends_the_browser_to_sign_in(admin, fakes):
    for answer in (
        get("/console/meters/mtr-1"),
        post("/console/meters/mtr-1/exchanges", {"csrf_token": "x"}),
    ):
        assert answer.status == 303
        assert answer.headers["location"] == "/console/sign-in"


TODAY_START = datetime(2026, 2, 28, 23, tzinfo=UTC)  # local midnight of 2026-03-01 in Berlin (CET)


def live_meter(client: ApiClient, hours: int) -> None:
    """Meter mtr-live at site-1, hourly, 2 kWh an hour from local midnight of 2026-03-01 for ``hours`` hours
    (the fakes' clock is 2026-03-01 12:00 UTC, 13:00 CET: 13 hours are over)."""
    meter = {"id": "mtr-live", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    assert client.post("/v1/meters", {**meter, "interval_minutes": 60}).status == 201
    sent = [
        {
            "meter_id": "mtr-live",
            "timestamp": (TODAY_START + timedelta(hours=i)).isoformat(),
            "value": "2",
            "type": "interval",
            "interval_minutes": 60,
        }
        for i in range(hours)
    ]
    assert client.post("/v1/readings", {"readings": sent}).status in (200, 201, 202)


def test_a_live_meters_day_ends_at_the_last_whole_interval_before_now_nothing_flagged(admin, fakes):
    live_meter(admin, 13)  # 00:00 ... 13:00 CET: its readings stop at now
    cookies, _ = sign_in(fakes, "read")

    answer = get("/console/meters/mtr-live", cookies, resolution="hour", **{"from": "2026-03-01"})

    data = series_of(answer.text)
    assert data["starts"] == [f"2026-03-01T{h:02d}:00:00+01:00" for h in range(13)]
    assert data["totals"] == ["2"] * 13
    assert data["estimated"] == [False] * 13
    assert '<p id="no-events">None in this window.</p>' in answer.text
    day = series_of(get("/console/meters/mtr-live", cookies, **{"from": "2026-03-01"}).text)
    assert (day["starts"], day["totals"], day["estimated"]) == (
        ["2026-03-01T00:00:00+01:00"],
        [str(13 * 2)],
        [False],
    )


def test_a_live_meter_whose_last_hour_has_not_arrived_ends_where_its_data_ends(admin, fakes):
    live_meter(admin, 12)  # the 12:00 hour ended at now (13:00 CET) but its reading is not sent yet
    cookies, _ = sign_in(fakes, "read")

    answer = get("/console/meters/mtr-live", cookies, resolution="hour", **{"from": "2026-03-01"})

    data = series_of(answer.text)
    assert data["starts"] == [f"2026-03-01T{h:02d}:00:00+01:00" for h in range(12)]
    assert data["estimated"] == [False] * 12
    assert '<p id="no-events">None in this window.</p>' in answer.text


def test_todays_unfinished_day_is_padded_by_a_whole_days_half_so_its_bar_is_not_clipped(admin, fakes):
    live_meter(admin, 13)
    cookies, _ = sign_in(fakes, "read")

    data = series_of(get("/console/meters/mtr-live", cookies, **{"from": "2026-02-28"}).text)

    # 2026-02-28 (24 h, no readings) and today, 2026-03-01, shown up to 13:00: its bar is as wide as
    # yesterday's, so the scale ends 12 h (half of the day before it) after its start, not 6.5 h
    assert data["starts"] == ["2026-02-28T00:00:00+01:00", "2026-03-01T00:00:00+01:00"]
    assert data["x_range"] == [
        int((TODAY_START - timedelta(days=1)).timestamp()) - 12 * 3600,
        int(TODAY_START.timestamp()) + 12 * 3600,
    ]


def test_sub_meters_are_found_among_all_the_accounts_meters_and_past_50_the_rest_are_counted(admin, fakes):
    body = {
        "site_id": "site-1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "sub",
        "interval_minutes": 60,
    }
    # 1,000 meters of no concern sort before the sub-meters: the page must read past them.
    for n in range(1000):
        assert admin.post("/v1/meters", {**body, "id": f"a-{n:04d}", "kind": "main"}).status == 201
    for n in range(54):
        assert admin.post("/v1/meters", {**body, "id": f"z-{n:02d}", "parent_id": "mtr-1"}).status == 201
    cookies, _ = sign_in(fakes, "read")

    text = get("/console/meters/mtr-1", cookies).text

    subs = re.search(r'<dd id="meter-subs">(.*?)</dd>', text, re.S)
    assert subs is not None, text
    shown = re.findall(r'href="/console/meters/([^"]+)"', subs.group(1))
    assert shown == ["mtr-2"] + [f"z-{n:02d}" for n in range(49)]  # the first 50, in id order
    assert subs.group(1).endswith(
        ' and 5 more: <a href="/console/sites/site-1">the site\'s tree</a> shows them all'
    )
