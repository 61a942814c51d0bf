"""The pusher drains the spool batch by batch in time order, backs off with jitter while the API is away,
resends a batch unchanged under its key, and keeps the readings when the API refuses the key."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill_collector.api_client import ApiRefused, ApiUnavailable, PushAnswer
from meterbill_collector.model import Reading
from meterbill_collector.pushing import Backoff, Pusher, PushResult
from meterbill_collector.spool import Spool

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def reading(meter: str, minutes: int, value: str) -> Reading:
    moment = T0 + timedelta(minutes=minutes)
    return Reading(meter, moment, Decimal(value), moment + timedelta(seconds=2))


@dataclass
class Call:
    key: str
    readings: tuple[Reading, ...]


Outcome = Exception | dict[int, str] | None  # raise it / answer with these rejections / answer all accepted


@dataclass
class FakeApi:
    """Answers each call with the next scripted outcome (then: all accepted), recording what it was sent."""

    outcomes: list[Outcome] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def post_readings(self, readings: Sequence[Reading], idempotency_key: str) -> PushAnswer:
        self.calls.append(Call(idempotency_key, tuple(readings)))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        rejected = outcome or {}
        return PushAnswer(len(readings) - len(rejected), 0, rejected)


@dataclass
class FakeClock:
    """Time that moves only by the sleeps asked of it; ``until`` stops the run at the n-th sleep."""

    moment: datetime = NOW
    sleeps: list[float] = field(default_factory=list)
    until: Callable[[list[float]], bool] = lambda sleeps: len(sleeps) > 100
    stop: asyncio.Event | None = None

    def now(self) -> datetime:
        return self.moment

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.moment += timedelta(seconds=seconds)
        if self.stop is not None and self.until(self.sleeps):
            self.stop.set()
        await asyncio.sleep(0)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=512 * 1024 * 1024) as opened:
        yield opened


def pusher(spool: Spool, api: FakeApi, clock: FakeClock, *, seed: int = 42, batch_size: int = 3) -> Pusher:
    return Pusher(spool, api, batch_size=batch_size, clock=clock, rng=random.Random(seed))


def run_until(pushing: Pusher, clock: FakeClock, until: Callable[[list[float]], bool]) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        clock.stop, clock.until = stop, until
        await asyncio.wait_for(pushing.run(stop), timeout=10)

    asyncio.run(main())


def test_pushing_drains_the_spool_batch_by_batch_in_time_order(spool: Spool) -> None:
    spool.add(
        [reading("b", 15 * i, str(i)) for i in range(3)] + [reading("a", 15 * i, str(i)) for i in range(4)]
    )
    api, clock = FakeApi(), FakeClock()

    run_until(pusher(spool, api, clock), clock, lambda sleeps: len(sleeps) == 2)  # the start, then idle

    assert [[(r.meter_id, r.timestamp.strftime("%H:%M")) for r in call.readings] for call in api.calls] == [
        [("a", "10:00"), ("b", "10:00"), ("a", "10:15")],
        [("b", "10:15"), ("a", "10:30"), ("b", "10:30")],
        [("a", "10:45")],
    ]
    assert len({call.key for call in api.calls}) == 3
    assert spool.depth() == 0
    start_jitter = random.Random(42).uniform(0, 5)
    assert clock.sleeps == [start_jitter, 60.0]
    assert spool.last_push_at() == NOW + timedelta(seconds=start_jitter)


def test_while_the_api_is_away_the_same_batch_is_retried_after_jittered_back_off_delays(spool: Spool) -> None:
    spool.add([reading("m1", 15 * i, str(i)) for i in range(4)])
    away = ApiUnavailable("cannot reach http://127.0.0.1:9: Connection refused")
    api, clock = FakeApi([away, away, away, away]), FakeClock()

    run_until(pusher(spool, api, clock, seed=7), clock, lambda sleeps: len(sleeps) == 6)

    draws = random.Random(7)  # the start's jitter, then one back-off delay per failure
    assert clock.sleeps == [
        draws.uniform(0, 5),
        draws.uniform(0, 5),
        draws.uniform(0, 10),
        draws.uniform(0, 20),
        draws.uniform(0, 40),
        60.0,  # idle: the first batch went through at the fifth attempt, the second at once
    ]
    first = api.calls[0]
    assert [call.key for call in api.calls[:5]] == [first.key] * 5
    assert [call.readings for call in api.calls[:5]] == [first.readings] * 5
    assert [r.value for r in api.calls[5].readings] == [Decimal(3)]
    assert spool.depth() == 0


def test_a_retry_after_longer_than_the_back_off_is_honoured(spool: Spool) -> None:
    spool.add([reading("m1", 0, "1")])
    api, clock = FakeApi([ApiUnavailable("429: too many requests", retry_after=120.0)]), FakeClock()
    pushing = pusher(spool, api, clock, seed=7)

    result = asyncio.run(pushing.push_once(NOW))

    assert result == PushResult(
        api.calls[0].key, 1, error="429: too many requests", retry_in=120.0
    )  # the back-off's own draw, below 5 s, is shorter
    assert spool.depth() == 1


def test_after_a_restart_the_batch_is_sent_again_with_the_same_key_and_readings(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    api = FakeApi([ApiUnavailable("no answer from http://127.0.0.1:9 within 30 s")])
    with Spool(path, quota_bytes=10**9) as spool:
        spool.add([reading("m1", 15 * i, str(i)) for i in range(5)])
        failed = asyncio.run(pusher(spool, api, FakeClock()).push_once(NOW))
        spool.add([reading("m1", -15, "0")])  # late, and older: it waits for the next batch

    with Spool(path, quota_bytes=10**9) as restarted:
        resent = asyncio.run(pusher(restarted, api, FakeClock()).push_once(NOW + timedelta(hours=1)))
        remaining = restarted.depth()

    assert failed.error == "no answer from http://127.0.0.1:9 within 30 s"
    assert (resent.batch_key, resent.sent, resent.accepted, resent.error) == (failed.batch_key, 3, 3, None)
    assert api.calls[1] == api.calls[0]
    assert [r.value for r in api.calls[0].readings] == [Decimal(0), Decimal(1), Decimal(2)]
    assert remaining == 3


def test_a_refused_key_keeps_the_readings_waits_the_cap_and_logs_an_error_each_time(
    spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool.add([reading("m1", 0, "1"), reading("m1", 15, "2")])
    refused = ApiRefused(401, "the API key is not valid")
    api, clock = FakeApi([refused, refused]), FakeClock()
    pushing = pusher(spool, api, clock)

    with caplog.at_level(logging.INFO, logger="meterbill_collector.push"):
        results = [asyncio.run(pushing.push_once(NOW)) for _ in range(2)]

    assert [r.retry_in for r in results] == [900.0, 900.0]
    assert [r.error for r in results] == ["401: the API key is not valid"] * 2
    assert spool.depth() == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [(r.name, r.status, r.reason, r.readings) for r in errors] == [  # type: ignore[attr-defined]
        ("meterbill_collector.push", 401, "the API key is not valid", 2)
    ] * 2


def test_a_refused_push_waits_the_cap_even_when_woken(spool: Spool) -> None:
    spool.add([reading("m1", 0, "1")])
    api = FakeApi([ApiRefused(403, "this key may not send readings")])

    class HeldClock(FakeClock):
        async def sleep(self, seconds: float) -> None:  # the start's jitter passes, the back-off holds
            self.sleeps.append(seconds)
            if len(self.sleeps) > 1:
                await asyncio.Event().wait()

    clock = HeldClock()
    pushing = pusher(spool, api, clock)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(pushing.run(stop))
        while len(clock.sleeps) < 2:
            await asyncio.sleep(0.01)
        for _ in range(5):
            pushing.wake()  # new readings: they must not cut the wait short
            spool.add([reading("m1", 15 * (len(api.calls) + 1), "2")])
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(main())

    assert len(api.calls) == 1
    assert clock.sleeps[1] == 900.0


def test_readings_the_api_rejects_leave_the_queue_for_the_rejected_table(spool: Spool) -> None:
    spool.add([reading("m1", 0, "1"), reading("nope", 0, "2"), reading("m1", 15, "3")])
    api = FakeApi([{1: "meter_id: no meter 'nope'"}])

    result = asyncio.run(pusher(spool, api, FakeClock()).push_once(NOW))

    assert (result.sent, result.accepted, result.rejected) == (3, 2, 1)
    assert spool.depth() == 0
    [rejected] = spool.rejected()
    assert (rejected.reading.meter_id, rejected.reason) == ("nope", "meter_id: no meter 'nope'")


def test_a_wake_after_new_readings_pushes_them_after_a_jittered_moment_of_the_collectors_own(
    spool: Spool,
) -> None:
    api = FakeApi()

    class IdleClock(FakeClock):
        async def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            if seconds == 60.0:  # idle: wait for a wake (or stop)
                await asyncio.Event().wait()

    clock = IdleClock()
    pushing = pusher(spool, api, clock)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(pushing.run(stop))
        while len(clock.sleeps) < 2:
            await asyncio.sleep(0.01)
        spool.add([reading("m1", 0, "1")])
        pushing.wake()
        for _ in range(500):  # the wake's jitter, pushed, then idle again (at most 5 s)
            if len(clock.sleeps) >= 4:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(main())

    assert [[r.value for r in call.readings] for call in api.calls] == [[Decimal(1)]]
    draws = random.Random(42)  # the start's jitter, then the wake's: up to 30 s, so sites do not push in step
    assert clock.sleeps == [draws.uniform(0, 5), 60.0, draws.uniform(0, 30), 60.0]


def test_a_failed_push_keeps_the_spool_within_its_quota(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=1) as spool:
        spool.add([reading("m1", 15 * i, str(i)) for i in range(12)])
        api = FakeApi([ApiUnavailable("503: storage is busy")])
        clock = FakeClock()
        pushing = Pusher(
            spool, api, batch_size=2, clock=clock, rng=random.Random(1), backoff=Backoff(rng=random.Random(1))
        )

        with caplog.at_level(logging.WARNING, logger="meterbill_collector.push"):
            run_until(pushing, clock, lambda sleeps: len(sleeps) == 2)  # the start, the back-off

        assert spool.warnings() == [
            "spool over its 1 bytes quota: thinned 6 reads of 1 meter to hourly before 2026-11-20T13:00Z"
        ]
        assert spool.warnings()[0] in caplog.messages


def test_an_unexpected_error_is_logged_and_retried_after_the_back_off(
    spool: Spool, caplog: pytest.LogCaptureFixture
) -> None:
    spool.add([reading("m1", 0, "1")])
    api, clock = FakeApi([RuntimeError("disk I/O error")]), FakeClock()

    with caplog.at_level(logging.ERROR, logger="meterbill_collector.push"):
        run_until(pusher(spool, api, clock, seed=3), clock, lambda sleeps: len(sleeps) == 3)

    draws = random.Random(3)
    assert clock.sleeps == [draws.uniform(0, 5), draws.uniform(0, 5), 60.0]
    assert [call.key for call in api.calls] == [api.calls[0].key] * 2
    assert spool.depth() == 0
    assert [r.message for r in caplog.records] == ["push failed unexpectedly, the readings stay in the spool"]
