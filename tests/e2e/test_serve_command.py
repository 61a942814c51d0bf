"""``meterbill serve`` as a person runs it: a process of its own on a free port, found by the installed
command from any directory, printing its address and the demo account's keys, stopped by a signal."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import requests

from local.serve import DEMO_ACCOUNT_ID, LocalPlatform
from meterbill.errors import NotFoundError

STARTUP_SECONDS = 60.0
STOP_SECONDS = 5.0
READY_LINE = "Ctrl-C stops."


def meterbill_command() -> list[str]:
    installed = shutil.which("meterbill", path=str(Path(sys.executable).parent))
    return [installed] if installed else [sys.executable, "-m", "meterbill.cli"]


class Lines:
    """A pipe read line by line in a thread, so the test can wait for a line with a deadline."""

    def __init__(self, pipe: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(pipe,), daemon=True).start()

    def _read(self, pipe: IO[str]) -> None:
        for line in pipe:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, wanted: str, *, seconds: float) -> list[str]:
        """Every line up to and including ``wanted``."""
        deadline = time.monotonic() + seconds
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"the output ended before {wanted!r}: {self.seen}")
            self.seen.append(line)
            if line == wanted:
                return self.seen

    def rest(self, *, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        while (line := self.lines.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            self.seen.append(line)
        return self.seen


@contextmanager
def serving(*arguments: str, cwd: Path, environment: dict[str, str] | None = None) -> Iterator[Served]:
    """``meterbill serve --port 0 ARGUMENTS`` started in ``cwd``; killed at the end if still running."""
    process = subprocess.Popen(
        [*meterbill_command(), "serve", "--port", "0", *arguments],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        yield Served(process, Lines(process.stdout))
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


@dataclass
class Served:
    process: subprocess.Popen[str]
    stdout: Lines

    def stop(self, stop_signal: signal.Signals) -> tuple[int, float]:
        """The exit code, and the seconds it took to stop after the signal."""
        self.process.send_signal(stop_signal)
        asked_to_stop = time.monotonic()
        exit_code = self.process.wait(timeout=STOP_SECONDS)
        return exit_code, time.monotonic() - asked_to_stop

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()


def printed(pattern: str, lines: list[str]) -> str:
    (match,) = [m for line in lines if (m := re.fullmatch(pattern, line))]
    return match.group(1)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_prints_the_demo_keys_serves_them_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    with serving(cwd=tmp_path) as served:
        started = served.stdout.until(READY_LINE, seconds=STARTUP_SECONDS)
        url = printed(r"meterbill API: (http://127\.0\.0\.1:\d+) \(OpenAPI document: .*\)", started)
        admin_key = printed(r"  admin key:  (mb_\S+)", started)
        ingest_key = printed(r"  ingest key: (mb_\S+)", started)

        sites = requests.get(f"{url}/v1/sites", headers={"Authorization": f"Bearer {admin_key}"}, timeout=10)
        refused = requests.get(
            f"{url}/v1/sites", headers={"Authorization": f"Bearer {ingest_key}"}, timeout=10
        )
        console = requests.get(f"{url}/console/", allow_redirects=False, timeout=10)
        exit_code, stopped_after = served.stop(stop_signal)

        assert f"console: {url}/console/ (sign in with the admin key below)" in started
        assert (console.status_code, console.headers["Location"]) == (303, "/console/sign-in")
        assert f"demo account {DEMO_ACCOUNT_ID}; its keys are shown this once:" in started
        queue_url = printed(r"SQS: moto, invoice work queue (http://127\.0\.0\.1:\d+/\S+)", started)
        assert queue_url.endswith("/meterbill-invoice-work")
        assert (
            "schedules: alerts every 5 minutes, the rating pass every 15, the bill run hourly (on the wall "
            "clock; --no-schedules turns them off; meterbill schedules run fires one as of any moment)"
        ) in started
        assert (sites.status_code, sites.json()) == (200, {"items": [], "next_cursor": None})
        assert refused.status_code == 403
        assert (exit_code, stopped_after < STOP_SECONDS) == (0, True)
        assert served.stdout.rest(seconds=STOP_SECONDS)[-1] == "meterbill serve: stopped"
        assert "Traceback" not in served.stderr()


def test_serve_names_its_mail_folder(tmp_path: Path) -> None:
    with serving("--no-schedules", "--mail-dir", "outbox", cwd=tmp_path) as served:
        started = served.stdout.until(READY_LINE, seconds=STARTUP_SECONDS)
        exit_code, _ = served.stop(signal.SIGTERM)

    assert "email: SES on moto; every email sent is also written to outbox/ as .eml" in started
    topic = printed(
        r"alerts: SNS on moto, topic (arn:aws:sns:\S+); each notification is written to .*", started
    )
    assert topic.endswith(":meterbill-alerts")
    assert (
        f"alerts: SNS on moto, topic {topic}; each notification is written to outbox/ as the email each "
        "admitting subscriber would get"
    ) in started
    assert exit_code == 0


def test_serve_without_schedules_says_so_and_stops_cleanly(tmp_path: Path) -> None:
    with serving("--no-schedules", cwd=tmp_path) as served:
        started = served.stdout.until(READY_LINE, seconds=STARTUP_SECONDS)
        exit_code, stopped_after = served.stop(signal.SIGTERM)

    assert "schedules: off (meterbill schedules run rate|invoice|alerts --at TIME fires one)" in started
    assert (exit_code, stopped_after < STOP_SECONDS) == (0, True)


def test_serve_on_aws_uses_the_tables_the_environment_names_and_creates_nothing(
    tmp_path: Path, platform: LocalPlatform
) -> None:
    """The platform's moto stands in for AWS: its tables exist, and an account made there is served."""
    keys = platform.create_account("Acme")
    environment = {**os.environ, **platform.environment}

    with serving("--aws", cwd=tmp_path, environment=environment) as served:
        started = served.stdout.until(READY_LINE, seconds=STARTUP_SECONDS)
        url = printed(r"meterbill API: (http://127\.0\.0\.1:\d+) \(OpenAPI document: .*\)", started)
        sites = requests.get(
            f"{url}/v1/sites", headers={"Authorization": f"Bearer {keys.admin_key}"}, timeout=10
        )
        exit_code, _ = served.stop(signal.SIGINT)

    moto_url = platform.settings.storage.endpoint_url
    assert started == [
        f"meterbill API: {url} (OpenAPI document: {url}/v1/openapi.json)",
        f"console: {url}/console/",
        f"DynamoDB: {moto_url}, tables meterbill-catalog, meterbill-readings, meterbill-idempotency",
        "API keys: meterbill accounts create NAME --aws",
        READY_LINE,
    ]
    assert (sites.status_code, sites.json(), exit_code) == (200, {"items": [], "next_cursor": None}, 0)
    with pytest.raises(NotFoundError):
        platform.stores.accounts.get(DEMO_ACCOUNT_ID)


def test_serve_on_aws_names_the_variables_it_misses(tmp_path: Path) -> None:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("CATALOG_TABLE", "IDEMPOTENCY_TABLE", "AWS_REGION", "AWS_DEFAULT_REGION")
    }
    environment["READINGS_TABLE"] = "meterbill-readings"

    finished = subprocess.run(
        [*meterbill_command(), "serve", "--aws"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )

    assert (finished.returncode, finished.stdout, finished.stderr) == (
        2,
        "",
        "meterbill serve: --aws needs the environment variables CATALOG_TABLE, "
        "AWS_REGION or AWS_DEFAULT_REGION, IDEMPOTENCY_TABLE\n",
    )
