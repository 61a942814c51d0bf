"""``meterbill demo --serve`` in a process of its own, for the demo's e2e test and the console's screenshots
(docs/console/take_screenshots.py): ``served_demo(out)`` starts it on a free port in a session (process
group) of its own, reads its stdout until the serve banner and yields what it printed and the banner's URL
and keys; on leaving, SIGTERM must stop it with exit code 0, its port closed and no process of its group
left (the moto server it started). A run that does not reach the banner in ``start_seconds``, or does not
stop in ``STOP_SECONDS``, is killed with its whole group, and the caller sees an AssertionError.

A process of its own, as `make demo` runs: moto servers in one process share their backends, and a second
platform stopping would reset the tables of the e2e tests' platform.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[2]
BANNER_END = "Ctrl-C stops."  # the serve banner's last line
START_SECONDS = 900  # the run up to the banner; then it is killed
STOP_SECONDS = 60  # from SIGTERM to its exit


@dataclass(frozen=True)
class ServedDemo:
    """``meterbill demo --serve`` running: what it printed up to its serve banner, and the banner's values."""

    lines: list[str]  # stdout up to, not including, the serve banner's rule
    banner: list[str]
    out: Path
    url: str
    admin_key: str
    read_key: str
    ingest_key: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _pump(stream: IO[str], into: queue.Queue[str | None]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


def _banner_value(banner: list[str], label: str) -> str:
    found = next((m for line in banner if (m := re.match(rf"{label}:\s+(\S+)", line))), None)
    assert found is not None, f"the serve banner has no {label!r} line:\n" + "\n".join(banner)
    return found.group(1)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def served_demo(out: Path, *, start_seconds: float = START_SECONDS) -> Iterator[ServedDemo]:
    """The demo with ``--serve --out out`` on a free port, up until the ``with`` block ends (see above)."""
    port = _free_port()
    out.mkdir(parents=True, exist_ok=True)
    errors = out / "stderr.txt"
    stderr = errors.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "meterbill.cli", "demo", "--serve", "--port", str(port), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    printed: list[str] = []
    deadline = time.monotonic() + start_seconds
    try:
        while not printed or not printed[-1].startswith(BANNER_END):
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                shown = "\n".join(printed[-40:])
                raise AssertionError(f"no serve banner after {start_seconds} s:\n{shown}") from None
            if line is None:
                said = errors.read_text(errors="replace")[-3000:]
                shown = "\n".join(printed[-40:])
                raise AssertionError(
                    f"the demo ended (exit code {process.wait()}) before its serve banner:\n{shown}\n{said}"
                )
            printed.append(line)
        rule = max(i for i, line in enumerate(printed) if "Serving" in line and line.startswith("─"))
        banner = printed[rule + 1 :]
        yield ServedDemo(
            printed[:rule],
            banner,
            out,
            _banner_value(banner, "API").removesuffix("/v1"),
            _banner_value(banner, "admin key"),
            _banner_value(banner, "read key"),
            _banner_value(banner, "ingest key"),
        )
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STOP_SECONDS)
        assert code == 0, f"the demo exited with {code}:\n" + errors.read_text(errors="replace")[-3000:]
        assert not _listening(port), f"port {port} still answers after the demo stopped"
        for _ in range(50):  # the moto process it started ends with it
            if not _group_alive(process.pid):
                break
            time.sleep(0.1)
        assert not _group_alive(process.pid), "a process the demo started is still running"
    finally:
        if process.poll() is None or _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stderr.close()
