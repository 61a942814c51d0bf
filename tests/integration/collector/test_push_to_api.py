"""The collector's spool, pusher and API client against the real API (``local.serve.LocalPlatform``: the API
behind the local API Gateway on moto's DynamoDB): readings arrive exactly once, a replayed batch is not
stored twice, a rejected reading is kept with its field and reason, the heartbeat is stored."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from local.serve import AccountKeys, LocalPlatform
from meterbill.adapters.dynamodb import build_alert_store
from meterbill_collector import VERSION
from meterbill_collector.api_client import ApiClient, ApiRefused, ApiUnavailable, PushAnswer
from meterbill_collector.heartbeat import heartbeat_body
from meterbill_collector.model import MeterHealth, Reading
from meterbill_collector.pushing import Pusher
from meterbill_collector.spool import Spool

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalPlatform]:
    with LocalPlatform() as running:
        yield running


@pytest.fixture
def account(platform: LocalPlatform) -> AccountKeys:
    """An account of its own with site ``site-1`` and the meters ``main`` and ``pv`` (kWh)."""
    keys = platform.create_account("Collector site")
    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {keys.admin_key}"
    created = [
        admin.post(
            f"{platform.url}/v1/sites", json={"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}
        ),
        *(
            admin.post(
                f"{platform.url}/v1/meters",
                json={
                    "id": meter,
                    "site_id": "site-1",
                    "utility": "electricity",
                    "unit": "kWh",
                    "kind": "main",
                },
            )
            for meter in ("main", "pv")
        ),
    ]
    assert [answer.status_code for answer in created] == [201, 201, 201]
    return keys


@pytest.fixture
def client(platform: LocalPlatform, account: AccountKeys) -> ApiClient:
    return ApiClient(platform.url, account.ingest_key, timeout=30)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=512 * 1024 * 1024) as opened:
        yield opened


def reading(meter: str, minutes: int, value: str) -> Reading:
    moment = T0 + timedelta(minutes=minutes)
    return Reading(meter, moment, Decimal(value), moment + timedelta(seconds=2))


def stored(platform: LocalPlatform, account: AccountKeys, meter: str) -> list[tuple[str, str, str]]:
    found = platform.stores.readings.between(
        account.account_id, meter, T0 - timedelta(days=1), T0 + timedelta(days=1)
    )
    return [(r.timestamp.astimezone(UTC).isoformat(), str(r.value), r.type) for r in found]


def drain(spool: Spool, client: ApiClient, *, batch_size: int) -> list[tuple[int, int, int]]:
    pusher = Pusher(spool, client, batch_size=batch_size, clock=Clock(), rng=random.Random(1))

    async def pushes() -> list[tuple[int, int, int]]:
        answers = []
        while (result := await pusher.push_once(datetime.now(UTC))).batch_key is not None:
            assert result.error is None
            answers.append((result.sent, result.accepted, result.duplicates))
        return answers

    return asyncio.run(pushes())


def test_spooled_readings_arrive_exactly_once(
    platform: LocalPlatform, account: AccountKeys, client: ApiClient, spool: Spool
) -> None:
    spool.add([reading("main", 15 * i, f"{1000 + i}.25") for i in range(6)])
    spool.add([reading("pv", 15 * i, f"{20 + i}.5") for i in range(4)])

    answers = drain(spool, client, batch_size=4)

    assert answers == [(4, 4, 0), (4, 4, 0), (2, 2, 0)]
    assert spool.depth() == 0
    assert stored(platform, account, "main") == [
        (f"2026-11-20T{10 + i // 4:02d}:{15 * (i % 4):02d}:00+00:00", f"{1000 + i}.25", "register")
        for i in range(6)
    ]
    assert stored(platform, account, "pv") == [
        (f"2026-11-20T10:{15 * i:02d}:00+00:00", f"{20 + i}.5", "register") for i in range(4)
    ]


def test_a_batch_sent_again_under_its_key_is_stored_once(
    platform: LocalPlatform, account: AccountKeys, client: ApiClient, spool: Spool
) -> None:
    spool.add([reading("main", 15 * i, f"{i}.5") for i in range(3)])
    batch = spool.open_batch(10, T0)
    assert batch is not None
    first = client.post_readings(batch.readings, batch.key)  # the answer is lost: no acknowledgement

    answers = drain(spool, client, batch_size=10)  # after a restart: the same batch, the same key

    assert first == PushAnswer(3, 0, {}, replayed=False)
    assert answers == [(3, 3, 0)]  # the first answer, replayed
    assert client.post_readings(batch.readings, batch.key) == PushAnswer(3, 0, {}, replayed=True)
    assert client.post_readings(batch.readings, "mbc-another-key") == PushAnswer(0, 3, {}, replayed=False)
    assert stored(platform, account, "main") == [
        ("2026-11-20T10:00:00+00:00", "0.5", "register"),
        ("2026-11-20T10:15:00+00:00", "1.5", "register"),
        ("2026-11-20T10:30:00+00:00", "2.5", "register"),
    ]
    assert spool.depth() == 0


def test_a_reading_of_an_unknown_meter_is_rejected_with_its_field_and_reason_and_kept(
    platform: LocalPlatform, account: AccountKeys, client: ApiClient, spool: Spool
) -> None:
    spool.add([reading("main", 0, "7.5"), reading("gone", 0, "1"), reading("main", 15, "8.5")])

    answers = drain(spool, client, batch_size=10)

    assert answers == [(3, 2, 0)]
    assert [(r.reading.meter_id, r.reason) for r in spool.rejected()] == [
        ("gone", "meter_id: no meter 'gone'")
    ]
    assert (spool.depth(), spool.rejected_count()) == (0, 1)
    assert [value for _, value, _ in stored(platform, account, "main")] == ["7.5", "8.5"]


def test_a_batch_whose_every_reading_is_rejected_is_an_answer_not_an_error(client: ApiClient) -> None:
    answer = client.post_readings([reading("gone", 0, "1"), reading("also-gone", 0, "2")], "mbc-all-rejected")

    assert answer == PushAnswer(
        0, 0, {0: "meter_id: no meter 'gone'", 1: "meter_id: no meter 'also-gone'"}, replayed=False
    )


def test_a_wrong_key_is_refused_and_a_closed_port_is_unavailable(platform: LocalPlatform) -> None:
    with pytest.raises(ApiRefused) as refused:
        ApiClient(platform.url, "mb_not-a-key", timeout=10).post_readings([reading("main", 0, "1")], "mbc-1")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ApiUnavailable, match=f"cannot reach http://127.0.0.1:{port}"):
        ApiClient(f"http://127.0.0.1:{port}", "mb_x", timeout=5).post_readings(
            [reading("main", 0, "1")], "mbc-2"
        )

    assert refused.value.status == 401


def test_the_heartbeat_is_accepted_and_stored(
    platform: LocalPlatform, account: AccountKeys, client: ApiClient, spool: Spool
) -> None:
    spool.add([reading("main", 0, "1"), reading("main", 15, "2")])
    spool.save_health(
        [MeterHealth("main", T0, None), MeterHealth("pv", None, "timeout after 0.5 s (2 attempts)")]
    )
    body = heartbeat_body(VERSION, "site-1", spool)

    client.post_heartbeat("office-1", body)

    [beat] = build_alert_store(platform.settings.storage).heartbeats(account.account_id)
    assert (beat.heartbeat.collector_id, beat.version, beat.spool_depth, beat.last_push_at) == (
        "office-1",
        VERSION,
        2,
        None,
    )
    assert beat.heartbeat.site_id == "site-1"
    assert [(m.meter_id, m.last_read_at, m.error) for m in beat.heartbeat.meters] == [
        ("pv", None, "timeout after 0.5 s (2 attempts)"),
        ("main", T0, None),
    ]
