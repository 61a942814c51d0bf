"""Item sizes and capacity units as DynamoDB bills them, for the cost benchmark and the tests that keep the
readings layout inside its budget. (moto reports a constant ``ConsumedCapacity``, so we count ourselves.)

From the DynamoDB developer guide ("Item sizes and formats", "Read/write capacity units"): an item's size is
the sum of its attribute names' UTF-8 bytes and its values' sizes. A string is its UTF-8 bytes, binary its
bytes, a number about 1 byte per two significant digits plus 1, a boolean or null 1 byte, a list or map 3
bytes plus 1 byte per element plus the elements (and a map's names). A write costs 1 unit per started KB
(1,024 bytes) of the item - of the larger of the old and the new item when it replaces or updates one - and
twice that in a transaction. A strongly consistent read costs 1 unit per started 4 KB (a query: of all the
items it returns together), an eventually consistent read half that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

WRITE_UNIT_BYTES: Final = 1024
READ_UNIT_BYTES: Final = 4096


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(element).encode()) for element in content)
    if kind == "NS":
        return sum(number_size(str(element)) for element in content)
    if kind == "BS":
        return sum(len(element) for element in content)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in content.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def number_size(text: str) -> int:
    mantissa = text.lstrip("-").split("E")[0].split("e")[0]
    digits = mantissa.replace(".", "").strip("0")
    return math.ceil(max(len(digits), 1) / 2) + 1


def write_units(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))


def read_units(size_bytes: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size_bytes / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2
