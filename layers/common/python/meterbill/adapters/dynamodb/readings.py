"""ReadingStore on the readings table: one item per meter, series and bucket of time; one attribute per
reading.

Why (the numbers are in ``docs/storage.md`` and ``bench/ingest_cost.py``): DynamoDB bills a write by the
started KB of the larger of the old and new item, so an item per reading costs 1 write unit each, while a
bucket that stays under 1 KB takes a whole hourly push (4 quarter hours) or daily push (96) for 1 write unit.

The key: ``series`` = ``<account>#<meter id>``; ``bucket`` = ``<bucket start, UTC, %Y-%m-%dT%H:%MZ>#<series
code>``, the series code being ``i`` (interval) or ``r`` (register) followed by the interval in minutes if
the reading has one (``i15``, ``r``). A bucket spans a UTC day, or 8 hours for 5- to 14-minute intervals, or
an hour below 5 minutes, so that a full bucket holds at most ~100 readings (under 1 KB for ordinary values).

A reading's attribute name says when and how good it was: two characters for the minute in the bucket (base
64, alphabet ``ALPHABET``), the quality (``[A-Z0-9]{1,8}``), then ``.SS`` or ``.SSffffff`` for seconds and
microseconds when the timestamp has them. The value is a DynamoDB Number: exact, and as small as its digits.
Example: the 00:15 quarter hour of a day bucket, quality A, is ``-EA``; 12:34:56 quality E is ``AmE.56``.

An instant holds one current version. A later one with another value or quality replaces it when its quality
ranks the same or higher (``meterbill.meterdata.readings.replaces``), otherwise it is outranked and not
stored; the replaced version moves, in the same write, to a history attribute of the same item:
``<minute><.seconds>~<n>`` (``-E~1``, the n-th replacement of that instant) holding the String
``"<quality> <value> <when the replacement was received, UTC>"``. "Later" is the order in which writes land:
each write is conditional on what it read, so of two racing writes the second reads again and sees the first.

A write reads the bucket (one strongly consistent GetItem), decides, and puts the whole item back on condition
that nobody wrote it in between (``version`` is the number of writes so far; a new bucket is put on
``attribute_not_exists``). A reading equal to the current version is a duplicate (a resend) and costs no
write.
When two requests race for a bucket, one put fails its condition; that request reads again and finds the
other's readings (as duplicates, if they are the same), with the same jittered backoff as a throttled call.

A bucket that grows past ``PART_BYTES`` (32 KiB) continues in overflow items ``<bucket>#2``, ``#3``, ...: new
instants only ever go to the last part; a part that cannot take them is marked ``sealed`` in the same
conditional put that adds its last readings, and only then is the next part created (on
``attribute_not_exists``). So an instant is stored in exactly one part however writes race, and a correction
is written to the part that holds the instant. A sealed part 1 tells a writer to read the other parts too (a
Query on ``begins_with(bucket, "<bucket>#")``); readers of a time range get every part anyway.

Why not ``UpdateItem SET #n = if_not_exists(#n, :v)`` with ``ReturnValues=ALL_OLD``, which needs no read? It
works (``UPDATED_OLD`` does not on moto: it leaves unchanged attributes out) and saves the read unit, but moto
parses update expressions in quadratic time - a day of 96 readings takes ~0.5 s per call, 18 times the ~28 ms
of a read and a put - and the tests and the local server run on moto. Both bill the same write units (a write
is billed on the larger of the old and new item either way); ``docs/storage.md`` has the figures.

Numbers are stored normalised (``1.250`` as ``1.25``, as DynamoDB would anyway): a reading reads back equal in
value, without trailing zeros.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Final, TypeVar

from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.operand import Path, Value

from meterbill.adapters.dynamodb.catalog import utc_now
from meterbill.adapters.dynamodb.connection import DynamoDb, response_code
from meterbill.adapters.dynamodb.schema import (
    CATALOG_RANGE_KEY,
    RATING_MARK_CHANGES,
    RATING_MARK_SHARDS,
    READINGS_HASH_KEY,
    READINGS_RANGE_KEY,
    SEPARATOR,
    rating_mark_shard,
    rating_mark_sk,
    rating_marks_pk,
    series_pk,
)
from meterbill.adapters.dynamodb.sizing import item_size
from meterbill.errors import InvalidInputError
from meterbill.meterdata.readings import replaces
from meterbill.ports import PendingMark, PutResult, RawReading, ReadingStore, ReadingType, SupersededReading

T = TypeVar("T")

# 64 characters in ASCII order; two of them spell the minute in a bucket (0 to 4095).
ALPHABET: Final = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
QUALITY: Final = re.compile(r"[A-Z0-9]{1,8}")
# The current version of an instant (a Number), and a replaced one (a String "<quality> <value> <received>").
CURRENT: Final = re.compile(
    r"(?P<slot>[-0-9A-Za-z_]{2})(?P<quality>[A-Z0-9]{1,8})(?P<fraction>\.(?P<seconds>\d\d)(?P<micro>\d{6})?)?"
)
HISTORY: Final = re.compile(
    r"(?P<slot>[-0-9A-Za-z_]{2})(?P<fraction>\.(?P<seconds>\d\d)(?P<micro>\d{6})?)?~(?P<order>[1-9][0-9]*)"
)
HISTORY_SEPARATOR: Final = "~"
RECEIVED_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
BUCKET_FORMAT: Final = "%Y-%m-%dT%H:%MZ"
DAY_MINUTES: Final = 24 * 60
# How many writes a bucket has had. Never a reading's name: those have a capital or a digit in third place.
VERSION: Final = "version"
# Set on a part that takes no new instants any more (a further part does); a capital-free third letter too.
SEALED: Final = "sealed"
KEYS: Final = frozenset({READINGS_HASH_KEY, READINGS_RANGE_KEY})
NOT_READINGS: Final = KEYS | {VERSION, SEALED}
# A part takes new instants while it stays under PART_BYTES (a write is billed on the part's size, so dense
# series stay cheap to append to); corrections may grow it up to MAX_PART_BYTES, below DynamoDB's 400 KB item
# (409,600 bytes) with room for the estimate of ``sizing``.
PART_BYTES: Final = 32 * 1024
MAX_PART_BYTES: Final = 380 * 1024
CONDITION_FAILED: Final = "ConditionalCheckFailedException"
# DynamoDB numbers: 38 significant digits, magnitude 1E-130 to below 1E+126.
MAX_DIGITS: Final = 38
MIN_EXPONENT: Final = -130
MAX_EXPONENT: Final = 125
SERIES_CODE_OF_TYPE: Final[Mapping[ReadingType, str]] = {"interval": "i", "register": "r"}
TYPE_OF_SERIES_CODE: Final[Mapping[str, ReadingType]] = {
    code: kind for kind, code in SERIES_CODE_OF_TYPE.items()
}


def bucket_minutes(reading_type: ReadingType, interval_minutes: int | None) -> int:
    """How much time one item holds: about 100 readings at most, and always a divisor of a UTC day."""
    if reading_type == "interval" and interval_minutes is not None:
        if interval_minutes < 5:
            return 60
        if interval_minutes < 15:
            return 8 * 60
    return DAY_MINUTES


@dataclass(frozen=True, slots=True)
class _Placed:
    """Where one reading of a ``put_new`` call goes."""

    index: int
    series: str
    bucket: str  # the key of the bucket's first part
    slot: str  # the minute in the bucket, two characters
    fraction: str  # "" or ".SS" or ".SSffffff"
    quality: str
    value: Decimal
    number: str  # the DynamoDB Number text

    @property
    def name(self) -> str:
        return f"{self.slot}{self.quality}{self.fraction}"

    @property
    def instant(self) -> str:
        return f"{self.slot}{self.fraction}"


@dataclass(slots=True)
class _Part:
    """One item of a bucket as read, and what a write plan does to it."""

    number: int  # 1 for the bucket's own key, n for ``<bucket>#n``
    key: str
    attributes: dict[str, dict[str, Any]]  # readings, history and ``sealed``; no keys, no version
    version: int | None  # None: not stored yet
    size: int
    changed: bool = False

    @property
    def sealed(self) -> bool:
        return SEALED in self.attributes

    def set(self, name: str, value: dict[str, Any]) -> None:
        self.drop(name)
        self.attributes[name] = value
        self.size += _attribute_size(name, value)
        self.changed = True

    def drop(self, name: str) -> None:
        old = self.attributes.pop(name, None)
        if old is not None:
            self.size -= _attribute_size(name, old)
            self.changed = True


@dataclass(slots=True)
class _Current:
    part: int
    name: str
    value: Decimal
    quality: str
    touched: bool = False  # changed by the plan being made (not stored yet)


@dataclass(slots=True)
class _Plan:
    """Per reading index: its outcome, and the part whose put settles it (None: settled by the read)."""

    outcomes: dict[int, tuple[str, int | None]] = field(default_factory=dict)


class DynamoDbReadingStore(ReadingStore):
    def __init__(
        self,
        db: DynamoDb,
        *,
        parallel_requests: int = 8,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._parallel_requests = parallel_requests
        self._clock = clock

    # --- writing ------------------------------------------------------------------------------------------

    def put_new(self, account: str, readings: Sequence[RawReading]) -> PutResult:
        by_bucket: dict[tuple[str, str], list[_Placed]] = {}
        for index, reading in enumerate(readings):
            placed = _place(account, index, reading)
            by_bucket.setdefault((placed.series, placed.bucket), []).append(placed)
        buckets = list(by_bucket.values())
        if len(buckets) > 1 and self._parallel_requests > 1:
            with ThreadPoolExecutor(max_workers=min(len(buckets), self._parallel_requests)) as pool:
                outcomes = list(pool.map(self._store_bucket, buckets))
        else:
            outcomes = [self._store_bucket(bucket) for bucket in buckets]
        settled = {index: outcome for bucket in outcomes for index, outcome in bucket.items()}
        stored = {i for i, outcome in settled.items() if outcome in ("new", "replaced")}
        # After the readings, never before: a pass that cleared the old mark before they landed sees this one.
        # One UpdateItem per (meter, UTC day), ``parallel_requests`` at a time as the buckets were written.
        self._parallel(
            lambda meter_day: self._mark(account, *meter_day),
            sorted({(readings[i].meter_id, _utc_day(readings[i].timestamp)) for i in stored}),
        )

        def having(*kinds: str) -> list[int]:
            return sorted(index for index, outcome in settled.items() if outcome in kinds)

        return PutResult(
            written=having("new", "replaced"),
            duplicates=having("duplicate"),
            replaced=having("replaced"),
            outranked=having("outranked"),
        )

    def _store_bucket(self, placed: Sequence[_Placed]) -> dict[int, str]:
        """Writes the readings of one bucket: read its parts, decide, put back each changed part if nobody
        wrote it in between; after a conflict read again and decide the readings not settled yet."""
        series, bucket = placed[0].series, placed[0].bucket
        settled: dict[int, str] = {}
        for attempt in range(self._db.retry.attempts):
            if attempt:
                self._db.retry.sleep(self._db.retry.delay_before(attempt - 1))
            parts = self._read_parts(series, bucket)
            if parts is None:
                continue  # a view caught between two writes: read again
            pending = [reading for reading in placed if reading.index not in settled]
            plan = _plan(pending, parts, self._clock().astimezone(UTC).strftime(RECEIVED_FORMAT))
            settled.update(
                {index: outcome for index, (outcome, part) in plan.outcomes.items() if part is None}
            )
            if not self._put_parts(series, parts, plan, settled):
                continue  # another write came first (or ours, its answer lost): read again
            return settled
        raise self._db.give_up("storing readings", f"bucket {bucket!r} of {series!r} kept changing")

    def _put_parts(self, series: str, parts: Sequence[_Part], plan: _Plan, settled: dict[int, str]) -> bool:
        """Puts the changed parts in order; False when one's condition fails (the rest are not tried)."""
        for part in parts:
            if not part.changed:
                continue
            attributes = {**part.attributes, VERSION: {"N": str((part.version or 0) + 1)}}
            unchanged = (
                Path(READINGS_HASH_KEY).does_not_exist()
                if part.version is None
                else Path(VERSION) == Value({"N": str(part.version)})
            )
            try:
                self._db.run(
                    partial(
                        self._db.readings_table.put_item,
                        series,
                        part.key,
                        attributes=attributes,
                        condition=unchanged,
                    ),
                    what="storing readings",
                    # A put sent twice fails its condition the second time and is read again: stored once.
                    idempotent=True,
                )
            except PynamoDBException as error:
                if response_code(error) != CONDITION_FAILED:
                    raise
                return False
            settled.update(
                {
                    index: outcome
                    for index, (outcome, number) in plan.outcomes.items()
                    if number == part.number
                }
            )
        return True

    def _read_parts(self, series: str, bucket: str) -> list[_Part] | None:
        """The bucket's parts in order (none if it is new), or None if the view is not one a single moment
        could show (a part before the last that is not sealed: a write landed between two reads)."""
        first = self._read_bucket(series, bucket)
        if first is None:
            return []
        items = [first]
        if SEALED in first:
            prefix = f"{bucket}{SEPARATOR}"
            items += self._bucket_items(series, Path(READINGS_RANGE_KEY).startswith(prefix))
        parts = sorted((_part(bucket, item) for item in items), key=lambda part: part.number)
        if any(not part.sealed for part in parts[:-1]):
            return None
        return parts

    def _read_bucket(self, series: str, bucket: str) -> dict[str, Any] | None:
        answer: Mapping[str, Any] = self._db.run(
            partial(self._db.readings_table.get_item, series, bucket, consistent_read=True),
            what="reading readings",
            idempotent=True,
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    # --- rating marks -------------------------------------------------------------------------------------

    def _mark(self, account: str, meter_id: str, day: str) -> None:
        """One UpdateItem ``ADD changes 1`` (1 write unit) in the meter's shard: creates the mark or counts
        one more change. Sent twice (a retry after a lost answer) it counts two: the pass's clear then fails
        once more, nothing is lost."""
        self._db.run(
            partial(
                self._db.catalog_table.update_item,
                rating_marks_pk(rating_mark_shard(account, meter_id)),
                rating_mark_sk(account, meter_id, day),
                actions=[Path(RATING_MARK_CHANGES).add(Value({"N": "1"}))],
            ),
            what="marking readings for rating",
            idempotent=True,
        )

    def mark_for_rating(self, account: str, meter_id: str, *days: date) -> None:
        self._parallel(partial(self._mark, account, meter_id), sorted({day.isoformat() for day in days}))

    def _parallel(self, call: Callable[[Any], T], arguments: Sequence[Any]) -> list[T]:
        """``call`` on each argument, ``parallel_requests`` at a time; the answers in argument order."""
        if len(arguments) > 1 and self._parallel_requests > 1:
            with ThreadPoolExecutor(max_workers=min(len(arguments), self._parallel_requests)) as pool:
                return list(pool.map(call, arguments))
        return [call(argument) for argument in arguments]

    def pending_marks(self, *, limit: int) -> Sequence[PendingMark]:
        """Every shard gets an equal share of ``limit`` first (a busy shard cannot starve the others); what
        the quiet shards leave goes to the shards that have more, in shard order."""
        if limit <= 0:
            return []
        share = -(-limit // RATING_MARK_SHARDS)
        by_shard: dict[int, list[PendingMark]] = {}
        more: dict[int, Mapping[str, Any]] = {}
        first_pages = self._parallel(
            lambda shard: self._marks_of_shard(shard, share, None), range(RATING_MARK_SHARDS)
        )
        for shard, (marks, start_key) in enumerate(first_pages):
            by_shard[shard] = marks
            if start_key is not None:
                more[shard] = start_key
        left = limit - sum(map(len, by_shard.values()))
        for shard, start_key in more.items():
            if left <= 0:
                break
            marks, _ = self._marks_of_shard(shard, left, start_key)
            by_shard[shard] += marks
            left -= len(marks)
        marks = [mark for shard in range(RATING_MARK_SHARDS) for mark in by_shard[shard]]
        return marks[:limit]

    def _marks_of_shard(
        self, shard: int, limit: int, start_key: Mapping[str, Any] | None
    ) -> tuple[list[PendingMark], Mapping[str, Any] | None]:
        """Up to ``limit`` marks of one shard from ``start_key``, and where the next page starts (None: all
        read). A Query's ``Limit`` may answer fewer items with a next key, so this pages until ``limit``."""
        marks: list[PendingMark] = []
        while len(marks) < limit:
            answer: Mapping[str, Any] = self._db.run(
                partial(
                    self._db.catalog_table.query,
                    rating_marks_pk(shard),
                    exclusive_start_key=start_key,
                    consistent_read=True,
                    limit=limit - len(marks),
                ),
                what="reading rating marks",
                idempotent=True,
            )
            for item in answer.get("Items", []):
                account, meter_id, day = item[CATALOG_RANGE_KEY]["S"].split(SEPARATOR)
                changes = int(item[RATING_MARK_CHANGES]["N"])
                marks.append(PendingMark(account, meter_id, date.fromisoformat(day), changes))
            start_key = answer.get("LastEvaluatedKey")
            if start_key is None:
                break
        return marks, start_key

    def clear_mark(self, mark: PendingMark) -> bool:
        try:
            self._db.run(
                partial(
                    self._db.catalog_table.delete_item,
                    rating_marks_pk(rating_mark_shard(mark.account, mark.meter_id)),
                    rating_mark_sk(mark.account, mark.meter_id, mark.day.isoformat()),
                    condition=Path(RATING_MARK_CHANGES) == Value({"N": str(mark.changes)}),
                ),
                what="clearing a rating mark",
                idempotent=True,
            )
        except PynamoDBException as error:
            if response_code(error) != CONDITION_FAILED:
                raise
            return False
        return True

    def clear_marks(self, marks: Sequence[PendingMark]) -> list[bool]:
        """One conditional DeleteItem a mark, ``parallel_requests`` at a time."""
        return self._parallel(self.clear_mark, list(marks))

    # --- reading ------------------------------------------------------------------------------------------

    def between(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[RawReading]:
        """Checks its arguments at once (not on the first ``next``), then reads lazily, page by page."""
        return self._between(meter_id, series_pk(account, meter_id), _utc(start, "start"), _utc(end, "end"))

    def _between(
        self, meter_id: str, series: str, start_utc: datetime, end_utc: datetime
    ) -> Iterator[RawReading]:
        if end_utc <= start_utc:
            return
        first_key, last_key = _key_range(start_utc, end_utc)
        pending: list[RawReading] = []
        for item in self._bucket_items(series, Path(READINGS_RANGE_KEY).between(first_key, last_key)):
            bucket_start, readings, _ = _unpack(meter_id, item)
            # Buckets come in key order, so no later bucket holds anything before this one's start.
            pending.sort(key=_order)
            ready = [reading for reading in pending if reading.timestamp < bucket_start]
            yield from ready
            pending = pending[len(ready) :]
            pending.extend(reading for reading in readings if start_utc <= reading.timestamp < end_utc)
        pending.sort(key=_order)
        yield from pending

    def superseded(
        self, account: str, meter_id: str, start: datetime, end: datetime
    ) -> Iterator[SupersededReading]:
        start_utc, end_utc = _utc(start, "start"), _utc(end, "end")
        series = series_pk(account, meter_id)
        if end_utc <= start_utc:
            return iter(())
        first_key, last_key = _key_range(start_utc, end_utc)
        found = [
            old
            for item in self._bucket_items(series, Path(READINGS_RANGE_KEY).between(first_key, last_key))
            for old in _unpack(meter_id, item)[2]
            if start_utc <= old.reading.timestamp < end_utc
        ]
        return iter(sorted(found, key=lambda old: (_order(old.reading)[:3], old.order)))

    def _bucket_items(self, series: str, range_key_condition: Any) -> Iterator[dict[str, Any]]:
        start_key: dict[str, Any] | None = None
        while True:
            answer: Mapping[str, Any] = self._db.run(
                partial(
                    self._db.readings_table.query,
                    series,
                    range_key_condition=range_key_condition,
                    exclusive_start_key=start_key,
                    consistent_read=True,
                ),
                what="reading readings",
                idempotent=True,
            )
            yield from answer.get("Items", [])
            start_key = answer.get("LastEvaluatedKey")
            if start_key is None:
                return


def _plan(placed: Sequence[_Placed], parts: list[_Part], received: str) -> _Plan:
    """Decides each reading against the parts (in the order given: later replaces earlier) and changes the
    parts to match: new instants go to the last part, or a new one when it is full; a replacement moves the
    current version of its instant to a history attribute of the same part."""
    current: dict[str, _Current] = {}
    replacements: dict[str, int] = {}
    for part in parts:
        for name, value in part.attributes.items():
            if (version := CURRENT.fullmatch(name)) is not None:
                instant = version["slot"] + (version["fraction"] or "")
                current[instant] = _Current(part.number, name, Decimal(value["N"]), version["quality"])
            elif (old := HISTORY.fullmatch(name)) is not None:
                instant = old["slot"] + (old["fraction"] or "")
                replacements[instant] = max(replacements.get(instant, 0), int(old["order"]))
    by_number = {part.number: part for part in parts}
    plan = _Plan()
    for reading in placed:
        held = current.get(reading.instant)
        number_value = {"N": reading.number}
        if held is None:
            part = _part_with_room(
                parts, by_number, reading.bucket, _attribute_size(reading.name, number_value)
            )
            part.set(reading.name, number_value)
            current[reading.instant] = _Current(
                part.number, reading.name, reading.value, reading.quality, True
            )
            plan.outcomes[reading.index] = ("new", part.number)
        elif (held.value, held.quality) == (reading.value, reading.quality):
            plan.outcomes[reading.index] = ("duplicate", held.part if held.touched else None)
        elif replaces(reading.quality, held.quality):
            part = by_number[held.part]
            order = replacements.get(reading.instant, 0) + 1
            replacements[reading.instant] = order
            part.drop(held.name)
            part.set(
                f"{reading.instant}{HISTORY_SEPARATOR}{order}",
                {"S": f"{held.quality} {_compact(held.value)} {received}"},
            )
            part.set(reading.name, number_value)
            if part.size > MAX_PART_BYTES:  # ~9,000 versions in one item: no collector corrects that often
                raise InvalidInputError(
                    "readings",
                    f"the versions of bucket {reading.bucket!r} outgrow a DynamoDB item ({MAX_PART_BYTES:,} "
                    "bytes); it takes no more corrections",
                )
            current[reading.instant] = _Current(
                part.number, reading.name, reading.value, reading.quality, True
            )
            plan.outcomes[reading.index] = ("replaced", part.number)
        else:
            plan.outcomes[reading.index] = ("outranked", held.part if held.touched else None)
    return plan


def _part_with_room(parts: list[_Part], by_number: dict[int, _Part], bucket: str, size: int) -> _Part:
    """The last part if it is not sealed and stays under PART_BYTES with ``size`` more; else it is sealed and
    a new part follows."""
    last = parts[-1] if parts else None
    if last is not None and not last.sealed and (last.size + size <= PART_BYTES or not _holds_readings(last)):
        return last
    if last is not None and not last.sealed:
        last.set(SEALED, {"BOOL": True})
    number = 1 if last is None else last.number + 1
    key = bucket if number == 1 else f"{bucket}{SEPARATOR}{number}"
    part = _Part(
        number, key, {}, None, item_size({READINGS_HASH_KEY: {"S": ""}, READINGS_RANGE_KEY: {"S": key}})
    )
    parts.append(part)
    by_number[number] = part
    return part


def _holds_readings(part: _Part) -> bool:
    return any(CURRENT.fullmatch(name) for name in part.attributes)


def _part(bucket: str, item: Mapping[str, Any]) -> _Part:
    key = item[READINGS_RANGE_KEY]["S"]
    number = 1 if key == bucket else int(key.removeprefix(f"{bucket}{SEPARATOR}"))
    attributes = {name: value for name, value in item.items() if name not in KEYS and name != VERSION}
    return _Part(number, key, attributes, int(item[VERSION]["N"]), item_size(item))


def _attribute_size(name: str, value: Mapping[str, Any]) -> int:
    return item_size({name: value})


def _place(account: str, index: int, reading: RawReading) -> _Placed:
    field = f"readings[{index}]"
    moment = _utc(reading.timestamp, f"{field}.timestamp")
    if reading.interval_minutes is not None and not 1 <= reading.interval_minutes <= DAY_MINUTES:
        raise InvalidInputError(f"{field}.interval_minutes", f"must be 1 to {DAY_MINUTES}")
    if reading.type not in SERIES_CODE_OF_TYPE:
        raise InvalidInputError(f"{field}.type", "must be 'interval' or 'register'")
    if not QUALITY.fullmatch(reading.quality):
        raise InvalidInputError(f"{field}.quality", "must be 1 to 8 capital letters or digits")
    span = bucket_minutes(reading.type, reading.interval_minutes)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    minute_of_day = moment.hour * 60 + moment.minute
    bucket_start = day + timedelta(minutes=minute_of_day - minute_of_day % span)
    minute = minute_of_day % span
    fraction = ""
    if moment.second or moment.microsecond:
        fraction = f".{moment.second:02d}" + (f"{moment.microsecond:06d}" if moment.microsecond else "")
    code = SERIES_CODE_OF_TYPE[reading.type] + (
        "" if reading.interval_minutes is None else str(reading.interval_minutes)
    )
    value = _normalised(reading.value, f"{field}.value")
    return _Placed(
        index=index,
        series=series_pk(account, reading.meter_id),
        bucket=f"{bucket_start.strftime(BUCKET_FORMAT)}{SEPARATOR}{code}",
        slot=ALPHABET[minute // 64] + ALPHABET[minute % 64],
        fraction=fraction,
        quality=reading.quality,
        value=value,
        number=format(value, "f"),
    )


def _unpack(
    meter_id: str, item: Mapping[str, Any]
) -> tuple[datetime, list[RawReading], list[SupersededReading]]:
    """A part's start, its current readings and its replaced versions."""
    key = item[READINGS_RANGE_KEY]["S"]
    start_text, _, rest = key.partition(SEPARATOR)
    code = rest.partition(SEPARATOR)[0]  # after it: the part number of an overflow part
    bucket_start = datetime.strptime(start_text, BUCKET_FORMAT).replace(tzinfo=UTC)
    reading_type = TYPE_OF_SERIES_CODE[code[0]]
    interval_minutes = int(code[1:]) if code[1:] else None

    def at(parts: re.Match[str]) -> datetime:
        slot = parts["slot"]
        return bucket_start + timedelta(
            minutes=ALPHABET.index(slot[0]) * 64 + ALPHABET.index(slot[1]),
            seconds=int(parts["seconds"] or 0),
            microseconds=int(parts["micro"] or 0),
        )

    readings: list[RawReading] = []
    superseded: list[SupersededReading] = []
    for name, value in item.items():
        if name in NOT_READINGS:
            continue
        if (parts := CURRENT.fullmatch(name)) is not None:
            readings.append(
                RawReading(
                    meter_id, at(parts), Decimal(value["N"]), reading_type, interval_minutes, parts["quality"]
                )
            )
        elif (parts := HISTORY.fullmatch(name)) is not None:
            quality, number, received = value["S"].split(" ")
            superseded.append(
                SupersededReading(
                    RawReading(meter_id, at(parts), Decimal(number), reading_type, interval_minutes, quality),
                    superseded_at=datetime.strptime(received, RECEIVED_FORMAT).replace(tzinfo=UTC),
                    order=int(parts["order"]),
                )
            )
        else:
            raise ValueError(f"readings table: attribute {name!r} of {key} is not a reading")
    return bucket_start, readings, superseded


def _key_range(start_utc: datetime, end_utc: datetime) -> tuple[str, str]:
    """Keys around every bucket part that can hold an instant in [start, end): buckets start on the UTC day
    of ``start`` at the earliest, and one starting at or after ``end`` (its key sorts after the end minute)
    holds none."""
    first_key = start_utc.replace(hour=0, minute=0, second=0, microsecond=0).strftime(BUCKET_FORMAT)
    end_minute = end_utc.replace(second=0, microsecond=0)
    if end_minute < end_utc:
        end_minute += timedelta(minutes=1)
    return first_key, end_minute.strftime(BUCKET_FORMAT)


def _order(reading: RawReading) -> tuple[datetime, str, int, str, Decimal]:
    return (reading.timestamp, reading.type, reading.interval_minutes or 0, reading.quality, reading.value)


def _utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(field, f"{moment.isoformat()} has no UTC offset or time zone")
    return moment.astimezone(UTC)


def _normalised(value: Decimal, field: str) -> Decimal:
    """The value as DynamoDB keeps it (no trailing zeros); InvalidInputError if it cannot hold it exactly."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInputError(field, "must be a finite Decimal")
    if value.is_zero():
        return Decimal(0)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # a finite Decimal's exponent
    while digits[-1] == 0:  # exact, unlike Decimal.normalize(), which rounds to the context's 28 digits
        digits, exponent = digits[:-1], exponent + 1
    normal = Decimal((sign, digits, exponent))
    if len(digits) > MAX_DIGITS:
        raise InvalidInputError(field, f"has more than {MAX_DIGITS} significant digits")
    if not MIN_EXPONENT <= normal.adjusted() <= MAX_EXPONENT:
        raise InvalidInputError(field, "is too large or too small to store")
    return normal


def _compact(value: Decimal) -> str:
    """The shortest exact spelling of a normalised value (``1.3``, ``1E+2``): unique per value."""
    return str(value)


def _utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()
