"""Pydantic validation problems as (field path, reason) in the words every edge of meterbill uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def field_path(loc: Sequence[int | str]) -> str:
    """A pydantic location as a path: ('energy', 'periods', 0, 'rate') -> 'energy.periods[0].rate'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def reason(problem: Mapping[str, Any]) -> str:
    """One line saying what is wrong, without pydantic's 'Value error, ' prefixes."""
    if problem["type"] == "extra_forbidden":
        return "unknown field"
    if problem["type"] == "missing":
        return "required field is missing"
    message = str(problem.get("msg") or problem["type"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return " ".join(message.split())
