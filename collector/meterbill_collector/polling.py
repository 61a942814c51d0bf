"""Reading the meters on their boundaries: lines in parallel, the meters of one line one after the other,
and a meter that does not answer pushed to the back and tried less often, so it never holds up the others.

At a boundary every due meter is read (its sent quantities only: the requests ``planning`` merges for them),
each register decoded, scaled and multiplied by the meter's multiplier, and stamped at the boundary with the
time it really answered (``read_at``). A Modbus error or an undecodable answer (NaN, wrong length) fails that
meter alone: its health keeps the error and its last good read, and it backs off — skipped at its next 1, then
2, 4, 8 … boundaries (at most an hour of them), and when it is tried again it comes after the line's healthy
meters. One good read clears it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from meterbill_collector.clock import sleep_until
from meterbill_collector.config import CollectorConfig, MeterConfig, Transport
from meterbill_collector.decoding import DecodeError, decode
from meterbill_collector.modbus import ModbusError
from meterbill_collector.model import Clock, HealthBook, MeterHealth, Reading, ReadingSink, require_aware
from meterbill_collector.planning import plan_reads, split
from meterbill_collector.registers import ReadRequest
from meterbill_collector.schedule import due, next_boundary

log = logging.getLogger("meterbill_collector.poll")

BACKOFF_CAP_MINUTES = 60  # a failing meter is skipped for at most an hour of its boundaries


class Line(Protocol):
    """A Modbus line (``modbus.ModbusLine``): one TCP connection or RS485 bus, one request at a time."""

    async def read(
        self, unit_id: int, request: ReadRequest, *, timeout: float, retries: int
    ) -> list[int]: ...


def timeout_of(meter: MeterConfig, transport: Transport) -> float:
    return meter.timeout_seconds if meter.timeout_seconds is not None else transport.timeout_seconds


def retries_of(meter: MeterConfig, transport: Transport) -> int:
    return meter.retries if meter.retries is not None else transport.retries


def requests_for(meter: MeterConfig, quantities: Collection[str] | None = None) -> tuple[ReadRequest, ...]:
    """The requests that read ``quantities`` of the meter's profile (all of them when None)."""
    profile = meter.profile
    if quantities is not None:
        profile = replace(profile, registers=tuple(s for s in profile.registers if s.name in quantities))
    return plan_reads(profile)


async def read_words(
    line: Line, meter: MeterConfig, transport: Transport, requests: Sequence[ReadRequest]
) -> dict[str, list[int]]:
    """Each quantity's registers, request after request. Raises ``ModbusError`` at the first request that
    fails, ``DecodeError`` for an answer of the wrong length."""
    timeout, retries = timeout_of(meter, transport), retries_of(meter, transport)
    words: dict[str, list[int]] = {}
    for request in requests:
        answer = await line.read(meter.unit_id, request, timeout=timeout, retries=retries)
        words.update(split(request, answer))
    return words


def error_text(error: Exception) -> str:
    """What a heartbeat and ``check`` say of a failed read: a Modbus or decode error's own message, else the
    exception's type and message (a fault of the collector, logged with its traceback)."""
    if isinstance(error, ModbusError | DecodeError):
        return str(error)
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one boundary's poll did. Meter ids here are the collector's device ids (``MeterConfig.id``);
    the readings carry the platform's meter ids."""

    boundary: datetime
    read: tuple[str, ...]  # meters that answered, each line's in the order they were read
    failed: dict[str, str]  # meter -> error
    skipped: tuple[str, ...]  # due but in back-off
    late: tuple[str, ...]  # answered after their next boundary
    readings: tuple[Reading, ...]
    stored: int  # readings the sink did not have before


@dataclass(slots=True)
class _Unit:
    """A meter's back-off: consecutive failed reads, the boundary it is next tried at."""

    failures: int = 0
    retry_at: datetime | None = None


@dataclass(slots=True)
class _Outcome:
    meter: MeterConfig
    readings: list[Reading] = field(default_factory=list)
    health: list[MeterHealth] = field(default_factory=list)
    error: str | None = None
    late: bool = False


