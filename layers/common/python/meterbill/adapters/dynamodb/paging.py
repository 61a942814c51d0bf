"""One page of a catalog-table query: exactly ``limit`` items and a cursor only when more follow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from pynamodb.expressions.condition import Condition

from meterbill.adapters.dynamodb import cursor as cursors
from meterbill.adapters.dynamodb.connection import DynamoDb
from meterbill.errors import InvalidInputError

RawItem = dict[str, dict[str, Any]]


def query_page(
    db: DynamoDb,
    hash_key: str,
    *,
    limit: int,
    start_key: cursors.StartKey | None,
    cursor_key_names: Sequence[str],
    range_key_condition: Condition | None = None,
    index_name: str | None = None,
    filter_condition: Condition | None = None,
    what: str,
) -> tuple[list[RawItem], str | None]:
    """Items of one partition in sort-key order. Asks for one item more than ``limit`` so the last page says
    so (no cursor) instead of handing out a cursor to an empty page; follows DynamoDB's own 1 MB pages.
    With ``filter_condition``, DynamoDB's ``Limit`` counts the items it read, not those it returned: pages
    are followed until ``limit + 1`` items passed the filter or the partition ends."""
    if limit < 1:
        raise InvalidInputError("limit", f"must be at least 1, got {limit}")
    wanted = limit + 1
    items: list[RawItem] = []
    exclusive_start: cursors.StartKey | None = start_key
    while len(items) < wanted:
        answer: Mapping[str, Any] = db.run(
            partial(
                db.catalog_table.query,
                hash_key,
                range_key_condition=range_key_condition,
                index_name=index_name,
                filter_condition=filter_condition,
                exclusive_start_key=exclusive_start,
                limit=wanted - len(items),
                consistent_read=index_name is None,  # an index can only be read eventually consistent
            ),
            what=what,
            idempotent=True,
        )
        items.extend(answer.get("Items", []))
        exclusive_start = answer.get("LastEvaluatedKey")
        if exclusive_start is None:
            break
    if len(items) <= limit:
        return items, None
    last = items[limit - 1]
    return items[:limit], cursors.encode({name: last[name]["S"] for name in cursor_key_names})
