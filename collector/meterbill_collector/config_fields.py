"""Typed reading of one TOML table for ``config.load_config``: every getter records a problem (the section,
the field, the reason) instead of raising, and hands back a stand-in, so one pass finds every problem."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TypeVar

_T = TypeVar("_T")


def describe(value: object) -> str:
    """A TOML value as its writer sees it: ``string 'x'``, ``float 0.1``, ``table``."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, datetime | date | time):
        return f"date/time {value.isoformat()}"
    return type(value).__name__


def choices(values: Collection[object]) -> str:
    return ", ".join(str(value) for value in values)


class Problems:
    """The problems found so far, in the order found."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, label: str, field: str, reason: str) -> None:
        self.lines.append(": ".join(part for part in (label, field, reason) if part))


class Fields:
    """One TOML table (``label`` names it in messages: ``api``, ``meters[2] 'gas-1'``). Unknown keys are
    problems at once: a typo (``intervall_minutes``) must never be silently ignored."""

    def __init__(
        self, label: str, data: Mapping[str, object], known: Sequence[str], problems: Problems
    ) -> None:
        self.label, self.data, self.problems = label, data, problems
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]}?" if close else f"known: {choices(known)}"
                self.problem(key, f"unknown key ({hint})")

    def problem(self, field: str, reason: str) -> None:
        self.problems.add(self.label, field, reason)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, kind: type | tuple[type, ...], expected: str, required: bool) -> object | None:
        if key not in self.data:
            if required:
                self.problem(key, "missing")
            return None
        value = self.data[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            self.problem(key, f"expected {expected}, got {describe(value)}")
            return None
        if not isinstance(value, kind):
            self.problem(key, f"expected {expected}, got {describe(value)}")
            return None
        return value

    def text(self, key: str, default: str = "", *, required: bool = False, max_length: int = 256) -> str:
        value = self._get(key, str, "a string", required)
        if not isinstance(value, str):
            return default
        if not value.strip():
            self.problem(key, "empty")
            return default
        if len(value) > max_length:
            self.problem(key, f"{value[:20]!r}... is {len(value)} characters long, at most {max_length}")
            return default
        return value

    def choice(
        self, key: str, allowed: Sequence[_T], default: _T, *, what: str, required: bool = False
    ) -> _T:
        value = self._get(key, (str, int), "a string", required)
        if value is None:
            return default
        for candidate in allowed:
            if candidate == value:
                return candidate
        self.problem(key, f"unknown {what} {value!r} ({choices(allowed)})")
        return default

    def integer(
        self, key: str, default: int, low: int, high: int | None = None, *, required: bool = False
    ) -> int:
        value = self._get(key, int, "an integer", required)
        if not isinstance(value, int):
            return default
        if value < low or (high is not None and value > high):
            self.problem(
                key, f"{value} is outside {low}..{high}" if high is not None else f"{value} is below {low}"
            )
            return default
        return value

    def seconds(self, key: str, default: float) -> float:
        """A positive duration in seconds (integer or float: a float's inexactness is harmless here)."""
        value = self._get(key, (int, float), "a number of seconds", False)
        if not isinstance(value, int | float):
            return default
        if not 0 < value <= 3600:
            self.problem(key, f"{value} is outside 0..3600 seconds")
            return default
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, bool, "true or false", False)
        return value if isinstance(value, bool) else default

    def decimal(self, key: str, default: Decimal) -> Decimal:
        """An exact positive factor, as a string (``"0.1"``) or an integer; a TOML float is refused because
        0.1 has no exact binary value and a multiplier must not drift a counter."""
        if isinstance(self.data.get(key), float):
            value = self.data[key]
            self.problem(key, f'{value} is a TOML float, which is not exact: write it as a string, "{value}"')
            return default
        value = self._get(key, (str, int), 'a string ("0.1") or an integer', False)
        if value is None:
            return default
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.problem(key, f"{value!r} is not a number")
            return default
        if not number.is_finite() or number <= 0:
            self.problem(key, f"{value!r} must be a positive number")
            return default
        return number

    def table(self, key: str, *, required: bool = False) -> dict[str, object] | None:
        value = self._get(key, dict, "a table", required)
        return value if isinstance(value, dict) else None

    def tables(self, key: str, *, required: bool = False, form: str) -> list[dict[str, object]] | None:
        """An array of tables (``[[meters]]``, ``registers = [{...}]``); ``form`` shows how to write it."""
        value = self._get(key, list, f"an array of tables ({form})", required)
        if not isinstance(value, list):
            return None
        if not all(isinstance(item, dict) for item in value):
            self.problem(key, f"expected an array of tables ({form})")
            return None
        return value
