"""A tour of meterbill: four tariffs price a month of the bundled example usage (`python -m meterbill.demo`).

Each stop prints the `meterbill rate` command that makes the bill and runs it, exactly as a user would, in the
examples directory; every step can be repeated by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

EXAMPLES = Path(__file__).parent / "examples"
JANUARY = ["--start", "2026-01-01", "--end", "2026-02-01"]

TOUR: list[tuple[str, list[str]]] = [
    (
        "A residential flat in Berlin, billed by its landlord: 9.90 a month, a graduated price ladder whose "
        "first tier is 150 kWh instead of 100 for a senior citizen (a formula over the customer's "
        "attributes), and 19% VAT.",
        ["--tariff", "residential_flat_tariff.json", "--usage", "residential_flat_2026-01.csv",
         "--attributes", "residential_customer.json", "--tz", "Europe/Berlin"],
    ),
    (
        "A colocation cage in a Berlin data centre: peak and off-peak energy (weekends and Berlin's public "
        "holidays are off-peak), the month's peak demand and the peak-hours demand, a committed minimum, "
        "a 2% surcharge on energy and VAT. The usage file has local times without offsets.",
        ["--tariff", "colocation_tariff.json", "--usage", "colocation_cage_2026-01.csv",
         "--tz", "Europe/Berlin", "--holidays", "DE-BE"],
    ),
    (
        "A compute provider billing batch jobs by the session: 0.01 covers a job's first 30 minutes, then "
        "every started 5 minutes costs 0.0089.",
        ["--tariff", "compute_tariff.json", "--usage", "compute_sessions_2026-01.csv"],
    ),
    (
        "A real U.S. tariff, unchanged from OpenEI's Utility Rate Database: Xcel Energy Colorado's "
        "residential time-of-use rate, for an hourly-metered home in Denver.",
        ["--tariff", "pscolorado_re_tou.json", "--usage", "denver_home_2026-01.csv",
         "--tz", "America/Denver", "--holidays", "US-CO"],
    ),
]  # fmt: skip


def main() -> int:
    console = Console()
    console.print(Text(f"$ cd {EXAMPLES}", style="dim"), soft_wrap=True)
    for story, options in TOUR:
        command = ["rate", *options, *JANUARY, "--format", "table"]
        console.print()
        console.print(Text(story, style="bold"))
        console.print(Text(f"$ meterbill {' '.join(command)}", style="dim"), soft_wrap=True)
        sys.stdout.flush()
        meterbill = [sys.executable, "-m", "meterbill.cli"]  # the `meterbill` command of this very copy
        finished = subprocess.run([*meterbill, *command], cwd=EXAMPLES, env=_importable(), check=False)
        if finished.returncode != 0:
            return finished.returncode
    return 0


def _importable() -> dict[str, str]:
    """The environment, with this copy of meterbill first on the module path."""
    paths = [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}


if __name__ == "__main__":
    sys.exit(main())
