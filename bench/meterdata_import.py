"""NEM12 import throughput and memory: synthetic 5-minute NEM12 files of ~10 MB and ~50 MB, read streaming.

Run: ``.venv/bin/python bench/meterdata_import.py [--sizes 10 50]`` (not a test; prints its figures, exits 0;
about 3 minutes, most of it the pass under tracemalloc).

Each file is a year of 5-minute kWh data for as many NMIs as the size needs (every 10th day of quality V with
three 400 records, a 500 record after each of those). Each size is imported in a fresh process, so its peak
RSS is its own: once untraced for readings per second, once under tracemalloc for the peak of Python
allocations. Streaming means both peaks stay flat as the file grows: memory holds one day of one channel.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python"))

from meterbill.meterdata.nem12 import read_nem12

MB = 1_000_000
DAYS = 365
INTERVALS = 288  # 5-minute
FIRST_DAY = date(2025, 7, 1)


def write_nem12(path: Path, megabytes: int) -> tuple[int, int]:
    """A NEM12 file of about ``megabytes`` MB; returns (NMIs, readings)."""
    generator = random.Random(12)
    day_values = [",".join(f"{generator.uniform(0, 0.9):.3f}" for _ in range(INTERVALS)) for _ in range(97)]
    line_bytes = len("300,20250701,") + len(day_values[0]) + len(",A,,,20250702030405,\r\n")
    nmis = max(1, round(megabytes * MB / (DAYS * line_bytes)))
    with path.open("w", newline="") as out:
        out.write("100,NEM12,202507020304,BENCHMDP,BENCHRET\r\n")
        for n in range(nmis):
            out.write(f"200,BENCH{n:05},E1,1,E1,N1,SER{n:05},kWh,5,\r\n")
            for d in range(DAYS):
                day = f"{FIRST_DAY + timedelta(days=d):%Y%m%d}"
                values = day_values[(n * 31 + d) % len(day_values)]
                if d % 10 == 9:
                    out.write(f"300,{day},{values},V,,,20250702030405,\r\n")
                    out.write("400,1,100,A,,\r\n400,101,120,E52,,\r\n400,121,288,S14,79,\r\n")
                    out.write(f"500,O,SO{n:05},20250702030405,\r\n")
                else:
                    out.write(f"300,{day},{values},A,,,20250702030405,\r\n")
        out.write("900\r\n")
    return nmis, nmis * DAYS * INTERVALS


def measure(path: Path) -> dict[str, float]:
    """Run in a child process: read the file twice, untraced then traced."""
    started = time.perf_counter()
    rows, total = 0, Decimal(0)
    with path.open(newline="") as lines:
        for reading in read_nem12(lines, path.name):
            rows += 1
            total += reading.value
    seconds = time.perf_counter() - started
    tracemalloc.start()
    with path.open(newline="") as lines:
        for _ in read_nem12(lines, path.name):
            pass
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "rows": rows,
        "seconds": seconds,
        "traced_peak_mib": traced_peak / 2**20,
        "max_rss_mib": max_rss_kib / 2**10,
        "total_kwh": float(total),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50], help="file sizes in MB")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child mode
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(measure(arguments.measure)))
        return

    print(f"NEM12 streaming import, 5-minute data, {DAYS} days per NMI (Python {sys.version.split()[0]})")
    columns = ("file", 9), ("NMIs", 5), ("readings", 11), ("seconds", 8), ("rows/s", 10), ("traced peak", 12)
    print(" ".join(f"{name:>{width}}" for name, width in (*columns, ("max RSS", 9))))
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for megabytes in arguments.sizes:
            path = Path(directory) / f"NEM12#BENCH{megabytes}#BENCHMDP#BENCHRET.V01"
            nmis, readings = write_nem12(path, megabytes)
            child = [sys.executable, __file__, "--measure", str(path)]
            figures = json.loads(subprocess.run(child, capture_output=True, text=True, check=True).stdout)
            assert figures["rows"] == readings, (figures["rows"], readings)
            size = path.stat().st_size / MB
            rate = figures["rows"] / figures["seconds"]
            print(
                f"{size:>6.1f} MB {nmis:>5} {readings:>11,} {figures['seconds']:>8.1f} {rate:>10,.0f} "
                f"{figures['traced_peak_mib']:>8.2f} MiB {figures['max_rss_mib']:>5.0f} MiB"
            )
            results.append((size, figures))
            path.unlink()
    if len(results) >= 2:
        (small_size, small), (large_size, large) = results[0], results[-1]
        growth = large["traced_peak_mib"] / small["traced_peak_mib"]
        rss_growth = large["max_rss_mib"] / small["max_rss_mib"]
        verdict = "flat: memory does not follow file size" if max(growth, rss_growth) < 1.25 else "GROWS"
        print(
            f"file {large_size / small_size:.1f}x larger: traced peak x{growth:.2f}, "
            f"max RSS x{rss_growth:.2f} ({verdict})"
        )


if __name__ == "__main__":
    main()
