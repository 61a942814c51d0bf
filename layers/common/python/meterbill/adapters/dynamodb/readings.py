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

A write reads the bucket (one strongly consistent GetItem), adds the readings it does not hold yet, and puts
the whole item back on condition that nobody wrote it in between (``version`` is the number of writes so
far; a new bucket is put on ``attribute_not_exists``). A reading the bucket already holds with the same number
is a duplicate (a resend) and costs no write at all. A *different* number at the same name (another value for
the same instant, quality and series) is kept as well, under ``<name>~<the value>`` (``-EA~1.3``): a value is
only ever stored at its plain name or at that one other name, and a name never changes once set, so every
reading is found, and stored, exactly once. When two requests race for a bucket, one put fails its condition;
that request reads again and finds the other's readings (as duplicates, if they are the same), with the same
jittered backoff as a throttled call.

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
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Final

from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.operand import Path, Value

from meterbill.adapters.dynamodb.connection import DynamoDb, response_code
from meterbill.adapters.dynamodb.schema import READINGS_HASH_KEY, READINGS_RANGE_KEY, SEPARATOR, series_pk
from meterbill.errors import InvalidInputError
from meterbill.ports import PutResult, RawReading, ReadingStore, ReadingType

# 64 characters in ASCII order; two of them spell the minute in a bucket (0 to 4095).
ALPHABET: Final = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
QUALITY: Final = re.compile(r"[A-Z0-9]{1,8}")
NAME: Final = re.compile(
    r"(?P<slot>[-0-9A-Za-z_]{2})(?P<quality>[A-Z0-9]{1,8})(?:\.(?P<seconds>\d\d)(?P<micro>\d{6})?)?(?:~.+)?"
)
BUCKET_FORMAT: Final = "%Y-%m-%dT%H:%MZ"
DAY_MINUTES: Final = 24 * 60
# How many writes a bucket has had. Never a reading's name: those have a capital or a digit in third place.
VERSION: Final = "version"
KEYS: Final = frozenset({READINGS_HASH_KEY, READINGS_RANGE_KEY})
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
    bucket: str
    name: str
    value: Decimal
    number: str  # the DynamoDB Number text

    @property
    def other_value_name(self) -> str:
        """The name this reading takes when its plain name holds another value."""
        return f"{self.name}~{_compact(self.value)}"


