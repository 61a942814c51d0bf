"""`make demo` runs the platform's main job on moto: catalog, readings, usage and a bill preview.

It runs in a process of its own, as `make demo` does: moto servers in one process share their backends, and a
second platform stopping would reset the tables of the e2e tests' platform.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_platform_demo_previews_the_flat_bill_the_tariff_tour_computes() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "local.demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    # The tariff tour's residential flat: 9.90 + 150 x 0.28 + 100 x 0.32, plus 19 % VAT.
    assert "2976 stored, 0 duplicates" in run.stdout
    assert "found 1000 duplicates" in run.stdout
    assert "what January will cost flat-3: 99.84 EUR" in run.stdout
