"""Progress of a long read for a person, on stderr."""

from __future__ import annotations

import argparse
import sys
from types import TracebackType
from typing import TextIO

from meterbill.meterdata.importing import ProgressCallback

_MEBIBYTE = 1 << 20


def wants_progress(args: argparse.Namespace) -> bool:
    asked: bool | None = args.progress
    return sys.stderr.isatty() if asked is None else asked


class ProgressReport:
    """Progress for a person on stderr: on a terminal one line rewritten in place, else a line a report."""

    def __init__(self, path: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.path = path
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.in_place = self.stream.isatty()
        self.line_open = False

    def callback(self, doing: str) -> ProgressCallback | None:
        if not self.enabled:
            return None

        def report(done: int, total: int | None) -> None:
            self._write(f"{self.path}: {doing} {_how_far(done, total)}")

        return report

    def _write(self, text: str) -> None:
        if self.in_place:
            self.stream.write(f"\r{text}\x1b[K")
            self.line_open = True
        else:
            self.stream.write(f"{text}\n")
        self.stream.flush()

    def __enter__(self) -> ProgressReport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.line_open:  # end the line rewritten in place, so what follows starts on its own
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False


def _how_far(done: int, total: int | None) -> str:
    """``12.5 of 50.0 MiB (25 %)``: bytes for people (a file under a MiB in KiB)."""
    if not total:
        return _size(done)
    return f"{_size(done)} of {_size(total)} ({done * 100 // total} %)"


def _size(byte_count: int) -> str:
    if byte_count < _MEBIBYTE:
        return f"{-(-byte_count // 1024)} KiB"
    tenths = byte_count * 10 // _MEBIBYTE
    return f"{tenths // 10}.{tenths % 10} MiB"
