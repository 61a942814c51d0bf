"""Rules 2 to 5 of validation: register reads differenced into cumulative usage, device by device.

Decides, from a meter's register reads, exchange records and multiplier changes, the count at every read on an
interval boundary (``_Bounds``: chains of continuous usage in output units, each delta times the multiplier in
force at its earlier read) and why the registers give some intervals no value (``causes``): a wrap counted
modulo the register's range (rule 3, "rollover"); an exchange record ending one device's count and starting
the next, or a serial changing without one, which breaks the count (rule 4, "exchange"); a high or low
outlier ignored, or a restart lower (rule 5, "negative-step"); a CT ratio changing between two reads. The
worksheet turns the bounds into interval values (rule 2) and the gaps between them into estimates (rule 6).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import accumulate, compress, islice, repeat
from operator import attrgetter, lt, mul, ne, sub

from meterbill.domain import Meter
from meterbill.meterdata.duplicates import (
    _check_belongs,
    _distinct_in_time_order,
    _exchange_rank,
    _register_rank,
)
from meterbill.meterdata.grid import _EPOCH, _ONE_US, _Grid, _instants, _microseconds
from meterbill.meterdata.quantities import _Units
from meterbill.meterdata.readings import QUALITY_RANK, MeterExchange, RegisterRead
from meterbill.meterdata.validation import ReadingsError, ValidationConfig, _Event

_ACTUAL_RANK = QUALITY_RANK["A"]
_TIMESTAMP = attrgetter("timestamp")
_QUALITY = attrgetter("quality")
_SERIAL = attrgetter("serial")


@dataclass(slots=True)
class _Bounds:
    """Register reads on interval boundaries, as cumulative usage in output units.

    ``used`` is continuous within one chain (one device, or devices joined by exchange records); positions
    ``chain_starts[c]`` up to the next start form chain c. ``boundary`` increases strictly.
    """

    boundary: list[int] = field(default_factory=list)
    used: list[int] = field(default_factory=list)
    rank: list[int] = field(default_factory=list)  # parallel to boundary; empty when every read is actual
    chain_starts: list[int] = field(default_factory=list)
    causes: dict[int, str] = field(default_factory=dict)  # interval -> why the registers give it no value

    def chain_of(self, position: int) -> int:
        return bisect_right(self.chain_starts, position) - 1

    def chains(self) -> Iterator[tuple[int, int]]:
        ends = [*self.chain_starts[1:], len(self.boundary)][: len(self.chain_starts)]
        return (pair for pair in zip(self.chain_starts, ends, strict=True) if pair[0] < pair[1])


@dataclass(slots=True)
class _Track:
    """Register reads as parallel lists, in time order: instant, boundary (-1 off the grid), value in register
    units, and quality rank (None when all are actual)."""

    us: list[int]
    boundary: list[int]
    value: list[int]
    rank: list[int] | None

    def __len__(self) -> int:
        return len(self.us)

    def part(self, begin: int, end: int) -> _Track:
        rank = None if self.rank is None else self.rank[begin:end]
        return _Track(self.us[begin:end], self.boundary[begin:end], self.value[begin:end], rank)

    def only(self, positions: Sequence[int]) -> _Track:
        rank = None if self.rank is None else [self.rank[i] for i in positions]
        return _Track(
            [self.us[i] for i in positions],
            [self.boundary[i] for i in positions],
            [self.value[i] for i in positions],
            rank,
        )

    def add(self, at_end: bool, us: int, boundary: int, value: int) -> None:
        """An exchange record's read, actual: at the start (the new device's initial) or the end (final)."""
        position = len(self.us) if at_end else 0
        self.us.insert(position, us)
        self.boundary.insert(position, boundary)
        self.value.insert(position, value)
        if self.rank is not None:
            self.rank.insert(position, _ACTUAL_RANK)


class _RegisterTrace:
    """Registers differenced into cumulative usage: device by device, wraps counted, no decrease billed."""

    def __init__(
        self,
        meter: Meter,
        grid: _Grid,
        units: _Units,
        multipliers: Sequence[tuple[datetime, Decimal]],
        config: ValidationConfig,
        events: list[_Event],
    ) -> None:
        self.meter, self.grid, self.units, self.events = meter, grid, units, events
        changes = sorted(((when - _EPOCH) // _ONE_US, units.factor(m)) for when, m in multipliers)
        self.factor_from = [when for when, _ in changes]
        self.factors = [units.default_factor] + [factor for _, factor in changes]
        self.bounds = _Bounds()

    def trace(
        self, registers: Sequence[RegisterRead], values: list[Decimal], exchanges: Sequence[MeterExchange]
    ) -> _Bounds:
        """``values`` are the registers' values, in the same order."""
        if not registers and not exchanges:
            return self.bounds
        _check_belongs(registers, self.meter, "register read")
        grid = self.grid
        us, boundary, increasing = _instants(list(map(_TIMESTAMP, registers)), "register read", grid)
        reads, order = _distinct_in_time_order(
            registers, us, _register_rank, self._describe_duplicate, self.events, increasing
        )
        if order is not None:
            us, boundary, values = (
                [us[i] for i in order],
                [boundary[i] for i in order],
                [values[i] for i in order],
            )
        records = self._exchange_records(exchanges)
        record_us = [(e.timestamp - _EPOCH) // _ONE_US for e in records]
        qualities = list(map(_QUALITY, reads))
        all_actual = qualities.count("A") == len(qualities)
        # Keep the window; drop nulls and raw reads at an exchange instant (the record says what they were).
        low, high = bisect_left(us, grid.origin_us), bisect_right(us, grid.end_us)
        drop = set()
        for moment in record_us:
            position = bisect_left(us, moment, low, high)
            if position < high and us[position] == moment:
                drop.add(position)
        if not all_actual:
            drop.update(i for i in range(low, high) if qualities[i] == "N")
        scale = Decimal(1).scaleb(-self.units.register_exponent)
        track = _Track(us, boundary, list(map(int, map(scale.__mul__, values))), None)
        if not all_actual:
            track.rank = [QUALITY_RANK[q] for q in qualities]
        if drop:
            track = track.only([i for i in range(low, high) if i not in drop])
        elif low > 0 or high < len(us):
            track = track.part(low, high)
        serials = list(map(_SERIAL, reads))
        if drop or low > 0 or high < len(us):
            serials = [serials[i] for i in range(low, high) if i not in drop]
        self._trace_devices(track, serials, records, record_us)
        return self.bounds

    def _describe_duplicate(self, winner: RegisterRead, loser: RegisterRead) -> str:
        values = f"{winner.value} and {loser.value} ({winner.quality})"
        return f"register reads {values} of one instant; kept the larger"

    def _exchange_records(self, exchanges: Sequence[MeterExchange]) -> list[MeterExchange]:
        for record in exchanges:
            if record.meter != self.meter.id:
                raise ReadingsError(f"exchange meter {record.meter!r}", f"validating meter {self.meter.id!r}")
        by_instant: dict[int, list[MeterExchange]] = {}
        instants = _microseconds([e.timestamp for e in exchanges], "exchange")
        for record, moment in zip(exchanges, instants, strict=True):
            if self.grid.origin_us <= moment <= self.grid.end_us:
                by_instant.setdefault(moment, []).append(record)
        records = []
        for moment in sorted(by_instant):
            best = max(by_instant[moment], key=_exchange_rank)
            if any(_exchange_rank(r) != _exchange_rank(best) for r in by_instant[moment]):
                detail = (
                    f"conflicting exchange records of one instant; kept the one ending at {best.old_final}"
                )
                self.events.append(_Event(moment, "duplicate", detail))
            records.append(best)
        return records

    def _trace_devices(
        self, track: _Track, serials: list[str | None], records: list[MeterExchange], record_us: list[int]
    ) -> None:
        """Cut the reads into pieces at exchanges (the count carries over) and at unrecorded serial changes
        (the count breaks), then count each piece."""
        us = track.us
        cuts: list[tuple[int, int, MeterExchange | None]] = []  # (position, instant, record or None)
        for exchange, moment in zip(records, record_us, strict=True):
            cuts.append((bisect_left(us, moment), moment, exchange))
        recorded = {position for position, _, _ in cuts}
        cuts.extend((p, us[p], None) for p in self._serial_changes(serials) if p not in recorded)
        cuts.sort(key=lambda cut: (cut[1], cut[2] is None))
        if not cuts:  # one device throughout
            self._count_piece(track, None, fixed_first=False)
            return
        carry: int | None = None  # the count at the last exchange, for the new device to continue
        initial: MeterExchange | None = None
        begin = 0
        for position, moment, record in [*cuts, (len(us), 0, None)]:
            piece = track.part(begin, position)
            if initial is not None:
                at = (initial.timestamp - _EPOCH) // _ONE_US
                piece.add(False, at, self._boundary(at), self._register_units(initial.new_initial))
            if record is not None:
                piece.add(True, moment, self._boundary(moment), self._register_units(record.old_final))
            carry = self._count_piece(piece, carry, initial is not None)
            if record is not None:
                self.events.append(_Event(moment, "exchange", self._describe_exchange(record)))
            elif position < len(us):  # a serial changed without a record: the count breaks here
                carry = None
                self._serial_change(us[position - 1], us[position], serials, position)
            initial = record
            begin = position

    def _boundary(self, us: int) -> int:
        boundary, off_grid = divmod(us - self.grid.origin_us, self.grid.step_us)
        return -1 if off_grid else boundary

    def _serial_changes(self, serials: list[str | None]) -> list[int]:
        """Positions where a read names another device than the last read that named one."""
        if not serials:
            return []
        first, last, count = serials[0], serials[-1], len(serials)
        head = serials.count(first)
        if head == count:  # one device
            return []
        if None not in (first, last) and serials.index(last) == head and head + serials.count(last) == count:
            return [head]  # one device, then another: a swap
        distinct = set(serials)
        if len(distinct) <= 1:
            return []
        blocks = sorted((serials.index(s), serials.count(s), s) for s in distinct)
        if all(
            serials[first : first + count].count(s) == count for first, count, s in blocks
        ):  # one run each
            starts = [first for first, _, s in blocks if s is not None]
            return starts[1:] if None not in distinct else self._named_changes(serials, starts)
        return self._named_changes(serials, range(1, len(serials)))

    @staticmethod
    def _named_changes(serials: list[str | None], candidates: Iterable[int]) -> list[int]:
        changes = []
        current = None
        for position in candidates:
            if position > 0 and serials[position] == serials[position - 1]:
                continue
            serial = serials[position]
            if serial is None:
                continue
            if current is None:
                current = next((s for s in reversed(serials[:position]) if s is not None), serial)
            if serial != current:
                changes.append(position)
            current = serial
        return changes

    def _serial_change(self, before_us: int, after_us: int, serials: list[str | None], position: int) -> None:
        old = next((s for s in reversed(serials[:position]) if s is not None), None)
        new = serials[position]
        why = (
            f"serial changed from {old} to {new} between {self.grid.at(before_us).isoformat()} and "
            f"{self.grid.at(after_us).isoformat()} without an exchange record"
        )
        self.events.append(_Event(after_us, "exchange", f"{why}; usage in between estimated"))
        self._explain(before_us, after_us, why)

    def _describe_exchange(self, record: MeterExchange) -> str:
        return (
            f"meter exchanged: {record.old_serial or 'old device'} final read {record.old_final}, "
            f"{record.new_serial or 'new device'} initial read {record.new_initial}; "
            "usage counted on each device"
        )

    def _register_units(self, value: Decimal) -> int:
        return int(value.scaleb(-self.units.register_exponent))

    def _explain(self, from_us: int, to_us: int, why: str) -> None:
        for interval in self.grid.covering(from_us, to_us):
            self.bounds.causes[interval] = why

    def _count_piece(self, piece: _Track, carry: int | None, fixed_first: bool) -> int | None:
        """Count one device's reads into chains; return the count at its last read (None if it has none).

        ``fixed_first``: the first read is an exchange record's initial read, never to be ignored."""
        if not piece:
            return carry
        values = piece.value
        wraps: set[int] = set()
        restarts: list[int] = []
        deltas = list(map(sub, islice(values, 1, None), values))
        decreases = _negative_positions(deltas)
        if decreases:
            kept, wraps, restarts = self._decreases(piece, deltas, decreases, fixed_first)
            if len(kept) < len(piece):
                piece = piece.only(kept)
                wraps = {bisect_left(kept, w) for w in wraps}
                restarts = [bisect_left(kept, r) for r in restarts]
                deltas = list(map(sub, islice(piece.value, 1, None), piece.value))
            for w in wraps:
                assert self.units.modulus is not None
                deltas[w - 1] += self.units.modulus
        restarts = sorted({*restarts, *self._unread_ratio_changes(piece.us)})
        used_at_end: int | None = None
        for begin, end in zip([0, *restarts], [*restarts, len(piece)], strict=True):
            continues = begin == 0 and carry is not None
            used = self._accumulate(
                piece.us, begin, end, deltas, carry if continues and carry is not None else 0
            )
            used_at_end = used[-1]
            whole = (begin, end) == (0, len(piece))
            self._add_bounds(piece if whole else piece.part(begin, end), used, new_chain=not continues)
        return used_at_end

    def _unread_ratio_changes(self, us: list[int]) -> list[int]:
        """Reads after a CT ratio change that fell between two reads: how much of the difference was counted
        under each ratio is unknown, so the count restarts there and the usage in between is estimated."""
        restarts = []
        for change in self.factor_from[
            bisect_right(self.factor_from, us[0]) : bisect_left(self.factor_from, us[-1])
        ]:
            after = bisect_left(us, change)
            if us[after] != change:
                restarts.append(after)
                self._explain(
                    us[after - 1],
                    us[after],
                    f"CT ratio changed at {self.grid.at(change).isoformat()}, between register reads",
                )
        return restarts

    def _decreases(
        self, piece: _Track, deltas: list[int], decreases: list[int], fixed_first: bool
    ) -> tuple[list[int], set[int], list[int]]:
        """Rules 3 and 5: decide every decrease (``deltas[k] < 0`` for k in ``decreases``). Returns the
        positions kept, the wraps and the restarts (each a position of the later read)."""
        us, values, units = piece.us, piece.value, self.units
        count = len(values)
        kept = bytearray(b"\x01") * count
        wraps: set[int] = set()
        restarts: list[int] = []
        chain_start = 0

        def kept_before(position: int) -> int | None:
            before = position - 1
            while before >= chain_start and not kept[before]:
                before -= 1
            return before if before >= chain_start else None

        def shown(position: int) -> str:
            return f"{units.register(values[position])} at {self.grid.at(us[position]).isoformat()}"

        for pair in decreases:
            current = pair + 1
            previous = kept_before(current)
            if previous is None or values[current] >= values[previous]:
                continue
            if units.is_wrap(values[previous], values[current]):
                assert units.modulus is not None
                wraps.add(current)
                counted = units.register(units.modulus - values[previous] + values[current])
                why = f"register passed its maximum: {shown(previous)}, then {shown(current)}; "
                why += f"counted {counted}"
                self.events.append(_Event(us[current], "rollover", why))
                continue
            earlier = kept_before(previous)
            if (
                earlier is not None
                and previous not in wraps
                and not (previous == 0 and fixed_first)
                and values[current] >= values[earlier]
            ):  # the read before was too high
                kept[previous] = 0
                why = f"register read {shown(previous)} is above the reads around it; ignored"
                self.events.append(_Event(us[previous], "negative-step", why))
                self._explain(us[earlier], us[current], why)
                continue
            following = current + 1
            if following < count and values[following] >= values[previous]:  # this read is too low
                kept[current] = 0  # (never an exchange record's final read: that one is last)
                why = f"register read {shown(current)} fell below the reads around it; ignored"
                self.events.append(_Event(us[current], "negative-step", why))
                self._explain(us[previous], us[following], why)
                continue
            why = (
                f"register fell from {shown(previous)} to {shown(current)}, not a rollover; counting restarts"
            )
            self.events.append(_Event(us[current], "negative-step", f"{why}, usage in between estimated"))
            self._explain(us[previous], us[current], why)
            restarts.append(current)
            chain_start = current
        return list(compress(range(count), kept)), wraps, restarts

    def _accumulate(
        self, us: list[int], begin: int, end: int, deltas: list[int], start_count: int
    ) -> list[int]:
        """The count at reads [begin, end): each delta times the multiplier in force at its earlier read."""
        in_force = bisect_right(self.factor_from, us[begin])  # self.factors[in_force] applies at us[begin]
        scaled: list[int] = []
        position, last = begin, end - 1  # deltas[k] is from read k to read k + 1
        while position < last:
            factor = self.factors[in_force]
            if in_force < len(self.factor_from):  # the next change: deltas from reads at or after it
                stop = bisect_left(us, self.factor_from[in_force], position, last)
            else:
                stop = last
            if (position, stop) == (begin, last):  # one multiplier throughout: no copy
                part: Iterable[int] = islice(deltas, begin, last)
                return list(
                    accumulate(part if factor == 1 else map(mul, part, repeat(factor)), initial=start_count)
                )
            part = deltas[position:stop]
            scaled.extend(part if factor == 1 else map(mul, part, repeat(factor)))
            position = stop
            in_force += 1
        return list(accumulate(scaled, initial=start_count))

    def _add_bounds(self, piece: _Track, used: list[int], new_chain: bool) -> None:
        """The piece's reads on boundaries join the bounds (``piece`` and ``used`` are spent here)."""
        bounds = self.bounds
        boundary = piece.boundary
        ranks = piece.rank
        off_grid = boundary.count(-1)  # reads between boundaries count, but bound nothing
        if off_grid > 16:
            on_grid = list(map(ne, boundary, repeat(-1)))
            boundary, used = list(compress(boundary, on_grid)), list(compress(used, on_grid))
            ranks = None if ranks is None else list(compress(ranks, on_grid))
        elif (
            off_grid
        ):  # usually an exchange record's read, first or last: delete in place (the lists are ours)
            positions = [boundary.index(-1)]
            while len(positions) < off_grid:
                positions.append(boundary.index(-1, positions[-1] + 1))
            for position in reversed(positions):
                del boundary[position], used[position]
                if ranks is not None:
                    del ranks[position]
        if new_chain:
            bounds.chain_starts.append(len(bounds.boundary))
        elif boundary and bounds.boundary and boundary[0] == bounds.boundary[-1]:
            boundary, used = boundary[1:], used[1:]  # an exchange on a boundary: one count, two reads
            ranks = None if ranks is None else ranks[1:]
        bounds.boundary.extend(boundary)
        bounds.used.extend(used)
        if ranks is not None:  # ranks come with every piece or with none
            bounds.rank.extend(ranks)


def _negative_positions(deltas: list[int], chunk: int = 4096) -> list[int]:
    """Where ``deltas`` are negative: rare, so only the chunks whose minimum is negative are looked into."""
    found: list[int] = []
    for low in range(0, len(deltas), chunk):
        part = deltas[low : low + chunk]
        if min(part) < 0:
            found.extend(compress(range(low, low + len(part)), map(lt, part, repeat(0))))
    return found
