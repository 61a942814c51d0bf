"""moto's server for the local platform (``python -m local.moto_server -H HOST -p PORT``), with two speed-ups
to its DynamoDB that change no answer.

Profiling ``meterbill demo`` (moto 5.2.5) showed moto's server spending most of its time in two places:

- ``Table.query`` on a table's own key gathers its candidates from ``Table.all_items()``, which sorts every
  item of the table (DynamoType comparisons) before keeping the one partition asked for: each Query costs
  O(n log n) in the table's size, ~70 % of moto's time in Queries once the readings table holds two months.
  Here a Query with a partition key reads that partition's items only; they are sorted by the range key
  right after, as before, so the answer is the same.
- The JSON serializer walks each attribute value (``{"N": "1.5"}``) as a structure of ten members, each
  looked up through attribute pickers and alias providers: ~10 lookups per attribute of every item read.
  Here a scalar value (S or N, a string; SS or NS, a list of strings) is written as it is, which is what
  that walk produces for them; anything else (B, BS, BOOL, NULL, M, L) goes the long way as before.
- Each item written is built attribute by attribute into a ``LimitedSizeDict`` that sums the size of all it
  holds at every step (quadratic: a day bucket of 96 readings, ~4,700 size computations). Here the item's
  size is summed once; it is refused (``ItemSizeTooLarge``) exactly when moto would refuse it, since each
  step's sum only grows.

``tests/integration/test_moto_server.py`` checks that Query, GetItem, Scan and BatchGetItem answer the same
with and without them. Only this process is patched (the server of ``MotoProcess``); moto in the tests'
own processes stays as it is.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize

_SCALARS = frozenset({"S", "N"})
_STRING_SETS = frozenset({"SS", "NS"})
_partition = threading.local()  # the partition a Query on a table's own key reads (werkzeug: a thread each)

_original_query = Table.query
_original_all_items = Table.all_items
_original_structure = BaseJSONSerializer._serialize_type_structure
_original_item_init = Item.__init__
ITEM_LIMIT = 405000  # moto's LimitedSizeDict: bytes of names and values an item may hold
_QUERY = inspect.signature(_original_query)


def _query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = _QUERY.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
    if index_name or hash_key is None:
        return _original_query(self, hash_key, *args, **kwargs)
    _partition.key = hash_key
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        _partition.key = None


def _all_items(self: Table) -> Any:
    hash_key = getattr(_partition, "key", None)
    if hash_key is None:
        return _original_all_items(self)
    _partition.key = None  # the Query's one call; nothing else it calls sees the shortcut
    held = self.items.get(hash_key)  # a defaultdict, but get() adds no entry
    if held is None:
        return []
    if self.range_key_attr:
        return list(held.values())  # the Query sorts them by the range key next
    return [held]


def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
    if key and shape.name == "AttributeValue" and type(value) is dict and len(value) == 1:
        ((kind, inner),) = value.items()
        if (kind in _SCALARS and type(inner) is str) or (
            kind in _STRING_SETS and type(inner) is list and all(type(v) is str for v in inner)
        ):
            self._default_serialize(serialized, {kind: inner}, shape, key)
            return
    _original_structure(self, serialized, value, shape, key)


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    values = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in values.items()) > ITEM_LIMIT:
        raise ItemSizeTooLarge
    self.hash_key, self.range_key = hash_key, range_key
    self.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.__init__(self.attrs, values)


def install() -> None:
    """The speed-ups, in this process."""
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure  # type: ignore[method-assign]
    Item.__init__ = _item_init  # type: ignore[method-assign]


def uninstall() -> None:
    Table.query = _original_query  # type: ignore[method-assign]
    Table.all_items = _original_all_items  # type: ignore[method-assign]
    BaseJSONSerializer._serialize_type_structure = _original_structure  # type: ignore[method-assign]
    Item.__init__ = _original_item_init  # type: ignore[method-assign]


@contextmanager
def installed() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()


def main() -> None:
    install()
    from moto import server

    server.main()


if __name__ == "__main__":
    main()
