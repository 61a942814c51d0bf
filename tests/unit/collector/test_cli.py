"""``meterbill-collector`` on the command line: a bad config stops it at start naming the meter and the field,
``status`` reads the spool another process wrote, and ``--log-format json`` logs one object a line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill_collector import cli, logs
from meterbill_collector.model import MeterHealth, Reading
from meterbill_collector.spool import Spool

GOOD = """
collector_id = "office-1"
timezone = "Europe/Berlin"

[api]
url = "https://api.example.com"
key_env = "METERBILL_INGEST_KEY"

[transports.line1]
kind = "rtu"
device = "/dev/ttyUSB0"

[[meters]]
id = "main"
transport = "line1"
unit_id = 1
profile = "eastron-sdm630"
interval_minutes = 15
"""


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    """The command configures the root logger: put pytest's handlers back after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    logging.getLogger("pymodbus").setLevel(logging.NOTSET)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_run_with_a_bad_config_exits_2_listing_each_problem_by_meter_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METERBILL_INGEST_KEY", raising=False)
    config = tmp_path / "site.toml"
    config.write_text(
        GOOD.replace('profile = "eastron-sdm630"', 'profile = "sdm999"')
        + '\n[[meters]]\nid = "main"\ntransport = "line1"\nunit_id = 2\nprofile = "eastron-sdm120"\n'
        "interval_minutes = 15\n"
    )

    code, out, err = run(["run", str(config)])

    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"meterbill-collector: {config}: 3 problems",
        "  api: key: missing (set key or key_env; the variable METERBILL_INGEST_KEY is not set)",
        "  meters[0] 'main': profile: unknown profile 'sdm999' (shipped: eastron-sdm120, eastron-sdm630, "
        "pulse-counter-32, pulse-counter-64, on-off-hours, rack-pdu)",
        "  meters[1] 'main': id: 'main' is also the id of meters[0] 'main'",
    ]


def test_a_config_file_that_is_not_toml_is_named_once_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('collector_id = "x"\n[api\n')

    code, _, err = run(["status", str(config)])

    assert code == 2
    assert err.startswith(f"meterbill-collector: {config}: not valid TOML: ")
    assert "line 2" in err and err.count(str(config)) == 1


def test_status_needs_no_key_and_says_when_there_is_no_spool_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METERBILL_INGEST_KEY", raising=False)
    config = tmp_path / "site.toml"
    config.write_text(GOOD)

    assert run(["status", str(config)]) == (
        0,
        f"no spool yet at {tmp_path / 'spool.sqlite'}: the collector has not run with this config\n",
        "",
    )


def test_status_prints_the_spool_a_collector_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METERBILL_INGEST_KEY", raising=False)
    config = tmp_path / "site.toml"
    config.write_text(GOOD)
    stamp = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    with Spool(tmp_path / "spool.sqlite", quota_bytes=1 << 30) as spool:
        spool.add([Reading("main", stamp, Decimal("12.5"), stamp)])
        spool.save_health([MeterHealth("main", stamp, "timeout after 1.0 s (2 attempts)")])

    code, out, _ = run(["status", str(config)])

    assert code == 0
    assert out.splitlines() == [
        "spool depth          1 reading",
        "oldest unsent        2026-11-20 10:00:00Z",
        "last push            never",
        "batch in flight      none",
        "rejected by the API  0 readings",
        "failing meters       1",
        "",
        "meter  last good read        error",
        "main   2026-11-20 10:00:00Z  timeout after 1.0 s (2 attempts)",
    ]


def test_json_logs_are_one_object_a_line_with_the_events_facts() -> None:
    stream = io.StringIO()
    logs.configure("json", "INFO", stream)
    logging.getLogger("meterbill_collector.poll").warning(
        "meter %s did not answer", "main", extra={"meter": "main", "unit": 1, "value": Decimal("1.50")}
    )
    logging.getLogger("meterbill_collector.poll").debug("not shown at INFO")

    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry.pop("time").endswith("+00:00")
    assert entry == {
        "level": "warning",
        "logger": "meterbill_collector.poll",
        "message": "meter main did not answer",
        "meter": "main",
        "unit": 1,
        "value": "1.50",
    }


def test_text_logs_put_the_facts_after_the_message() -> None:
    stream = io.StringIO()
    logs.configure("text", "INFO", stream)
    logging.getLogger("meterbill_collector.push").info("pushed %d readings", 3, extra={"batch_key": "k1"})

    line = stream.getvalue().rstrip()
    assert line.endswith("INFO    meterbill_collector.push: pushed 3 readings [batch_key=k1]")
