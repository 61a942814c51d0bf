"""Registers to exact values and back (the simulator encodes what the collector decodes).

A float register is turned into the shortest decimal that reads back as the same float: a float32 kWh
register holding 12345.67 arrives as 12345.669921875 and is sent as 12345.67, never with digits the meter
does not have. Integers are exact. Then ``scale`` (and the meter's multiplier, by the caller) apply as
``Decimal``."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import Decimal

from meterbill_collector.registers import WORDS, DataType, Order, RegisterSpec

_STRUCT: dict[DataType, str] = {
    "int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q", "float32": "f",
    "float64": "d",
}  # fmt: skip


class DecodeError(ValueError):
    """The registers do not hold a usable value (a NaN, an infinity, too few registers)."""


def _to_big_endian(words: Sequence[int], order: Order) -> bytes:
    """The registers as one big-endian byte string. ABCD: high word first, high byte first; CDAB: low word
    first (the words reversed); BADC: the bytes of each word swapped; DCBA: both (fully little-endian)."""
    ordered = list(reversed(words)) if order in ("CDAB", "DCBA") else list(words)
    raw = b"".join(word.to_bytes(2, "big") for word in ordered)
    if order in ("BADC", "DCBA"):
        raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
    return raw


def _from_big_endian(raw: bytes, order: Order) -> list[int]:
    if order in ("BADC", "DCBA"):
        raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return list(reversed(words)) if order in ("CDAB", "DCBA") else words


def plain(value: Decimal) -> Decimal:
    """``value`` without an exponent the API would be sent as text (``1E+3`` is ``1000``); zero unsigned."""
    if value.is_zero():
        return Decimal(0)
    exponent = value.as_tuple().exponent
    return Decimal(f"{value:f}") if isinstance(exponent, int) and exponent > 0 else value


def shortest_float(value: float, data_type: DataType) -> Decimal:
    """The shortest decimal that is the same float of ``data_type`` (float32: about 7 significant digits)."""
    if data_type == "float64":
        return plain(Decimal(repr(value)))
    bits = struct.pack(">f", value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.pack(">f", float(text)) == bits:
            return plain(Decimal(text))
    return plain(Decimal(repr(value)))  # unreachable: 9 significant digits identify every float32


def decode(spec: RegisterSpec, words: Sequence[int]) -> Decimal:
    """The value ``spec`` describes in ``words`` (registers; for a bit table, 0 or 1), scaled."""
    if len(words) != WORDS[spec.type]:
        raise DecodeError(f"{spec.name}: {len(words)} registers read, {spec.type} needs {WORDS[spec.type]}")
    if spec.type == "bool":
        return Decimal(1 if words[0] else 0) * spec.scale
    (number,) = struct.unpack(">" + _STRUCT[spec.type], _to_big_endian(words, spec.order))
    if isinstance(number, float):
        if not math.isfinite(number):
            raise DecodeError(f"{spec.name}: the register holds {number} (not a number)")
        exact = shortest_float(number, spec.type)
    else:
        exact = Decimal(number)
    return plain((exact * spec.scale).normalize()) if spec.scale != 1 else exact


def encode(spec: RegisterSpec, value: Decimal | int | float) -> list[int]:
    """The registers a meter holding ``value`` (in ``spec``'s unit, before scale) shows for ``spec``."""
    if spec.type == "bool":
        return [1 if value else 0]
    unscaled = Decimal(str(value)) / spec.scale
    code = _STRUCT[spec.type]
    number: float | int = float(unscaled) if spec.type.startswith("float") else int(unscaled)
    return _from_big_endian(struct.pack(">" + code, number), spec.order)
