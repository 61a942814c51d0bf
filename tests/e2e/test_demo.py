"""`make demo` runs the platform's main job on moto: catalog, readings, usage and a bill preview."""

from __future__ import annotations

import pytest

from local import demo

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def test_the_platform_demo_previews_the_flat_bill_the_tariff_tour_computes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert demo.main() == 0
    out = capsys.readouterr().out
    # The tariff tour's residential flat: 9.90 + 150 x 0.28 + 100 x 0.32, plus 19 % VAT.
    assert "2976 stored, 0 duplicates" in out
    assert "found 1000 duplicates" in out
    assert "what January will cost flat-3: 99.84 EUR" in out
