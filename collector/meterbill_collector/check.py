"""``meterbill-collector check``: read every meter once, every quantity of its profile, and print what came
back — what an installer runs on day one, before any reading is sent.

Lines are read in parallel, the meters of one line one after the other, each with its own timeout and retries.
A meter that does not answer gets one row with its Modbus error; a quantity that does not decode (a NaN, a
wrong-length answer) gets its own row with the reason, beside the quantities that did."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterbill_collector.config import CollectorConfig, MeterConfig
from meterbill_collector.decoding import DecodeError, decode
from meterbill_collector.model import Clock
from meterbill_collector.polling import Line, error_text, read_words, requests_for


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One quantity of one meter (or, with ``quantity`` None, a meter that could not be read)."""

    meter: str
    transport: str
    unit_id: int
    quantity: str | None
    value: Decimal | None  # as the meter holds it, scaled by its profile (not multiplied)
    unit: str
    is_bool: bool = False
    sent_as: str | None = None  # the platform meter id it is sent under
    multiplier: Decimal = Decimal(1)
    error: str | None = None

    @property
    def sent_value(self) -> Decimal | None:
        """What a reading of this quantity carries (the value times the meter's multiplier)."""
        return None if self.value is None or self.sent_as is None else self.value * self.multiplier


@dataclass(frozen=True, slots=True)
class CheckTable:
    collector_id: str
    checked_at: datetime
    zone: ZoneInfo
    meters: tuple[str, ...]  # every meter of the config, in its order
    rows: tuple[CheckRow, ...]

    @property
    def errors(self) -> tuple[CheckRow, ...]:
        """The rows with an error (a meter that did not answer, a quantity that did not decode)."""
        return tuple(row for row in self.rows if row.error is not None)

    @property
    def failing(self) -> tuple[str, ...]:
        """Meters with an error (the meter or one of its quantities), in config order."""
        bad = {row.meter for row in self.rows if row.error is not None}
        return tuple(meter for meter in self.meters if meter in bad)


async def _check_meter(line: Line, config: CollectorConfig, meter: MeterConfig) -> list[CheckRow]:
    transport = config.transports[meter.transport]
    try:
        words = await read_words(line, meter, transport, requests_for(meter))
    except Exception as error:  # the meter's fault (or the collector's): shown, the next meter still read
        return [CheckRow(meter.id, meter.transport, meter.unit_id, None, None, "", error=error_text(error))]
    sent = meter.sent
    rows = []
    for spec in meter.profile.registers:
        value: Decimal | None = None
        problem: str | None = None
        try:
            value = decode(spec, words[spec.name])
        except DecodeError as error:
            problem = str(error)
        rows.append(
            CheckRow(
                meter.id,
                meter.transport,
                meter.unit_id,
                spec.name,
                value,
                spec.unit,
                is_bool=spec.type == "bool",
                sent_as=sent.get(spec.name),
                multiplier=meter.multiplier,
                error=problem,
            )
        )
    return rows


async def _check_line(line: Line, config: CollectorConfig, meters: Sequence[MeterConfig]) -> list[CheckRow]:
    return [row for meter in meters for row in await _check_meter(line, config, meter)]


async def check(config: CollectorConfig, lines: Mapping[str, Line], clock: Clock) -> CheckTable:
    """Reads every meter of ``config`` once over ``lines`` (transport name -> open line)."""
    checked_at = clock.now()
    by_line: dict[str, list[MeterConfig]] = {}
    for meter in config.meters:
        if meter.transport not in lines:
            raise ValueError(f"meter '{meter.id}': transport: no line open for '{meter.transport}'")
        by_line.setdefault(meter.transport, []).append(meter)
    per_line = await asyncio.gather(
        *(_check_line(lines[name], config, meters) for name, meters in by_line.items())
    )
    rows_of: dict[str, list[CheckRow]] = {meter.id: [] for meter in config.meters}
    for row in (row for rows in per_line for row in rows):
        rows_of[row.meter].append(row)
    return CheckTable(
        collector_id=config.collector_id,
        checked_at=checked_at,
        zone=config.timezone,
        meters=tuple(meter.id for meter in config.meters),
        rows=tuple(row for meter in config.meters for row in rows_of[meter.id]),
    )


def _value_text(row: CheckRow) -> str:
    if row.value is None:
        return ""
    if row.is_bool:
        return "on" if row.value else "off"
    return f"{row.value} {row.unit}".rstrip()


def _sent_text(row: CheckRow) -> str:
    if row.sent_as is None:
        return "-"
    if row.multiplier == 1:
        return row.sent_as
    return f"{row.sent_as} = {row.sent_value} (× {row.multiplier})"


def format_check(table: CheckTable) -> str:
    """The table as plain text, one row a line, columns aligned; a failed meter's error on its own row."""
    local = table.checked_at.astimezone(table.zone)
    header = ("meter", "transport", "unit", "quantity", "value", "sent as")
    cells = [
        (
            row.meter,
            row.transport,
            str(row.unit_id),
            row.quantity or "-",
            _value_text(row) if row.error is None else f"ERROR {row.error}",
            _sent_text(row) if row.error is None else "",
        )
        for row in table.rows
    ]
    widths = [len(title) for title in header]
    for row, line in zip(table.rows, cells, strict=True):
        for i, cell in enumerate(line):
            if row.error is None or i < 4:  # an error spans the last columns: it does not widen them
                widths[i] = max(widths[i], len(cell))

    def render(line: Sequence[str]) -> str:
        parts = [cell.rjust(widths[i]) if i == 2 else cell.ljust(widths[i]) for i, cell in enumerate(line)]
        return "  ".join(parts).rstrip()

    failing = table.failing
    summary = f"{len(table.meters)} meters: {len(table.meters) - len(failing)} read"
    if failing:
        summary += f", {len(failing)} with errors ({', '.join(failing)})"
    lines = [
        f"check of {table.collector_id} at {local:%Y-%m-%d %H:%M:%S} {table.zone.key}",
        render(header),
        *(render(line) for line in cells),
        summary,
    ]
    return "\n".join(lines) + "\n"
