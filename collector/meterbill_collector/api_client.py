"""The hosted API, as the collector calls it: ``POST /v1/readings`` and
``POST /v1/collectors/{id}/heartbeats`` with an ingest key, over ``urllib.request`` (blocking: the pusher
calls it through ``asyncio.to_thread``).

Errors come in two kinds, because the pusher treats them differently:
- ``ApiUnavailable``: worth retrying as it is (no network, a timeout, 5xx, 429, 408, a 409 for a request with
  the same Idempotency-Key still being served); ``retry_after`` is the server's Retry-After in seconds.
- ``ApiRefused``: the request itself is refused (401/403: a revoked or wrong key; another 4xx): retrying soon
  will not help; the readings stay in the spool until an operator fixes the config.
A batch whose every reading is rejected (422 with the ingest report) is not an error: it is an answer.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any

from meterbill_collector import VERSION
from meterbill_collector.model import Reading

USER_AGENT = f"meterbill-collector/{VERSION}"
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_MAX_DETAIL = 500


class ApiUnavailable(Exception):
    """The API could not be reached or asked to come back later; the same request may be sent again."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class ApiRefused(Exception):
    """The API refused the request (a wrong or revoked key, a bad request): a config problem, not a blip."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class PushAnswer:
    """The API's ingest report: ``rejected`` maps a position in the batch to "field: reason"."""

    accepted: int
    duplicates: int
    rejected: dict[int, str] = field(default_factory=dict)
    replayed: bool = False  # the API answered an earlier request with this Idempotency-Key again


def readings_body(readings: Sequence[Reading]) -> bytes:
    """The JSON of ``POST /v1/readings``: register reads, timestamps in UTC with their offset, values as exact
    decimal strings. The same readings always give the same bytes (a resent batch is the same request)."""
    items = [
        {
            "meter_id": r.meter_id,
            "timestamp": r.timestamp.astimezone(UTC).isoformat(),
            "value": format(r.value, "f"),
            "type": "register",
        }
        for r in readings
    ]
    return json.dumps({"readings": items}, separators=(",", ":")).encode()


class ApiClient:
    def __init__(self, url: str, key: str, *, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def post_readings(self, readings: Sequence[Reading], idempotency_key: str) -> PushAnswer:
        """Sends one batch under its idempotency key; a 200 or a 422 whose every reading was rejected is the
        answer, anything else raises ``ApiUnavailable`` or ``ApiRefused``."""
        status, headers, body = self._post(
            "/v1/readings", readings_body(readings), {"Idempotency-Key": idempotency_key}
        )
        document = _json(body)
        if status == 200 or (status == 422 and "rejected" in document and "accepted" in document):
            try:
                return PushAnswer(
                    accepted=int(document["accepted"]),
                    duplicates=int(document["duplicates"]),
                    rejected={
                        int(item["index"]): f"{item['field']}: {item['reason']}"
                        for item in document["rejected"]
                    },
                    replayed=headers.get("idempotent-replayed") == "true",
                )
            except (KeyError, TypeError, ValueError) as error:  # a proxy's page, not the API's report
                raise ApiUnavailable(f"{status}: not an ingest report: {body[:200]!r}") from error
        raise _error(status, headers, document)

    def post_heartbeat(self, collector_id: str, body: Mapping[str, Any]) -> None:
        path = f"/v1/collectors/{urllib.parse.quote(collector_id, safe='')}/heartbeats"
        status, headers, answer = self._post(path, json.dumps(body, separators=(",", ":")).encode(), {})
        if status not in (200, 201, 202):
            raise _error(status, headers, _json(answer))

    def _post(self, path: str, body: bytes, extra: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.url + path,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/json",
                "Accept": "application/json, application/problem+json",
                "User-Agent": USER_AGENT,
                **extra,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _headers(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, _headers(error.headers), error.read()
        except urllib.error.URLError as error:
            raise ApiUnavailable(f"cannot reach {self.url}: {error.reason}") from error
        except TimeoutError as error:
            raise ApiUnavailable(f"no answer from {self.url} within {self.timeout:g} s") from error
        except (OSError, HTTPException) as error:
            raise ApiUnavailable(f"connection to {self.url} failed: {error!r}") from error


def _headers(headers: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in (headers or {}).items()}


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        return {"detail": body[:_MAX_DETAIL].decode("utf-8", "replace")}
    return document if isinstance(document, dict) else {"detail": str(document)[:_MAX_DETAIL]}


def _error(status: int, headers: Mapping[str, str], document: Mapping[str, Any]) -> Exception:
    detail = str(document.get("detail") or document.get("message") or document.get("title") or "")
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        detail = f"{first.get('field')}: {first.get('reason')}"
    detail = detail[:_MAX_DETAIL] or "no detail"
    if status >= 500 or status in _RETRYABLE_4XX:
        return ApiUnavailable(f"{status}: {detail}", retry_after(headers.get("retry-after")))
    return ApiRefused(status, detail)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds, or an HTTP date (seconds from ``now``); None if absent or
    unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
