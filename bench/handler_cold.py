"""Handler cold start: how long importing each Lambda handler module takes, against ``import boto3`` alone.

Run: ``.venv/bin/python bench/handler_cold.py [--runs 7] [--top 12]`` (not a test; prints its figures, exits
0; takes about a minute).

Each figure is the best of ``--runs`` imports, each in a fresh interpreter (``python -c``), timed inside that
interpreter with ``time.perf_counter`` around the one import statement, so interpreter start-up is not part
of it. The interpreter is this one; the module search path is what Lambda gives a function: the function's
code (``functions/ingest``, Lambda's ``/var/task``) and then the layer (``layers/common/python``, Lambda's
``/opt/python``). The environment is the Lambda runtime's (function name, memory, region,
``LAMBDA_TASK_ROOT``, execution environment) plus the variables the infrastructure sets on each function
(``infra/cdk/constructs/functions.py``), with dummy table names; no credentials. Lambda runs its functions
with X-Ray tracing active, so the deployed environment is measured twice:

- ``tracing on``: as deployed (powertools' Tracer is on inside Lambda unless ``POWERTOOLS_TRACE_DISABLED``);
- ``tracing off``: the same with ``POWERTOOLS_TRACE_DISABLED=true`` (tests, the local server, a function
  deployed without tracing).

**Goal: each handler imports in at most 2 × the time of ``import boto3``.** The script prints the figures, the
ratios, then (for information) each import together with the modules its first request loads (a POST
/v1/readings loads the ingest service, pynamodb and botocore: a cold start pays those too, on the request),
and then where the import time of each handler goes: ``python -X importtime`` summed by package (self time of
every module of a package: ``meterbill.api``, ``pydantic``, ``aws_lambda_powertools.event_handler``, ...)
and the slowest single modules.

Measured on 2026-11-22 (2 cores shared with other jobs, so ±10 %), before and after the cold-start work
(handlers interleaved in one run, best of 10):

======================================  ==================  ==================
import (boto3: 258 ms)                  before              after
======================================  ==================  ==================
ingest_handler, tracing on              727 ms  2.82 x      640 ms  2.48 x
ingest_handler, tracing off             588 ms  2.28 x      452 ms  1.75 x
authorizer_handler (either)             268 ms  1.04 x      257-268 ms  1.0 x
ingest_handler + first POST, on         751 ms  2.91 x      706 ms  2.74 x
ingest_handler + first POST, off        725 ms  2.81 x      662 ms  2.56 x
======================================  ==================  ==================

With tracing on, the X-Ray SDK and its botocore patch (which loads botocore at import rather than on the
first request) keep the API's handler over the goal.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
FUNCTION_CODE: Final = ROOT / "functions" / "ingest"
LAYER: Final = ROOT / "layers" / "common" / "python"
GOAL_RATIO: Final = 2.0
BASELINE: Final = "boto3"
HANDLERS: Final = ("ingest_handler", "authorizer_handler")

LAMBDA_RUNTIME_ENV: Final = {
    "AWS_REGION": "eu-central-1",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "LAMBDA_TASK_ROOT": str(FUNCTION_CODE),
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
}
FUNCTION_ENV: Final[Mapping[str, Mapping[str, str]]] = {
    "ingest_handler": {
        "AWS_LAMBDA_FUNCTION_NAME": "meterbill-prod-api",
        "_HANDLER": "ingest_handler.lambda_handler",
        "CATALOG_TABLE": "meterbill-prod-catalog",
        "READINGS_TABLE": "meterbill-prod-readings",
        "IDEMPOTENCY_TABLE": "meterbill-prod-idempotency",
        "POWERTOOLS_SERVICE_NAME": "meterbill-api",
        "POWERTOOLS_METRICS_NAMESPACE": "meterbill",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    },
    "authorizer_handler": {
        "AWS_LAMBDA_FUNCTION_NAME": "meterbill-prod-authorizer",
        "_HANDLER": "authorizer_handler.lambda_handler",
        "CATALOG_TABLE": "meterbill-prod-catalog",
        "READINGS_TABLE": "meterbill-prod-readings",
        "POWERTOOLS_SERVICE_NAME": "meterbill-authorizer",
    },
    BASELINE: {"AWS_LAMBDA_FUNCTION_NAME": "meterbill-prod-api", "_HANDLER": "ingest_handler.lambda_handler"},
}
# What each function's first request loads besides (a POST /v1/readings for the API), for the second table.
FIRST_REQUEST: Final = {
    "ingest_handler": "meterbill.services.ingest, meterbill.adapters.dynamodb",
    "authorizer_handler": "meterbill.adapters.dynamodb",
}
TRACING: Final[Mapping[str, Mapping[str, str]]] = {
    "tracing on": {},
    "tracing off": {"POWERTOOLS_TRACE_DISABLED": "true"},
}
_TIMED: Final = "import time as _t; _s = _t.perf_counter(); import {module}; print(_t.perf_counter() - _s)"
_IMPORTTIME_LINE: Final = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def lambda_env(modules: str, tracing: str) -> dict[str, str]:
    """The environment of the Lambda function whose handler is the first of ``modules`` (no credentials:
    nothing may connect)."""
    module = modules.split(",")[0].strip()
    keep = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return {
        **keep,
        **LAMBDA_RUNTIME_ENV,
        **FUNCTION_ENV[module],
        **TRACING[tracing],
        "PYTHONPATH": os.pathsep.join([str(FUNCTION_CODE), str(LAYER)]),
    }


def import_seconds(module: str, env: Mapping[str, str]) -> float:
    """One import of ``module`` in a fresh interpreter, in seconds."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMED.format(module=module)],
        env=dict(env),
        cwd=FUNCTION_CODE,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def best_times(runs: int, cases: Sequence[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """The best of ``runs`` imports of each (module, tracing) case. The cases take turns, run after run, so a
    machine busy with something else for a while slows every case alike."""
    for module, tracing in cases:  # warms the file system cache and writes the .pyc files
        import_seconds(module, lambda_env(module, tracing))
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(runs):
        for module, tracing in cases:
            best[module, tracing] = min(
                best[module, tracing], import_seconds(module, lambda_env(module, tracing))
            )
    return best


@dataclass(frozen=True, slots=True)
class ModuleTime:
    name: str
    self_us: int
    cumulative_us: int
    depth: int


def import_profile(module: str, env: Mapping[str, str]) -> list[ModuleTime]:
    """``python -X importtime -c 'import module'``: every module it loaded, with its self and cumulative
    time (microseconds) and its depth under the import that loaded it."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=dict(env),
        cwd=FUNCTION_CODE,
        capture_output=True,
        text=True,
        check=True,
    )
    times = []
    for line in done.stderr.splitlines():
        parsed = _IMPORTTIME_LINE.match(line)
        if parsed:
            self_us, cumulative_us, indent, name = parsed.groups()
            times.append(ModuleTime(name, int(self_us), int(cumulative_us), len(indent) // 2))
    return times


def package_of(module: str) -> str:
    """The group a module's time is summed under: ``meterbill.<package>``,
    ``aws_lambda_powertools.<package>``, else the top-level package."""
    parts = module.split(".")
    if parts[0] in ("meterbill", "aws_lambda_powertools") and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def by_package(times: Sequence[ModuleTime]) -> list[tuple[str, int]]:
    totals: dict[str, int] = defaultdict(int)
    for entry in times:
        totals[package_of(entry.name)] += entry.self_us
    return sorted(totals.items(), key=lambda item: -item[1])


def print_profile(module: str, tracing: str, top: int, runs: int = 3) -> None:
    """The quickest of ``runs`` profiles, by package and by module."""
    profiles = [import_profile(module, lambda_env(module, tracing)) for _ in range(runs)]
    times = min(profiles, key=lambda profile: sum(entry.self_us for entry in profile))
    total_ms = max(entry.cumulative_us for entry in times if entry.name == module) / 1000
    print(f"\n{module} ({tracing}), python -X importtime: {total_ms:.0f} ms in all (importtime's own cost")
    print("inflates it), self time summed by package:")
    for package, self_us in by_package(times)[:top]:
        print(f"  {self_us / 1000:8.1f} ms  {package}")
    print("the slowest single modules (self time; cumulative in brackets):")
    for entry in sorted(times, key=lambda entry: -entry.self_us)[:top]:
        print(f"  {entry.self_us / 1000:8.1f} ms  ({entry.cumulative_us / 1000:6.1f} ms)  {entry.name}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per figure (best of; ≥ 5)")
    parser.add_argument("--top", type=int, default=12, help="packages and modules listed per handler")
    options = parser.parse_args(argv)
    runs = max(5, options.runs)

    print(f"Python {sys.version.split()[0]}, best of {runs} fresh interpreters each, import time only")
    baseline_case = (BASELINE, next(iter(TRACING)))
    cases = [baseline_case, *((module, tracing) for tracing in TRACING for module in HANDLERS)]
    cases += [(f"{module}, {FIRST_REQUEST[module]}", tracing) for tracing in TRACING for module in HANDLERS]
    best = best_times(runs, cases)
    baseline = best[baseline_case]
    print(f"  {baseline * 1000:7.1f} ms  import {BASELINE}")
    verdicts = []
    for tracing in TRACING:
        print(f"{tracing}:")
        for module in HANDLERS:
            ratio = best[module, tracing] / baseline
            verdict = "goal met" if ratio <= GOAL_RATIO else f"over the {GOAL_RATIO:g}x goal"
            verdicts.append(f"{module}, {tracing}: {ratio:.2f}x ({verdict})")
            print(f"  {best[module, tracing] * 1000:7.1f} ms  import {module}  = {ratio:.2f} x {BASELINE}")
    print(
        "\nFor information, each import with what its first request loads besides (a POST /v1/readings: the"
    )
    print("ingest service and its file readers, pynamodb, botocore; the authorizer: pynamodb, botocore):")
    for tracing in TRACING:
        print(f"{tracing}:")
        for module in HANDLERS:
            seconds = best[f"{module}, {FIRST_REQUEST[module]}", tracing]
            ratio = seconds / baseline
            print(f"  {seconds * 1000:7.1f} ms  {module} + first request  = {ratio:.2f} x {BASELINE}")
    for tracing in TRACING:
        for module in HANDLERS:
            print_profile(module, tracing, options.top)
    print("\nGoal: each handler ≤ 2 x import boto3.")
    for verdict in verdicts:
        print(f"  {verdict}")


if __name__ == "__main__":
    main()
