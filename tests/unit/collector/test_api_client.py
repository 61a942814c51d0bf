"""What the API client sends (headers, exact body) and how it reads each kind of answer, against a scripted
HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from meterbill_collector import VERSION
from meterbill_collector.api_client import ApiClient, ApiRefused, ApiUnavailable, PushAnswer, retry_after
from meterbill_collector.model import Reading


@dataclass
class Scripted:
    """Each request gets the next (status, headers, body) and is recorded (path, headers, body)."""

    answers: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Scripted]]:
    script = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            script.requests.append((self.path, dict(self.headers.items()), body))
            status, headers, answer = script.answers.pop(0)
            data = json.dumps(answer).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", script
    httpd.shutdown()
    httpd.server_close()


def reading(meter: str, timestamp: str, value: str) -> Reading:
    moment = datetime.fromisoformat(timestamp)
    return Reading(meter, moment, Decimal(value), moment + timedelta(seconds=1))


REPORT = {"accepted": 1, "duplicates": 1, "rejected": [], "rejected_count": 0, "replaced": 0}


def test_readings_go_as_register_reads_with_the_key_the_idempotency_key_and_the_version(
    server: tuple[str, Scripted],
) -> None:
    url, script = server
    script.answers.append((200, {}, REPORT))

    answer = ApiClient(url, "mb_secret", timeout=5).post_readings(
        [
            reading("main", "2026-11-20T11:15:00+01:00", "12345.67"),
            reading("main", "2026-11-20T10:30:00+00:00", "1E+3"),
        ],
        "mbc-0123",
    )

    [(path, headers, body)] = script.requests
    assert path == "/v1/readings"
    assert {
        name: headers[name] for name in ("Authorization", "Idempotency-Key", "Content-Type", "User-Agent")
    } == {
        "Authorization": "Bearer mb_secret",
        "Idempotency-Key": "mbc-0123",
        "Content-Type": "application/json",
        "User-Agent": f"meterbill-collector/{VERSION}",
    }
    assert json.loads(body) == {
        "readings": [
            {
                "meter_id": "main",
                "timestamp": "2026-11-20T10:15:00+00:00",
                "value": "12345.67",
                "type": "register",
            },
            {
                "meter_id": "main",
                "timestamp": "2026-11-20T10:30:00+00:00",
                "value": "1000",
                "type": "register",
            },
        ]
    }
    assert answer == PushAnswer(1, 1, {})


def test_rejections_come_back_by_position_as_field_and_reason(server: tuple[str, Scripted]) -> None:
    url, script = server
    rejected = [{"index": 1, "meter_id": "x", "field": "meter_id", "reason": "no meter 'x'"}]
    script.answers.append((200, {"Idempotent-Replayed": "true"}, {**REPORT, "rejected": rejected}))
    script.answers.append(
        (
            422,
            {},
            {"status": 422, "detail": "no reading was stored", **REPORT, "accepted": 0, "rejected": rejected},
        )
    )
    client = ApiClient(url, "k", timeout=5)
    readings = [
        reading("main", "2026-11-20T10:00:00+00:00", "1"),
        reading("x", "2026-11-20T10:00:00+00:00", "1"),
    ]

    assert client.post_readings(readings, "a") == PushAnswer(
        1, 1, {1: "meter_id: no meter 'x'"}, replayed=True
    )
    assert client.post_readings(readings, "b") == PushAnswer(0, 1, {1: "meter_id: no meter 'x'"})


@pytest.mark.parametrize(
    ("status", "headers", "body", "reason", "wait"),
    [
        (503, {"Retry-After": "7"}, {"detail": "storage is busy"}, "503: storage is busy", 7.0),
        (429, {"Retry-After": "120"}, {"message": "Too Many Requests"}, "429: Too Many Requests", 120.0),
        (
            500,
            {},
            {"detail": "something went wrong on our side"},
            "500: something went wrong on our side",
            None,
        ),
        (
            409,
            {"Retry-After": "1"},
            {"errors": [{"field": "Idempotency-Key", "reason": "still being served"}]},
            "409: Idempotency-Key: still being served",
            1.0,
        ),
    ],
)
def test_answers_worth_retrying_raise_api_unavailable_with_retry_after(
    server: tuple[str, Scripted],
    status: int,
    headers: dict[str, str],
    body: Any,
    reason: str,
    wait: float | None,
) -> None:
    url, script = server
    script.answers.append((status, headers, body))

    with pytest.raises(ApiUnavailable) as raised:
        ApiClient(url, "k", timeout=5).post_readings([reading("m", "2026-11-20T10:00:00+00:00", "1")], "a")

    assert (raised.value.reason, raised.value.retry_after) == (reason, wait)


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (401, {"detail": "the API key is not valid"}, "the API key is not valid"),
        (403, {"detail": "this key may not send readings"}, "this key may not send readings"),
        (
            422,
            {
                "detail": "x",
                "errors": [{"field": "Idempotency-Key", "reason": "was used before for a different body"}],
            },
            "Idempotency-Key: was used before for a different body",
        ),
    ],
)
def test_refusals_raise_api_refused(
    server: tuple[str, Scripted], status: int, body: Any, detail: str
) -> None:
    url, script = server
    script.answers.append((status, {}, body))

    with pytest.raises(ApiRefused) as raised:
        ApiClient(url, "k", timeout=5).post_readings([reading("m", "2026-11-20T10:00:00+00:00", "1")], "a")

    assert (raised.value.status, raised.value.detail) == (status, detail)


def test_a_heartbeat_goes_to_the_collectors_route(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.answers.append((202, {}, {"collector_id": "office 1"}))

    ApiClient(url, "k", timeout=5).post_heartbeat("office 1", {"version": "1.0.0", "spool_depth": 0})

    [(path, headers, body)] = script.requests
    assert (path, headers["Authorization"], json.loads(body)) == (
        "/v1/collectors/office%201/heartbeats",
        "Bearer k",
        {"version": "1.0.0", "spool_depth": 0},
    )


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    assert retry_after("30", now) == 30.0
    assert retry_after("Fri, 20 Nov 2026 10:01:30 GMT", now) == 90.0
    assert retry_after("soon", now) is None
    assert retry_after("nan", now) is None
    assert retry_after(None, now) is None


def test_a_200_that_is_not_an_ingest_report_is_unavailable_not_a_crash(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.answers.append((200, {}, "<html>captive portal</html>"))

    with pytest.raises(ApiUnavailable, match="200: not an ingest report"):
        ApiClient(url, "k", timeout=5).post_readings([reading("m", "2026-11-20T10:00:00+00:00", "1")], "a")