class Poller:
    """Reads the configured meters at their boundaries into ``sink`` and records their health in ``health``.

    ``lines`` maps each transport's name to its open line. Time comes from ``clock`` only."""

    def __init__(
        self,
        config: CollectorConfig,
        lines: Mapping[str, Line],
        sink: ReadingSink,
        health: HealthBook,
        clock: Clock,
    ) -> None:
        for meter in config.meters:
            if meter.transport not in config.transports:
                raise ValueError(f"meter '{meter.id}': transport: unknown transport '{meter.transport}'")
            if meter.transport not in lines:
                raise ValueError(f"meter '{meter.id}': transport: no line open for '{meter.transport}'")
        self.config = config
        self.zone = config.timezone
        self._lines = lines
        self._sink = sink
        self._health = health
        self._clock = clock
        self._plans = {meter.id: requests_for(meter, meter.sent.keys()) for meter in config.meters}
        self._units = {meter.id: _Unit() for meter in config.meters}
        # the last good read of each platform meter, kept across restarts by the health book
        self._last_read: dict[str, datetime | None] = {h.meter_id: h.last_read_at for h in health.health()}

    def in_backoff(self, meter_id: str) -> datetime | None:
        """The boundary at which a failing meter is next tried (None: it is healthy)."""
        return self._units[meter_id].retry_at

    async def read_meter(self, meter: MeterConfig) -> dict[str, Decimal]:
        """Every quantity of the meter's profile, decoded and scaled (not multiplied). Raises ``ModbusError``
        or ``DecodeError``; does not touch back-off or health."""
        transport = self.config.transports[meter.transport]
        words = await read_words(self._lines[meter.transport], meter, transport, requests_for(meter))
        return {spec.name: decode(spec, words[spec.name]) for spec in meter.profile.registers}

    async def poll(self, boundary: datetime) -> PollReport:
        """Reads the meters due at ``boundary`` (aware) and stores what they answered."""
        boundary = require_aware(boundary, "boundary").astimezone(UTC)
        skipped: list[str] = []
        by_line: dict[str, list[MeterConfig]] = {}
        for meter in due(boundary, self.config.meters, self.zone):
            retry_at = self._units[meter.id].retry_at
            if retry_at is not None and boundary < retry_at:
                skipped.append(meter.id)
                continue
            by_line.setdefault(meter.transport, []).append(meter)
        per_line = await asyncio.gather(
            *(self._poll_line(name, meters, boundary) for name, meters in by_line.items())
        )
        outcomes = [outcome for line in per_line for outcome in line]
        readings = tuple(reading for outcome in outcomes for reading in outcome.readings)
        # The spool commits with fsync (synchronous=FULL): off the event loop, so the other lines, the pusher
        # and the heartbeat go on meanwhile. Awaited one after the other, before the next poll can start: the
        # readings are durable before the health says so and before ``on_stored`` wakes the pusher, and the
        # spool's one connection (its lock) serialises these writes with the pusher's, as it does theirs.
        stored = await asyncio.to_thread(self._sink.add, readings) if readings else 0
        health = [h for outcome in outcomes for h in outcome.health]
        await asyncio.to_thread(self._health.save_health, health)
        return PollReport(
            boundary=boundary,
            read=tuple(o.meter.id for o in outcomes if o.error is None),
            failed={o.meter.id: o.error for o in outcomes if o.error is not None},
            skipped=tuple(skipped),
            late=tuple(o.meter.id for o in outcomes if o.late),
            readings=readings,
            stored=stored,
        )

    async def _poll_line(
        self, name: str, meters: Sequence[MeterConfig], boundary: datetime
    ) -> list[_Outcome]:
        """The line's meters one after the other: the healthy first, then those coming out of back-off."""
        healthy = [m for m in meters if self._units[m.id].failures == 0]
        failing = [m for m in meters if self._units[m.id].failures > 0]
        line, transport = self._lines[name], self.config.transports[name]
        return [await self._read(meter, line, transport, boundary) for meter in (*healthy, *failing)]

    async def _read(
        self, meter: MeterConfig, line: Line, transport: Transport, boundary: datetime
    ) -> _Outcome:
        where = {"meter": meter.id, "unit": meter.unit_id, "transport": meter.transport}
        try:
            words = await read_words(line, meter, transport, self._plans[meter.id])
            values = {name: decode(meter.profile.register(name), words[name]) for name in meter.sent}
        except Exception as error:  # a meter's fault (or the collector's) must not stop the others
            return self._failed(meter, error, boundary, where)
        read_at = self._clock.now().astimezone(UTC)
        unit = self._units[meter.id]
        if unit.failures:
            log.info(
                "meter answers again after %d failed reads",
                unit.failures,
                extra={**where, "error": None, "failures": unit.failures},
            )
        self._units[meter.id] = _Unit()
        outcome = _Outcome(meter)
        for name, platform_id in meter.sent.items():
            outcome.readings.append(Reading(platform_id, boundary, values[name] * meter.multiplier, read_at))
            self._last_read[platform_id] = read_at
            outcome.health.append(MeterHealth(platform_id, read_at, None))
        next_one = next_boundary(boundary, meter.interval_minutes, self.zone)
        if read_at > next_one:
            outcome.late = True
            late = (read_at - next_one).total_seconds()
            log.warning(
                "late read: answered %.3f s after the next boundary %s; stamped at %s",
                late,
                next_one.isoformat(),
                boundary.isoformat(),
                extra={**where, "late_seconds": late},
            )
        else:
            log.debug("read", extra=where)
        return outcome

    def _failed(
        self,
        meter: MeterConfig,
        error: Exception,
        boundary: datetime,
        where: dict[str, object],
    ) -> _Outcome:
        message = error_text(error)
        unit = self._units[meter.id]
        unit.failures += 1
        skip = min(2 ** min(unit.failures - 1, 16), max(1, BACKOFF_CAP_MINUTES // meter.interval_minutes))
        retry_at = boundary
        for _ in range(skip + 1):
            retry_at = next_boundary(retry_at, meter.interval_minutes, self.zone)
        unit.retry_at = retry_at
        fields = {**where, "error": message, "failures": unit.failures, "retry_at": retry_at.isoformat()}
        if isinstance(error, ModbusError | DecodeError):
            log.warning("read failed: %s; next try at %s", message, retry_at.isoformat(), extra=fields)
        else:
            log.error("read failed: %s", message, exc_info=error, extra=fields)
        # a failed attempt is not a read: the health keeps the last good one
        health = [MeterHealth(pid, self._last_read.get(pid), message) for pid in meter.sent.values()]
        return _Outcome(meter, health=health, error=message)

    def next_poll(self, after: datetime) -> datetime | None:
        """The first boundary of any meter strictly after ``after`` (None without meters)."""
        intervals = {meter.interval_minutes for meter in self.config.meters}
        return min((next_boundary(after, minutes, self.zone) for minutes in intervals), default=None)

    async def run(self, stop: asyncio.Event, on_stored: Callable[[], None]) -> None:
        """Polls boundary after boundary until ``stop`` is set; ``on_stored()`` after a poll that stored
        readings (it wakes the pusher). A boundary passed while a poll ran is not read late: the loop goes
        on with the next one, and says so in the log."""
        last: datetime | None = None
        while not stop.is_set():
            now = self._clock.now()
            boundary = self.next_poll(now if last is None else max(now, last))
            if boundary is None:
                await stop.wait()
                return
            if last is not None and (expected := self.next_poll(last)) is not None and expected < boundary:
                log.warning(
                    "boundaries missed from %s: the previous poll ended at %s",
                    expected.isoformat(),
                    now.isoformat(),
                    extra={"missed_from": expected.isoformat()},
                )
            if not await sleep_until(self._clock, boundary, stop):
                return
            report = await self.poll(boundary)
            last = report.boundary
            if report.stored:
                on_stored()
