"""A new tariff version takes over from its effective date; old versions stay for re-billing."""

from __future__ import annotations

from datetime import date

import pytest

from meterbill.tariffs.versions import NoTariffInForceError, in_force
from tests.builders import tariff


def version(n: int, start: str | None, end: str | None = None):  # type: ignore[no-untyped-def]
    return tariff(version=n, effective_from=start, effective_to=end, fixed=[{"amount": str(10 * n)}])


def test_a_mid_month_version_change_splits_the_period_at_its_date() -> None:
    v1, v2 = version(1, "2026-01-01"), version(2, "2026-03-15")
    spans = in_force([v2, v1], date(2026, 3, 1), date(2026, 4, 1))
    assert [(lo, hi, t.version) for lo, hi, t in spans] == [
        (date(2026, 3, 1), date(2026, 3, 15), 1),
        (date(2026, 3, 15), date(2026, 4, 1), 2),
    ]


def test_rebilling_an_old_period_uses_the_version_then_in_force() -> None:
    spans = in_force([version(1, "2026-01-01"), version(2, "2026-03-15")], date(2026, 2, 1), date(2026, 3, 1))
    assert [t.version for _, _, t in spans] == [1]


def test_days_no_version_covers_are_an_error_naming_them() -> None:
    with pytest.raises(NoTariffInForceError, match="from 2026-01-01 to 2026-01-10"):
        in_force([version(1, "2026-01-10")], date(2026, 1, 1), date(2026, 2, 1))
    with pytest.raises(NoTariffInForceError, match="from 2026-01-20 to 2026-02-01"):
        in_force([version(1, None, "2026-01-20")], date(2026, 1, 1), date(2026, 2, 1))
