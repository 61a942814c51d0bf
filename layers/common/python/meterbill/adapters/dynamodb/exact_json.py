"""JSON text for stored bodies that keeps every number exact.

``dumps`` writes a ``Decimal`` as the number it is (``Decimal("12345.678")`` → ``12345.678``) and ``loads``
reads every number with a fraction or an exponent back as a ``Decimal``, so ``12345.678`` returns as
``Decimal("12345.678")``, never as a float. An integral Decimal is written with an exponent (``Decimal("5")``
→ ``5E0``) so it too comes back as a Decimal; a Python ``int`` stays an ``int``. A float (a raw JSON body
parsed without ``parse_float``) is written as its shortest repr, which is the text it was parsed from, and so
also comes back as a Decimal. NaN and infinities are refused: JSON has no spelling for them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def dumps(value: Any) -> str:
    parts: list[str] = []
    _write(value, parts, "body")
    return "".join(parts)


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _write(value: Any, parts: list[str], where: str) -> None:
    if value is None or isinstance(value, bool | str):
        parts.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, Decimal):
        parts.append(_decimal_literal(value, where))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value!r} has no JSON spelling")
        parts.append(_decimal_literal(Decimal(repr(value)), where))
    elif isinstance(value, Mapping):
        parts.append("{")
        for position, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"{where}: object keys must be strings, got {key!r}")
            if position:
                parts.append(",")
            parts.append(json.dumps(key, ensure_ascii=False))
            parts.append(":")
            _write(item, parts, f"{where}.{key}")
        parts.append("}")
    elif isinstance(value, Sequence):
        parts.append("[")
        for position, item in enumerate(value):
            if position:
                parts.append(",")
            _write(item, parts, f"{where}[{position}]")
        parts.append("]")
    else:
        raise TypeError(f"{where}: {type(value).__name__} is not a JSON value")


def _decimal_literal(value: Decimal, where: str) -> str:
    if not value.is_finite():
        raise ValueError(f"{where}: {value} has no JSON spelling")
    text = str(value)
    # JSON needs a digit before the point and none of Decimal's special spellings; str(Decimal) gives that.
    return text if ("." in text or "E" in text) else f"{text}E0"
