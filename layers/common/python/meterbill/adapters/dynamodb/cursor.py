"""Opaque listing cursors: base64url of the JSON of DynamoDB's ``LastEvaluatedKey``, checked on the way back.

A cursor only positions a query whose partition is fixed by the caller's account, so it cannot reach another
account's items; still, a cursor that is not one of ours, or that belongs to another listing (another account,
another kind, another prefix), is refused as invalid input rather than silently repositioned.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Final

from meterbill.errors import InvalidInputError

MAX_CURSOR_CHARS: Final = 4096
StartKey = dict[str, dict[str, str]]  # {"pk": {"S": "..."}, ...}: every key attribute here is a string


def encode(key: Mapping[str, str]) -> str:
    """The cursor for a start key given as attribute name → string value."""
    raw = {name: {"S": value} for name, value in sorted(key.items())}
    text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode("ascii")


def decode(cursor: str, *, checks: Mapping[str, Callable[[str], bool]]) -> StartKey:
    """The ``ExclusiveStartKey`` a cursor stands for. ``checks`` names exactly the key attributes expected and
    tells, for each, whether its value belongs to this listing."""
    start_key = _parse(cursor)
    if set(start_key) != set(checks):
        raise not_of_this_listing()
    for name, belongs in checks.items():
        if not belongs(start_key[name]["S"]):
            raise not_of_this_listing()
    return start_key


def not_of_this_listing() -> InvalidInputError:
    return InvalidInputError("cursor", "is not a cursor of this listing")


def _parse(cursor: str) -> StartKey:
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidInputError("cursor", "is not a valid cursor")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        data = json.loads(text)
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidInputError("cursor", "is not a valid cursor") from None
    if not isinstance(data, dict) or not all(
        isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) and value["S"]
        for value in data.values()
    ):
        raise InvalidInputError("cursor", "is not a valid cursor")
    return {str(name): {"S": value["S"]} for name, value in data.items()}
