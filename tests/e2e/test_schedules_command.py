"""``meterbill schedules run rate --at TIME``: one rating pass as of TIME against the local platform's tables,
the handler invoked with the event the schedule would send."""

from __future__ import annotations

import json
from datetime import date

import pytest

from local.serve import LocalPlatform
from meterbill.adapters.dynamodb import DynamoDb
from meterbill.adapters.rating import rating_stores
from meterbill.cli import main
from tests.unit.test_service_rating import hourly_catalog, two_days

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def test_a_pass_fired_at_a_moment_rates_the_days_before_it(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    account = platform.create_account("Schedules").account_id
    stores = rating_stores(DynamoDb(platform.settings.storage))
    for mark in stores.readings.pending_marks(limit=10_000):  # other tests' readings on the shared platform
        stores.readings.clear_mark(mark)
    hourly_catalog(store=stores.catalog, account=account)
    stores.readings.put_new(account, two_days())

    exit_code = main(["schedules", "run", "rate", "--at", "2026-03-29T12:00+02:00"])

    printed = capsys.readouterr()
    report = json.loads(printed.out)
    assert (exit_code, report["meters"], report["failures"]) == (0, 1, [])
    (first, dst_day) = stores.metering.days(account, "m1", date(2026, 3, 1), date(2026, 4, 1))
    assert (first.day, len(first.values)) == (date(2026, 3, 28), 24)
    # 12:00 on the DST day: its first 11 hours (00:00 to 12:00, 02:00 skipped) are rated so far.
    assert (dst_day.day, len(dst_day.values)) == (date(2026, 3, 29), 11)


def test_a_time_without_offset_is_refused(
    platform: LocalPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(["schedules", "run", "rate", "--at", "2026-02-01T00:30"])

    printed = capsys.readouterr()
    assert (exit_code, printed.out) == (2, "")
    assert "has no UTC offset" in printed.err
