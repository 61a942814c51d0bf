"""What the fakes share: a fixed clock, and paging with the opaque cursor shape the adapters use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from meterbill.errors import (
    InvalidInputError,
)
from meterbill.ports import (
    Page,
)


def _page(items: Sequence[Any], ids: Sequence[str], limit: int, cursor: str | None) -> Page[Any]:
    """Items in id order after the cursor (the last id of the previous page); callers treat it as opaque."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    after = _decode_cursor(cursor)
    chosen = [
        (item_id, item) for item_id, item in zip(ids, items, strict=True) if after is None or item_id > after
    ]
    page = chosen[:limit]
    more = len(chosen) > limit
    return Page(items=[item for _, item in page], cursor=_encode_cursor(page[-1][0]) if more else None)


def _encode_cursor(last_id: str) -> str:
    return "after:" + last_id


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    if not cursor.startswith("after:"):
        raise InvalidInputError("cursor", "not a cursor of this listing")
    return cursor.removeprefix("after:")


FIXED_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED_NOW
