"""bench/bill_run.py must not rot: its main, with 3 customers on moto, issues exactly 3 invoices. (A smoke
test: it asserts what the run does, never how fast.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bill_run.py"


def load_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "DYNAMODB_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "bench")  # the module sets these on import; restored after the test
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("bench_bill_run", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_bill_run_bench_issues_one_invoice_per_customer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench(monkeypatch)

    assert bench.main(["--customers", "3"]) == 0

    out = capsys.readouterr().out
    assert "Issued: 3 invoices" in out
    issuing = next(line for line in out.splitlines() if line.startswith("3. issue (02-03 00:30) "))
    assert issuing.split()[4] == "3"  # the schedule sent three messages in the issuing pass
    assert issuing.endswith("| {'issued': 3}")
