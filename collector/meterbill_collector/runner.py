"""``meterbill-collector run``: polling, pushing and heartbeats side by side until a signal stops them.

The three loops share one spool and nothing else: a poll stores its readings durably before it wakes the
pusher, and the pusher only forgets readings the API has acknowledged, so stopping at any moment (a signal, a
power cut, SIGKILL) loses nothing; the next start resends the batch in flight under its idempotency key."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from contextlib import AsyncExitStack

from meterbill_collector import VERSION
from meterbill_collector.api_client import ApiClient, ApiRefused, ApiUnavailable
from meterbill_collector.clock import sleep_or_stop
from meterbill_collector.config import CollectorConfig
from meterbill_collector.heartbeat import heartbeat_body
from meterbill_collector.modbus import ModbusLine, open_line
from meterbill_collector.model import Clock
from meterbill_collector.polling import Poller
from meterbill_collector.pushing import Pusher
from meterbill_collector.spool import Spool

logger = logging.getLogger("meterbill_collector.run")


async def send_heartbeats(
    config: CollectorConfig, spool: Spool, client: ApiClient, clock: Clock, stop: asyncio.Event
) -> None:
    """One heartbeat at start, then every ``heartbeat_minutes``. A heartbeat that fails is not retried: the
    next one says everything it would have said. (The pusher keeps the spool within its quota: the spool only
    grows while pushes fail.)"""
    while not stop.is_set():
        body = await asyncio.to_thread(heartbeat_body, VERSION, config.site_id, spool)
        try:
            await asyncio.to_thread(client.post_heartbeat, config.collector_id, body)
        except (ApiUnavailable, ApiRefused) as error:
            logger.warning("heartbeat not sent: %s", error, extra={"collector_id": config.collector_id})
        await sleep_or_stop(clock, config.heartbeat_minutes * 60, stop)


async def run_collector(config: CollectorConfig, clock: Clock, stop: asyncio.Event) -> None:
    """Runs until ``stop`` is set, then lets each loop finish its step and closes the lines and the spool."""
    async with AsyncExitStack() as resources:
        spool = Spool(config.spool.path, quota_bytes=config.spool.quota_bytes, zone=config.timezone)
        resources.callback(spool.close)
        lines: dict[str, ModbusLine] = {}
        for name, transport in config.transports.items():
            lines[name] = open_line(transport)
            resources.push_async_callback(lines[name].close)
        client = ApiClient(config.api.url, config.api.key, timeout=config.api.timeout_seconds)
        pusher = Pusher(spool, client, batch_size=config.api.batch_size, clock=clock, rng=random.Random())
        poller = Poller(config, lines, spool, spool, clock)
        logger.info(
            "collector %s %s started: %d meters on %d transports, %d readings waiting",
            config.collector_id,
            VERSION,
            len(config.meters),
            len(config.transports),
            spool.depth(),
            extra={"collector_id": config.collector_id, "spool": str(config.spool.path)},
        )
        await asyncio.gather(
            poller.run(stop, on_stored=pusher.wake),
            pusher.run(stop),
            send_heartbeats(config, spool, client, clock, stop),
        )
        logger.info("collector %s stopped", config.collector_id, extra={"spool_depth": spool.depth()})


def serve(config: CollectorConfig, clock: Clock) -> None:
    """``run_collector`` on its own event loop, stopped by SIGTERM (systemd) or SIGINT (Ctrl-C)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_collector(config, clock, stop)

    asyncio.run(main())