class DynamoDbReadingStore(ReadingStore):
    def __init__(self, db: DynamoDb, *, parallel_requests: int = 8) -> None:
        self._db = db
        self._parallel_requests = parallel_requests

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
        written = sorted(index for new, _ in outcomes for index in new)
        duplicates = sorted(index for _, seen in outcomes for index in seen)
        return PutResult(written=written, duplicates=duplicates)

    def _store_bucket(self, placed: Sequence[_Placed]) -> tuple[list[int], list[int]]:
        """Writes the readings of one bucket: read it, add what is new, put it back if nobody wrote it in
        between, else read again."""
        series, bucket = placed[0].series, placed[0].bucket
        for attempt in range(self._db.retry.attempts):
            if attempt:
                self._db.retry.sleep(self._db.retry.delay_before(attempt - 1))
            before = self._read_bucket(series, bucket)
            written, duplicates, new_attributes = _merge(placed, before)
            if not new_attributes:
                return written, duplicates
            version = 0 if before is None else int(before[VERSION]["N"])
            attributes = {
                **{name: value for name, value in (before or {}).items() if name not in KEYS},
                **new_attributes,
                VERSION: {"N": str(version + 1)},
            }
            unchanged = (
                Path(READINGS_HASH_KEY).does_not_exist()
                if before is None
                else Path(VERSION) == Value({"N": str(version)})
            )
            try:
                self._db.run(
                    partial(
                        self._db.readings_table.put_item,
                        series,
                        bucket,
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
                continue  # another write came first (or ours, its answer lost): read again
            return written, duplicates
        raise self._db.give_up("storing readings", f"bucket {bucket!r} of {series!r} kept changing")

    def _read_bucket(self, series: str, bucket: str) -> dict[str, Any] | None:
        answer: Mapping[str, Any] = self._db.run(
            partial(self._db.readings_table.get_item, series, bucket, consistent_read=True),
            what="reading readings",
            idempotent=True,
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    # --- reading ------------------------------------------------------------------------------------------

    def between(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[RawReading]:
        """Checks its arguments at once (not on the first ``next``), then reads lazily, page by page."""
        return self._between(meter_id, series_pk(account, meter_id), _utc(start, "start"), _utc(end, "end"))

    def _between(
        self, meter_id: str, series: str, start_utc: datetime, end_utc: datetime
    ) -> Iterator[RawReading]:
        if end_utc <= start_utc:
            return
        # Every bucket that can hold an instant in [start, end): buckets start on the UTC day of ``start`` at
        # the earliest, and one starting at or after ``end`` (its key sorts after the end minute) holds none.
        first_key = start_utc.replace(hour=0, minute=0, second=0, microsecond=0).strftime(BUCKET_FORMAT)
        end_minute = end_utc.replace(second=0, microsecond=0)
        if end_minute < end_utc:
            end_minute += timedelta(minutes=1)
        last_key = end_minute.strftime(BUCKET_FORMAT)
        pending: list[RawReading] = []
        for item in self._bucket_items(series, Path(READINGS_RANGE_KEY).between(first_key, last_key)):
            bucket_start, readings = _unpack(meter_id, item)
            # Buckets come in key order, so no later bucket holds anything before this one's start.
            pending.sort(key=_order)
            ready = [reading for reading in pending if reading.timestamp < bucket_start]
            yield from ready
            pending = pending[len(ready) :]
            pending.extend(reading for reading in readings if start_utc <= reading.timestamp < end_utc)
        pending.sort(key=_order)
        yield from pending

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


def _merge(
    placed: Sequence[_Placed], before: Mapping[str, Any] | None
) -> tuple[list[int], list[int], dict[str, dict[str, str]]]:
    """Which readings are new (their indexes, and the attributes to add), and which the bucket holds."""
    held = {
        name: Decimal(value["N"])
        for name, value in (before or {}).items()
        if name not in KEYS and name != VERSION
    }
    written: list[int] = []
    duplicates: list[int] = []
    new_attributes: dict[str, dict[str, str]] = {}
    for reading in placed:
        for name in (reading.name, reading.other_value_name):
            current = held.get(name)
            if current is None:
                held[name] = reading.value
                new_attributes[name] = {"N": reading.number}
                written.append(reading.index)
                break
            if current == reading.value:
                duplicates.append(reading.index)
                break
            # The plain name holds another value: this one belongs under its other-value name.
        else:
            raise ValueError(
                f"readings table: {reading.other_value_name!r} holds another value than its name says"
            )
    return written, duplicates, new_attributes


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
    name = ALPHABET[minute // 64] + ALPHABET[minute % 64] + reading.quality
    if moment.second or moment.microsecond:
        name += f".{moment.second:02d}" + (f"{moment.microsecond:06d}" if moment.microsecond else "")
    code = SERIES_CODE_OF_TYPE[reading.type] + (
        "" if reading.interval_minutes is None else str(reading.interval_minutes)
    )
    value = _normalised(reading.value, f"{field}.value")
    return _Placed(
        index=index,
        series=series_pk(account, reading.meter_id),
        bucket=f"{bucket_start.strftime(BUCKET_FORMAT)}{SEPARATOR}{code}",
        name=name,
        value=value,
        number=format(value, "f"),
    )


def _unpack(meter_id: str, item: Mapping[str, Any]) -> tuple[datetime, list[RawReading]]:
    start_text, _, code = item[READINGS_RANGE_KEY]["S"].partition(SEPARATOR)
    bucket_start = datetime.strptime(start_text, BUCKET_FORMAT).replace(tzinfo=UTC)
    reading_type = TYPE_OF_SERIES_CODE[code[0]]
    interval_minutes = int(code[1:]) if code[1:] else None
    readings = []
    for name, value in item.items():
        if name in KEYS or name == VERSION:
            continue
        parts = NAME.fullmatch(name)
        if parts is None:
            raise ValueError(
                f"readings table: attribute {name!r} of {item[READINGS_RANGE_KEY]['S']} is not a reading"
            )
        slot = parts["slot"]
        offset = timedelta(
            minutes=ALPHABET.index(slot[0]) * 64 + ALPHABET.index(slot[1]),
            seconds=int(parts["seconds"] or 0),
            microseconds=int(parts["micro"] or 0),
        )
        readings.append(
            RawReading(
                meter_id=meter_id,
                timestamp=bucket_start + offset,
                value=Decimal(value["N"]),
                type=reading_type,
                interval_minutes=interval_minutes,
                quality=parts["quality"],
            )
        )
    return bucket_start, readings


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
