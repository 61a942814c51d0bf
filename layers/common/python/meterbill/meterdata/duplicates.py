"""Rule 1 of validation: which of several readings of one instant counts, and whose readings they are.

Readings of one instant (a register read's timestamp, an interval's start, an exchange record's time)
collapse to the best by a total order (QUALITY_RANK, then the larger value, then the rest), so the winner is
the same whatever the arrival order; two different values of one rank are a "duplicate" event. Readings of
another meter or unit than the one validated are a ReadingsError.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import islice
from operator import attrgetter, lt
from typing import TypeVar

from meterbill.domain import Meter
from meterbill.meterdata.readings import QUALITY_RANK, IntervalReading, MeterExchange, RegisterRead
from meterbill.meterdata.validation import ReadingsError, _Event

_METER = attrgetter("meter")
_UNIT = attrgetter("unit")

_Reading = TypeVar("_Reading", RegisterRead, IntervalReading)


def _check_belongs(
    readings: Sequence[RegisterRead] | Sequence[IntervalReading], meter: Meter, what: str
) -> None:
    for attribute, getter, expected in (("meter", _METER, meter.id), ("unit", _UNIT, meter.unit)):
        found = set(map(getter, readings))
        if found != {expected} and found:
            other = sorted(str(x) for x in found - {expected})[0]
            raise ReadingsError(
                f"{what} {attribute} {other!r}", f"validating meter {meter.id!r} in {expected!r}"
            )


def _distinct_in_time_order(
    readings: Sequence[_Reading],
    us: list[int],
    best_first: Callable[[_Reading], tuple[object, ...]],
    describe: Callable[[_Reading, _Reading], str],
    events: list[_Event],
    increasing: bool | None = None,
) -> tuple[list[_Reading], list[int] | None]:
    """One reading per instant, in time order, and the positions kept (None: all, as they came).

    The winner of an instant is the largest by ``best_first``, a total order, so arrival order does not
    matter. Two of the same rank with different values are a "duplicate" event."""
    if increasing is None:
        increasing = all(map(lt, us, islice(us, 1, None)))
    if increasing:
        return list(readings), None
    order = sorted(range(len(us)), key=us.__getitem__)
    kept: list[int] = []
    position = 0
    while position < len(order):
        stop = position + 1
        moment = us[order[position]]
        while stop < len(order) and us[order[stop]] == moment:
            stop += 1
        group = order[position:stop]
        best = max(group, key=lambda i: best_first(readings[i]))
        winner = readings[best]
        rivals = [readings[i] for i in group if readings[i].quality == winner.quality]
        loser = max((r for r in rivals if r.value != winner.value), key=best_first, default=None)
        if loser is not None:
            events.append(_Event(moment, "duplicate", describe(winner, loser)))
        kept.append(best)
        position = stop
    return [readings[i] for i in kept], kept


def _register_rank(read: RegisterRead) -> tuple[object, ...]:
    return (QUALITY_RANK[read.quality], read.value, read.serial or "")


def _interval_rank(reading: IntervalReading) -> tuple[object, ...]:
    return (
        QUALITY_RANK[reading.quality],
        reading.value,
        reading.end,
        reading.method or "",
        reading.reason or "",
    )


def _exchange_rank(exchange: MeterExchange) -> tuple[object, ...]:
    return (exchange.old_final, exchange.new_initial, exchange.old_serial or "", exchange.new_serial or "")
