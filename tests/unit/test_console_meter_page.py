"""The console's meter page through the API's handler on the fakes: the header, the chart's series embedded as
JSON on the site's local calendar (a 23-hour DST day in Berlin), estimated buckets flagged, the events and
exchanges, the exchange form (admin only, CSRF, errors re-rendered with 422), and 404s for others' meters."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import OTHER_ACCOUNT, ApiClient, handler_client
from tests.unit.api_support import HttpAnswer, proxy_event
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
    assert client.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}).status == 201
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

    answer = get("/console/meters/mtr-1", cookies, resolution="hour", **{"from": "2025-03-30", "to": "2025-03-31"})

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
    }
