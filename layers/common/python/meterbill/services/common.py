"""What several services share: turning validation errors into InvalidInputError, paging through a whole
listing, and checking the values every service takes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any, Final

from pydantic import ValidationError

from meterbill import fielderrors
from meterbill.errors import InvalidInputError
from meterbill.ports import CatalogKind, CatalogStore, Stored
from meterbill.timeutil import outside_calendar

MAX_PAGE_SIZE: Final = 100
# A free-form document (a tariff, a URDB rate) as a client may send it: far below a DynamoDB item (400 KB)
# stored, and no deeper or wider than any real tariff (the largest URDB rate seen: 7 KB, 37 items, depth 4).
MAX_DOCUMENT_BYTES: Final = 100_000
MAX_DOCUMENT_TEXT: Final = 10_000
MAX_DOCUMENT_ITEMS: Final = 1_000
MAX_DOCUMENT_DEPTH: Final = 32
_SCAN_PAGE_SIZE: Final = 100


def invalid_input(err: ValidationError, *, under: str = "") -> InvalidInputError:
    """The first problem pydantic found as ``InvalidInputError(field, reason)``; the reason counts the rest.

    A problem of the whole object (a model validator) has no location; it is reported on ``under`` or "body".
    """
    problems = err.errors(include_url=False)
    first = problems[0]
    reason = fielderrors.reason(first)
    if len(problems) > 1:
        reason += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    path = fielderrors.field_path(first["loc"])
    field = ".".join(part for part in (under, path) if part) or "body"
    return InvalidInputError(field, reason)


def check_page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError("limit", f"must be 1 to {MAX_PAGE_SIZE}, got {limit}")
    return limit


def all_items(
    account: str, kind: CatalogKind, catalog: CatalogStore, *, prefix: str = ""
) -> Iterator[Stored]:
    """Every object of a kind (ids starting with ``prefix``), page after page, in id order."""
    cursor: str | None = None
    while True:
        page = catalog.list(account, kind, limit=_SCAN_PAGE_SIZE, cursor=cursor, prefix=prefix)
        yield from page.items
        if page.cursor is None:
            return
        cursor = page.cursor


def check_document_bounds(document: Mapping[str, Any]) -> None:
    """InvalidInputError naming the first text, list or object beyond its bound (see MAX_DOCUMENT_*), or
    ``body`` when the whole is more than MAX_DOCUMENT_BYTES as compact JSON."""
    pending: list[tuple[tuple[int | str, ...], Any]] = [((), document)]
    while pending:
        loc, value = pending.pop()
        where = fielderrors.field_path(loc) or "body"
        if len(loc) > MAX_DOCUMENT_DEPTH:
            raise InvalidInputError(where, f"nested more than {MAX_DOCUMENT_DEPTH} levels deep")
        if isinstance(value, str) and len(value) > MAX_DOCUMENT_TEXT:
            raise InvalidInputError(where, f"a text of {len(value)} characters; at most {MAX_DOCUMENT_TEXT}")
        if isinstance(value, Mapping | list) and len(value) > MAX_DOCUMENT_ITEMS:
            raise InvalidInputError(where, f"{len(value)} items; at most {MAX_DOCUMENT_ITEMS}")
        if isinstance(value, Mapping):
            for name, item in value.items():
                if len(str(name)) > MAX_DOCUMENT_TEXT:
                    raise InvalidInputError(where, f"a name of {len(str(name))} characters")
                pending.append(((*loc, str(name)), item))
        elif isinstance(value, list):
            pending.extend(((*loc, index), item) for index, item in enumerate(value))
    size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode())
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidInputError("body", f"{size} bytes as JSON; at most {MAX_DOCUMENT_BYTES}")


def require_in_calendar(moment: date | datetime, field: str) -> None:
    """InvalidInputError naming ``field`` unless its date lies in 2000-01-01 ... 2100-01-01 (timeutil)."""
    reason = outside_calendar(moment)
    if reason is not None:
        raise InvalidInputError(field, reason)


def require_aware(moment: datetime, field: str) -> datetime:
    """A datetime with a time zone, or InvalidInputError naming ``field``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(field, f"{moment.isoformat()} has no UTC offset or time zone")
    return moment
