"""Pushing the spool to the API: batch after batch while readings wait, exponential back-off with full jitter
when the API is away, and a jittered first push, so the collectors of many sites never push in step.

A batch is made once (``Spool.open_batch``) and sent under its key until the API answers it; only then is it
acknowledged. A restart, a timeout whose answer was lost, a SIGKILL between the answer and the
acknowledgement: each sends the same batch with the same key again, and the API stores it once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from meterbill_collector.api_client import ApiRefused, ApiUnavailable, PushAnswer
from meterbill_collector.clock import sleep_or_stop
from meterbill_collector.model import Clock, Reading
from meterbill_collector.spool import Spool

logger = logging.getLogger("meterbill_collector.push")

START_JITTER_SECONDS = 5.0  # the first push after a start waits up to this long
IDLE_SECONDS = 60.0  # with nothing to send, look again this often even without a wake()
# Every site polls on the same wall-clock boundaries: after a wake, a collector waits a moment of its own (up
# to this long) before pushing, so that thousands of collectors do not all call the API in the same second.
WAKE_JITTER_SECONDS = 30.0
MAX_LOGGED_REJECTIONS = 20


class ReadingsApi(Protocol):
    """What the pusher needs of ``ApiClient`` (tests pass a fake)."""

    def post_readings(self, readings: Sequence[Reading], idempotency_key: str) -> PushAnswer: ...


class Backoff:
    """Exponential back-off with full jitter: the n-th delay in a row is uniform in [0, min(cap, base·2ⁿ)],
    drawn from ``rng``; ``reset()`` after a success starts again from ``base``."""

    def __init__(self, base: float = 5.0, cap: float = 15 * 60.0, *, rng: random.Random) -> None:
        if not 0 < base <= cap:
            raise ValueError(f"need 0 < base <= cap, got base {base} and cap {cap}")
        self.base = base
        self.cap = cap
        self.rng = rng
        self.failures = 0

    def ceiling(self) -> float:
        """The most the next delay can be."""
        return min(self.cap, self.base * 2.0 ** min(self.failures, 64))

    def next(self) -> float:
        delay = self.rng.uniform(0, self.ceiling())
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True, slots=True)
class PushResult:
    """One attempt: the batch sent (None: nothing waited), what the API said, or the error and the wait."""

    batch_key: str | None = None
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    error: str | None = None
    retry_in: float | None = None  # seconds until the next attempt, after an error

    @property
    def failed(self) -> bool:
        return self.error is not None


class Pusher:
    def __init__(
        self,
        spool: Spool,
        client: ReadingsApi,
        *,
        batch_size: int,
        clock: Clock,
        rng: random.Random,
        backoff: Backoff | None = None,
        start_jitter: float = START_JITTER_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        wake_jitter: float = WAKE_JITTER_SECONDS,
    ) -> None:
        self.spool = spool
        self.client = client
        self.batch_size = batch_size
        self.clock = clock
        self.rng = rng
        self.backoff = backoff or Backoff(rng=rng)
        self.start_jitter = start_jitter
        self.idle_seconds = idle_seconds
        self.wake_jitter = wake_jitter
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New readings are in the spool (the poller calls it after ``add``): push them now, unless the pusher
        is backing off after a failure (then they go with the next attempt)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drains the spool until ``stop`` is set: batch after batch while readings wait; after a failure
        waits the back-off (a wake does not shorten it); with nothing to send, waits for a wake."""
        await self._pause(self.rng.uniform(0, self.start_jitter), stop, wakeable=False)
        while not stop.is_set():
            self._wake.clear()  # a wake from here on is seen by the idle pause below
            try:
                result = await self.push_once(self.clock.now())
            except Exception as error:  # the spool's disk, a bug: log it, keep the readings, try again later
                delay = self.backoff.next()
                logger.exception(
                    "push failed unexpectedly, the readings stay in the spool",
                    extra={"reason": repr(error), "retry_in_s": round(delay, 3)},
                )
                result = PushResult(error=repr(error), retry_in=delay)
            if result.retry_in is not None:
                await self._enforce_quota()
                await self._pause(result.retry_in, stop, wakeable=False)
            elif result.batch_key is None and await self._pause(self.idle_seconds, stop, wakeable=True):
                await self._pause(self.rng.uniform(0, self.wake_jitter), stop, wakeable=False)

    async def push_once(self, now: datetime) -> PushResult:
        """Sends the batch in flight, or a new one of the oldest readings; acknowledges it in the spool when
        the API has answered. Never raises for the API's errors: they come back in the result."""
        # The spool's calls wait for the disk (fsync): off the event loop, like the HTTP request.
        batch = await asyncio.to_thread(self.spool.open_batch, self.batch_size, now)
        if batch is None:
            return PushResult()
        fields = {"batch_key": batch.key, "readings": len(batch.readings)}
        try:
            answer = await asyncio.to_thread(self.client.post_readings, batch.readings, batch.key)
        except ApiUnavailable as error:
            delay = self.backoff.next()
            if error.retry_after is not None:
                delay = max(delay, min(error.retry_after, self.backoff.cap))
            logger.warning(
                "push failed, the readings stay in the spool: %s",
                error.reason,
                extra={**fields, "reason": error.reason, "retry_in_s": round(delay, 3)},
            )
            return PushResult(batch.key, len(batch.readings), error=error.reason, retry_in=delay)
        except ApiRefused as error:
            delay = self.backoff.cap
            logger.error(
                "the API refused the push (check the API key and URL); the readings stay in the spool: %s",
                error,
                extra={**fields, "status": error.status, "reason": error.detail, "retry_in_s": delay},
            )
            return PushResult(batch.key, len(batch.readings), error=str(error), retry_in=delay)
        await asyncio.to_thread(self.spool.acknowledge, batch.key, answer.rejected, self.clock.now())
        self.backoff.reset()
        logger.info(
            "pushed %d readings",
            len(batch.readings),
            extra={
                **fields,
                "accepted": answer.accepted,
                "duplicates": answer.duplicates,
                "rejected": len(answer.rejected),
                "replayed": answer.replayed,
            },
        )
        for index, reason in sorted(answer.rejected.items())[:MAX_LOGGED_REJECTIONS]:
            reading = batch.readings[index]
            logger.warning(
                "the API rejected a reading; it is kept in the spool's rejected table: %s",
                reason,
                extra={
                    "batch_key": batch.key,
                    "meter_id": reading.meter_id,
                    "timestamp": reading.timestamp.isoformat(),
                    "reason": reason,
                },
            )
        return PushResult(
            batch.key, len(batch.readings), answer.accepted, answer.duplicates, len(answer.rejected)
        )

    async def _enforce_quota(self) -> None:
        """While the API is away the spool grows: keep it within its quota (thinning can take a while on a
        big spool, so off the event loop)."""
        try:
            warning = await asyncio.to_thread(self.spool.enforce_quota, self.clock.now())
        except Exception:
            logger.exception("could not check the spool's quota")
            return
        if warning is not None:
            logger.warning("%s", warning, extra={"depth": self.spool.depth()})

    async def _pause(self, seconds: float, stop: asyncio.Event, *, wakeable: bool) -> bool:
        """Waits ``seconds``, or less if stopped (or woken, when ``wakeable``); True when a wake ended it."""
        waited = await sleep_or_stop(self.clock, seconds, stop, wake=self._wake if wakeable else None)
        return waited == "woken"
