"""Properties of validation whatever the register history: batches, arrival order and totals do not matter."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.domain import Meter
from meterbill.meterdata.readings import IntervalReading, MeterExchange, Quality, RegisterRead
from meterbill.meterdata.vee import ValidatedIntervals, ValidationConfig, validate_readings

START = datetime(2026, 5, 4, tzinfo=UTC)
WRAP = 100_000  # tenths of a kWh: the register shows 0.0 to 9,999.9


@dataclass(frozen=True)
class History:
    """What a PDU really used, and the reads a collector delivered of it."""

    meter: Meter
    boundaries: int  # reads could exist at boundaries 0..boundaries
    reads: list[RegisterRead]
    exchanges: list[MeterExchange]
    multipliers: list[tuple[datetime, Decimal]]
    used: int  # tenths of a kWh, multipliers applied

    def time(self, boundary: int) -> datetime:
        return START + boundary * timedelta(minutes=self.meter.interval_minutes)

    def validate(self, first: int, stop: int, **raw: Any) -> ValidatedIntervals:
        everything: dict[str, Any] = {
            "registers": self.reads,
            "exchanges": self.exchanges,
            "multipliers": self.multipliers,
        }
        return validate_readings(self.meter, self.time(first), self.time(stop), **(everything | raw))


@st.composite
def histories(draw: st.DrawFn) -> History:
    """Reads on interval boundaries with some lost (never the first or last: every gap is bounded), a register
    that may wrap, maybe a PDU swap inside an interval and a CT ratio change read on a boundary; no other
    decrease."""
    minutes = draw(st.sampled_from([5, 15, 60]))
    count = draw(st.integers(2, 96))
    usage = draw(st.lists(st.integers(0, 40), min_size=count, max_size=count))  # tenths per interval
    lost = draw(st.sets(st.integers(1, count - 1), max_size=count // 2))
    ratio = draw(st.sampled_from([1, 40]))
    change = draw(st.none() | st.tuples(st.integers(1, count - 1), st.sampled_from([1, 2, 80])))
    if change is not None:
        lost.discard(change[0])  # the technician reads the register when changing the CTs
    swap = draw(st.none() | st.tuples(st.integers(0, count - 1), st.integers(0, minutes * 60 - 1)))
    meter = Meter(
        id="pdu-7",
        account_id="acme",
        site_id="fra1",
        utility="electricity",
        unit="kWh",
        kind="sub",
        parent_id="main",
        interval_minutes=minutes,
        register_max=Decimal("9999.9"),
        multiplier=Decimal(ratio),
    )

    def time(boundary: int, seconds: int = 0) -> datetime:
        return START + timedelta(minutes=boundary * minutes, seconds=seconds)

    def multiplier(boundary: int) -> int:
        return change[1] if change is not None and boundary >= change[0] else ratio

    register, serial = draw(st.integers(0, WRAP - 1)), "PDU-A"
    reads, exchanges = [], []
    for boundary in range(count + 1):
        if boundary not in lost:
            reads.append(RegisterRead("pdu-7", time(boundary), Decimal(register).scaleb(-1), "kWh", serial))
        if boundary == count:
            break
        if swap is not None and swap[0] == boundary:  # the swap, some seconds into this interval
            old_part = usage[boundary] * swap[1] // (minutes * 60)
            initial = draw(st.integers(0, 5_000))
            exchanges.append(
                MeterExchange(
                    "pdu-7",
                    time(boundary, swap[1]),
                    "PDU-A",
                    Decimal((register + old_part) % WRAP).scaleb(-1),
                    "PDU-B",
                    Decimal(initial).scaleb(-1),
                )
            )
            register, serial = initial + usage[boundary] - old_part, "PDU-B"
        else:
            register = (register + usage[boundary]) % WRAP
    used = sum(u * multiplier(b) for b, u in enumerate(usage))
    multipliers = [] if change is None else [(time(change[0]), Decimal(change[1]))]
    return History(meter, count, reads, exchanges, multipliers, used)


@settings(max_examples=150, deadline=None)
@given(history=histories(), data=st.data())
def test_validating_resent_batches_gives_the_same_intervals_as_validating_the_whole(
    history: History, data: st.DataObject
) -> None:
    """A collector sends the reads in batches, each starting with the last read of the one before."""
    splits = [r for r in history.reads[1:-1] if all(r.timestamp != e.timestamp for e in history.exchanges)]
    if not splits:
        return
    split_read = data.draw(st.sampled_from(splits))
    split = history.reads.index(split_read)
    boundary = (split_read.timestamp - START) // timedelta(minutes=history.meter.interval_minutes)
    first_batch, second_batch = history.reads[: split + 1], history.reads[split:]
    swaps_before = [e for e in history.exchanges if e.timestamp < split_read.timestamp]
    swaps_after = [e for e in history.exchanges if e.timestamp > split_read.timestamp]

    whole = history.validate(0, history.boundaries)
    first = history.validate(0, boundary, registers=first_batch, exchanges=swaps_before)
    second = history.validate(boundary, history.boundaries, registers=second_batch, exchanges=swaps_after)

    assert whole.values == [*first.values, *second.values]
    assert whole.qualities == first.qualities + second.qualities
    assert whole.substitutions == {
        **first.substitutions,
        **{boundary + i: s for i, s in second.substitutions.items()},
    }


@settings(max_examples=150, deadline=None)
@given(history=histories())
def test_bounded_gaps_swaps_and_wraps_lose_no_usage(history: History) -> None:
    result = history.validate(0, history.boundaries)
    assert sum(result.values) == history.used
    assert result.exponent == -1
    assert set(result.qualities) <= {"A", "E"}
    assert set(result.substitutions) == {i for i, q in enumerate(result.qualities) if q != "A"}


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[History, list[RegisterRead | IntervalReading], ValidationConfig]:
    """A history as it might arrive: resends, estimates later replaced, conflicting actuals, glitches, and
    interval values beside the registers."""
    history = draw(histories())
    step = timedelta(minutes=history.meter.interval_minutes)
    extra: list[RegisterRead | IntervalReading] = []
    for read in history.reads:
        kind = draw(st.sampled_from(["none", "none", "resend", "estimate", "conflict", "glitch"]))
        if kind == "resend":
            extra.append(read)
        elif kind == "estimate":
            extra.append(replace(read, value=read.value + Decimal("0.3"), quality="E"))
        elif kind == "conflict":
            extra.append(replace(read, value=read.value + Decimal("0.1")))
        elif kind == "glitch":
            extra.append(replace(read, timestamp=read.timestamp + step / 2, value=Decimal("0.0")))
    for index in draw(st.sets(st.integers(0, history.boundaries - 1), max_size=8)):
        value = Decimal(draw(st.integers(0, 60))).scaleb(-1)
        quality: Quality = draw(st.sampled_from(["A", "A", "E", "N"]))
        reading = IntervalReading(
            "pdu-7", history.time(index), history.time(index + 1), value, "kWh", quality
        )
        extra += [reading] * draw(st.integers(1, 2))
    config = ValidationConfig(
        max_power=draw(st.none() | st.just(Decimal("400"))),
        spike_factor=draw(st.none() | st.just(Decimal("4"))),
        flat_line_after=timedelta(hours=1),
    )
    return history, [*history.reads, *extra], config


@settings(max_examples=150, deadline=None)
@given(delivery=deliveries(), order=st.randoms(use_true_random=False))
def test_arrival_order_changes_nothing(
    delivery: tuple[History, list[RegisterRead | IntervalReading], ValidationConfig], order: random.Random
) -> None:
    history, readings, config = delivery
    shuffled = list(readings)
    order.shuffle(shuffled)

    def validate(arrived: list[RegisterRead | IntervalReading]) -> ValidatedIntervals:
        return history.validate(
            0,
            history.boundaries,
            registers=[r for r in arrived if isinstance(r, RegisterRead)],
            intervals=[r for r in arrived if isinstance(r, IntervalReading)],
            exchanges=list(reversed(history.exchanges)),
            config=config,
        )

    as_sent, as_arrived = validate(readings), validate(shuffled)
    assert as_arrived == as_sent
    assert min(as_arrived.values) >= 0
    assert set(as_arrived.substitutions) == {i for i, q in enumerate(as_arrived.qualities) if q != "A"}


@settings(max_examples=300, deadline=None)
@given(levels=st.lists(st.integers(0, 2), min_size=1, max_size=300), length=st.integers(2, 40))
def test_flat_lines_are_exactly_the_runs_of_one_value_that_last_long_enough(
    levels: list[int], length: int
) -> None:
    meter = Meter(
        id="pdu-7", account_id="acme", site_id="fra1", utility="electricity", unit="kWh", kind="main"
    )
    step = timedelta(minutes=15)
    readings = [
        IntervalReading("pdu-7", START + i * step, START + (i + 1) * step, Decimal(level), "kWh")
        for i, level in enumerate(levels)
    ]
    config = ValidationConfig(flat_line_after=length * step)
    result = validate_readings(meter, START, START + len(levels) * step, intervals=readings, config=config)
    starts = [i for i in range(len(levels)) if i == 0 or levels[i] != levels[i - 1]]
    runs = zip(starts, [*starts[1:], len(levels)], strict=True)
    expected = [START + first * step for first, stop in runs if stop - first >= length]
    assert [event.at for event in result.events if event.kind == "flat-line"] == expected
