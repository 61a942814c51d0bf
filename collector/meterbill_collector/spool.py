"""The durable spool: every reading stays on local disk until the API has acknowledged it.

One SQLite file in WAL mode with ``synchronous=FULL``: a committed transaction survives a power cut, and each
public method is one transaction, so a process killed at any instant leaves either all of a call's change or
none of it. Tables:

- ``readings``: the unsent queue, unique per (meter, timestamp). Values are exact decimal text, timestamps
  UTC ISO text of fixed width (``2026-11-20T10:00:00.000000Z``), so text order is time order. A reading
  assigned to a batch carries its ``batch_key`` and its ``position`` in that batch.
- ``batches``: the batch in flight, its idempotency key written in the same transaction that assigns its
  readings. A restart finds it and resends it unchanged (same key, same readings, same order), so the API
  stores it once whether or not the first attempt arrived.
- ``rejected``: readings the API refused (field and reason); never resent, shown by ``status``.
- ``health`` and ``state``: each meter's last good read and last error, the last push, the quota warning; the
  ``status`` command reads them from another process.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from meterbill_collector.model import MeterHealth, Reading, require_aware

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_BUSY_TIMEOUT_MS = 10_000
_THIN_WINDOW = timedelta(days=1)  # thinning works through the oldest reads a day at a time
_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    meter_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    value TEXT NOT NULL,
    read_at TEXT NOT NULL,
    batch_key TEXT REFERENCES batches (key),
    position INTEGER,
    UNIQUE (meter_id, timestamp)
);
CREATE INDEX IF NOT EXISTS readings_queue ON readings (batch_key, timestamp, meter_id);
CREATE TABLE IF NOT EXISTS batches (
    key TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    meter_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    value TEXT NOT NULL,
    read_at TEXT NOT NULL,
    batch_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS health (
    meter_id TEXT PRIMARY KEY,
    last_read_at TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Batch:
    """Readings sent in one request under one idempotency key (``key``)."""

    key: str
    readings: tuple[Reading, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RejectedReading:
    reading: Reading
    reason: str  # "field: reason", as the API said
    batch_key: str
    rejected_at: datetime


@dataclass(frozen=True, slots=True)
class Thinning:
    """What ``enforce_quota`` has thinned since its warning was raised."""

    reads: int
    meters: tuple[str, ...]
    before: datetime  # every thinned read lies before this full hour
    quota_bytes: int

    def warning(self) -> str:
        quota_bytes = self.quota_bytes
        meters = len(self.meters)
        if self.reads == 0:
            return (
                f"spool over its {_megabytes(quota_bytes)} quota: every unsent read is hourly already or in "
                "flight, nothing is deleted; the disk fills until the API takes readings again"
            )
        return (
            f"spool over its {_megabytes(quota_bytes)} quota: thinned {self.reads:,} reads of {meters} "
            f"meter{'s' if meters != 1 else ''} to hourly before {self.before.strftime('%Y-%m-%dT%H:%MZ')}"
        )


def _megabytes(size: int) -> str:
    """512 MB, 1.5 MB; a quota under a megabyte (tests) in bytes."""
    mb = size / (1024 * 1024)
    if mb < 1:
        return f"{size:,} bytes"
    return f"{mb:,.0f} MB" if mb == int(mb) else f"{mb:,.1f} MB"


def to_text(moment: datetime) -> str:
    """An aware datetime as the spool stores it: UTC, fixed width, so text order is time order."""
    return require_aware(moment, "timestamp").astimezone(UTC).strftime(_TIME_FORMAT)


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)  # "...Z": UTC (Python 3.11 reads the Z; much faster than strptime)


def value_text(value: Decimal) -> str:
    """The exact decimal, without an exponent (``1E+3`` → ``1000``)."""
    if not value.is_finite():
        raise ValueError(f"value must be a finite decimal, got {value}")
    return format(value, "f")


class Spool:
    """The collector's queue of readings and its record of health (see the module)."""

    def __init__(self, path: Path, *, quota_bytes: int, zone: tzinfo = UTC) -> None:
        """``zone``: the site's clock, whose full hours thinning keeps (India's are at :30 UTC)."""
        if quota_bytes <= 0:
            raise ValueError(f"quota_bytes must be positive, got {quota_bytes}")
        self.path = path
        self.quota_bytes = quota_bytes
        self.zone = zone
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are this class's own BEGIN IMMEDIATE ... COMMIT.
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_MS / 1000
        )
        self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"the spool {path} cannot use WAL (journal_mode {mode})")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.create_function("local_hour", 1, self._local_hour, deterministic=True)
        with self._transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    # --- lifecycle ----------

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- the queue ----------

    def add(self, readings: Iterable[Reading]) -> int:
        """Stores, in one transaction, the readings not queued before (same meter and timestamp); returns how
        many were new."""
        rows = [(r.meter_id, to_text(r.timestamp), value_text(r.value), to_text(r.read_at)) for r in readings]
        if not rows:
            return 0
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO readings (meter_id, timestamp, value, read_at) VALUES (?, ?, ?, ?)",
                rows,
            )
            return db.total_changes - before

    def open_batch(self, limit: int, now: datetime) -> Batch | None:
        """The batch in flight if there is one (unchanged: its key, readings and order as first made), else a
        new one of at most ``limit`` of the oldest unsent readings in time order; None when nothing waits."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        pending = self.pending_batch()
        if pending is not None:
            return pending
        created = to_text(now)
        key = f"mbc-{uuid.uuid4().hex}"
        with self._transaction() as db:
            # Another process may have made one since pending_batch(): then that one is sent.
            if db.execute("SELECT 1 FROM batches LIMIT 1").fetchone() is None:
                ids = [
                    row[0]
                    for row in db.execute(
                        "SELECT id FROM readings WHERE batch_key IS NULL "
                        "ORDER BY timestamp, meter_id LIMIT ?",
                        (limit,),
                    )
                ]
                if not ids:
                    return None
                db.execute("INSERT INTO batches (key, created_at) VALUES (?, ?)", (key, created))
                db.executemany(
                    "UPDATE readings SET batch_key = ?, position = ? WHERE id = ?",
                    [(key, position, id_) for position, id_ in enumerate(ids)],
                )
        return self.pending_batch()

    def pending_batch(self) -> Batch | None:
        """The batch in flight (made, not yet acknowledged), without making one."""
        with self._lock:
            row = self._db.execute(
                "SELECT key, created_at FROM batches ORDER BY created_at, key LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            key, created_at = row
            readings = tuple(
                _reading(*r)
                for r in self._db.execute(
                    "SELECT meter_id, timestamp, value, read_at FROM readings "
                    "WHERE batch_key = ? ORDER BY position",
                    (key,),
                )
            )
        return Batch(key, readings, from_text(created_at))

    def acknowledge(self, batch_key: str, rejected: Mapping[int, str], now: datetime) -> None:
        """The API has the batch: in one transaction its readings leave the queue, those it rejected (position
        → "field: reason") go to the ``rejected`` table, and ``now`` becomes the last push."""
        stamp = to_text(now)
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM batches WHERE key = ?", (batch_key,)).fetchone() is None:
                raise KeyError(f"no batch {batch_key!r} is in flight")
            size = db.execute("SELECT count(*) FROM readings WHERE batch_key = ?", (batch_key,)).fetchone()[0]
            outside = sorted(index for index in rejected if not 0 <= index < size)
            if outside:
                raise ValueError(f"rejected positions {outside} are not in the batch of {size} readings")
            db.executemany(
                "INSERT INTO rejected (meter_id, timestamp, value, read_at, batch_key, reason, rejected_at) "
                "SELECT meter_id, timestamp, value, read_at, batch_key, ?, ? FROM readings "
                "WHERE batch_key = ? AND position = ?",
                [(reason, stamp, batch_key, index) for index, reason in sorted(rejected.items())],
            )
            db.execute("DELETE FROM readings WHERE batch_key = ?", (batch_key,))
            db.execute("DELETE FROM batches WHERE key = ?", (batch_key,))
            _set_state(db, "last_push_at", stamp)

    def depth(self) -> int:
        """Readings waiting for the API (the batch in flight included)."""
        with self._lock:
            count: int = self._db.execute("SELECT count(*) FROM readings").fetchone()[0]
        return count

    def oldest_unsent(self) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT min(timestamp) FROM readings").fetchone()
        return None if row[0] is None else from_text(row[0])

    def last_push_at(self) -> datetime | None:
        text = self._state("last_push_at")
        return None if text is None else from_text(text)

    def rejected_count(self) -> int:
        with self._lock:
            count: int = self._db.execute("SELECT count(*) FROM rejected").fetchone()[0]
        return count

    def rejected(self, limit: int = 100) -> list[RejectedReading]:
        """The latest rejected readings, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT meter_id, timestamp, value, read_at, reason, batch_key, rejected_at FROM rejected "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            RejectedReading(_reading(m, t, v, r), reason, key, from_text(at))
            for m, t, v, r, reason, key, at in rows
        ]

    # --- health (HealthBook) ----------

    def save_health(self, health: Iterable[MeterHealth]) -> None:
        """Records each meter's health; a missing ``last_read_at`` keeps the one recorded before (a failed
        attempt does not forget the last good read)."""
        rows = [
            (h.meter_id, None if h.last_read_at is None else to_text(h.last_read_at), h.error) for h in health
        ]
        if not rows:
            return
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO health (meter_id, last_read_at, error) VALUES (?, ?, ?) "
                "ON CONFLICT (meter_id) DO UPDATE SET "
                "last_read_at = coalesce(excluded.last_read_at, health.last_read_at), error = excluded.error",
                rows,
            )

    def health(self) -> list[MeterHealth]:
        with self._lock:
            rows = self._db.execute(
                "SELECT meter_id, last_read_at, error FROM health ORDER BY meter_id"
            ).fetchall()
        return [MeterHealth(m, None if at is None else from_text(at), error) for m, at, error in rows]

    # --- the quota ----------

    def size_bytes(self) -> int:
        """The pages the spool's data takes, after a WAL checkpoint: ``(page_count - freelist_count) ×
        page_size``. Free pages are left out: deleting rows frees pages that new rows reuse, but the file does
        not shrink (that would take a VACUUM), so the file's own size would never fall back under a quota."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * page_size)

    def warnings(self) -> list[str]:
        """The collector's warnings for its heartbeat and ``status`` (the quota's, while it stands)."""
        text = self._state("quota_thinning")
        return [] if text is None else [_thinning_of(text).warning()]

    def enforce_quota(self, now: datetime) -> str | None:
        """Over the quota: thins the oldest unsent reads of each meter to one per hour (the read at or first
        after each full hour, and always the meter's newest), a day at a time from the oldest, until the spool
        is under its quota or nothing more can be thinned; never a read of the batch in flight. The reads are
        cumulative registers, so the kept ones still give every hour's total. Returns the warning (also kept
        for ``warnings()``), or None when under the quota. The warning stands until the spool is under its
        quota and every thinned hour has been delivered (no unsent read before its ``before`` is left)."""
        require_aware(now, "now")
        stored = self._state("quota_thinning")
        thinning = None if stored is None else _thinning_of(stored)
        if self.size_bytes() <= self.quota_bytes:
            if thinning is not None and (thinning.reads == 0 or self._delivered_before(thinning.before)):
                with self._transaction() as db:
                    db.execute("DELETE FROM state WHERE name = 'quota_thinning'")
                return None
            return None if thinning is None else thinning.warning()
        so_far = thinning if thinning is not None and thinning.reads > 0 else None
        window_start = self._oldest_queued()
        while window_start is not None:
            window_end = window_start + _THIN_WINDOW
            thinned = self._thin(window_start, window_end, so_far)
            if thinned is not None:
                so_far = thinned
                if self.size_bytes() <= self.quota_bytes:
                    break
            window_start = self._next_queued(window_end)
        if so_far is None:  # over the quota, nothing could be thinned (all hourly already, or in flight)
            so_far = Thinning(0, (), _full_hour(now), self.quota_bytes)
            with self._transaction() as db:
                _set_state(db, "quota_thinning", _thinning_text(so_far))
        return so_far.warning()

    def _thin(self, start: datetime, end: datetime, so_far: Thinning | None) -> Thinning | None:
        """Deletes the unsent reads in [start, end) (start on a full hour) that are neither the first of their
        meter's hour nor their meter's newest read, and records what was thinned (``so_far`` and these) in
        the same transaction: no read is ever gone without its warning. None when none was deleted."""
        # The hour a read belongs to: UTC's text prefix, or on a site's clock the local hour and its offset
        # (the hour repeated when the clocks go back is two hours).
        hour = "substr(timestamp, 1, 13)" if self.zone is UTC else "local_hour(timestamp)"
        doomed = f"""
            SELECT r.id FROM (
                SELECT id, meter_id, timestamp,
                       row_number() OVER (
                           PARTITION BY meter_id, {hour} ORDER BY timestamp
                       ) AS nth
                FROM readings WHERE batch_key IS NULL AND timestamp >= :start AND timestamp < :end
            ) AS r
            WHERE r.nth > 1
              AND r.timestamp < (SELECT max(n.timestamp) FROM readings AS n WHERE n.meter_id = r.meter_id)
        """
        bounds = {"start": to_text(start), "end": to_text(end)}
        with self._transaction() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY)")
            db.execute("DELETE FROM doomed")
            db.execute(f"INSERT INTO doomed (id) {doomed}", bounds)
            rows = db.execute(
                "SELECT meter_id, count(*), max(timestamp) FROM readings WHERE id IN (SELECT id FROM doomed) "
                "GROUP BY meter_id"
            ).fetchall()
            if not rows:
                return None
            db.execute("DELETE FROM readings WHERE id IN (SELECT id FROM doomed)")
            db.execute("DELETE FROM doomed")
            hour_after = _full_hour(from_text(max(r[2] for r in rows))) + timedelta(hours=1)
            thinned = Thinning(
                reads=sum(r[1] for r in rows) + (0 if so_far is None else so_far.reads),
                meters=tuple(sorted({r[0] for r in rows} | set(() if so_far is None else so_far.meters))),
                before=hour_after if so_far is None else max(so_far.before, hour_after),
                quota_bytes=self.quota_bytes,
            )
            _set_state(db, "quota_thinning", _thinning_text(thinned))
        return thinned

    def _local_hour(self, text: str) -> str:
        local = from_text(text).astimezone(self.zone)
        return f"{local:%Y-%m-%dT%H}{local:%z}"

    def _oldest_queued(self) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT min(timestamp) FROM readings WHERE batch_key IS NULL").fetchone()
        return None if row[0] is None else _full_hour(from_text(row[0]))

    def _next_queued(self, after: datetime) -> datetime | None:
        with self._lock:
            row = self._db.execute(
                "SELECT min(timestamp) FROM readings WHERE batch_key IS NULL AND timestamp >= ?",
                (to_text(after),),
            ).fetchone()
        return None if row[0] is None else _full_hour(from_text(row[0]))

    def _delivered_before(self, moment: datetime) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM readings WHERE timestamp < ? LIMIT 1", (to_text(moment),)
            ).fetchone()
        return row is None

    def _state(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])


def _set_state(db: sqlite3.Connection, name: str, value: str) -> None:
    db.execute(
        "INSERT INTO state (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )


def _reading(meter_id: str, timestamp: str, value: str, read_at: str) -> Reading:
    return Reading(meter_id, from_text(timestamp), Decimal(value), from_text(read_at))


def _full_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _thinning_text(thinning: Thinning) -> str:
    return json.dumps(
        {
            "reads": thinning.reads,
            "meters": list(thinning.meters),
            "before": to_text(thinning.before),
            "quota_bytes": thinning.quota_bytes,
        }
    )


def _thinning_of(text: str) -> Thinning:
    data = json.loads(text)
    return Thinning(
        int(data["reads"]), tuple(data["meters"]), from_text(data["before"]), int(data["quota_bytes"])
    )
