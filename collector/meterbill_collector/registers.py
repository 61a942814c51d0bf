"""How one quantity sits in a meter's Modbus tables: the table (function code), address, type, order and
scale — the fields of Telegraf's modbus input. A profile (``profiles``) is a meter model's list of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Table = Literal["coil", "discrete", "holding", "input"]
DataType = Literal["bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
Order = Literal["ABCD", "DCBA", "BADC", "CDAB"]

FUNCTION_CODES: dict[Table, int] = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
TABLES: tuple[Table, ...] = ("coil", "discrete", "holding", "input")
DATA_TYPES: tuple[DataType, ...] = (
    "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64",
)  # fmt: skip
ORDERS: tuple[Order, ...] = ("ABCD", "DCBA", "BADC", "CDAB")
WORDS: dict[DataType, int] = {
    "bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4, "float32": 2,
    "float64": 4,
}  # fmt: skip
BIT_TABLES: tuple[Table, ...] = ("coil", "discrete")  # one bit per address; read as "bool" only
MAX_ADDRESS = 65535


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """One quantity of a meter.

    ``address`` is the protocol address (0-based, as on the wire; a datasheet's 30001 is input 0).
    ``cumulative`` quantities (energy, volume, hours) are the ones the collector sends as register reads;
    the others (a status coil, a power) are shown by ``check`` and logged, not sent."""

    name: str
    table: Table
    address: int
    type: DataType
    order: Order = "ABCD"
    scale: Decimal = Decimal(1)
    unit: str = ""
    cumulative: bool = True

    @property
    def words(self) -> int:
        """Registers (or bits, in a bit table) it occupies."""
        return WORDS[self.type]

    @property
    def function_code(self) -> int:
        return FUNCTION_CODES[self.table]


@dataclass(frozen=True, slots=True)
class Profile:
    """A meter model: its quantities and how it may be read.

    ``primary`` is the quantity sent under the meter's own id when its config maps none. Reads are merged into
    as few requests as ``max_read`` (registers or bits per request) and ``max_gap`` (unmapped addresses a
    request may span; 0 for meters that answer exception 2 to any address they do not map) allow."""

    name: str
    description: str
    registers: tuple[RegisterSpec, ...]
    primary: str
    max_read: int = 125
    max_gap: int = 0
    options: dict[str, int] = field(default_factory=dict)  # what it was built with (a PDU's outlet count)

    def register(self, name: str) -> RegisterSpec:
        for spec in self.registers:
            if spec.name == name:
                return spec
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One Modbus request: ``count`` registers (or bits) of ``table`` from ``address``, covering ``specs``."""

    table: Table
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]

    @property
    def function_code(self) -> int:
        return FUNCTION_CODES[self.table]
