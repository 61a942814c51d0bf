"""MeteringStore on DynamoDB: what the rating run keeps, beside the raw readings.

Readings table (partition ``<account>#<meter id>#rated``, next to the raw series ``<account>#<meter id>``; a
meter id holds no ``#``, so no raw series can be spelled so):

- a rated day, sort key ``day#<YYYY-MM-DD>`` (local calendar): ``zone`` (IANA name), ``start`` (UTC ISO),
  ``interval`` (minutes), ``unit``, ``exp`` (values are integers times 10**exp), ``values`` (the integers,
  comma-separated: ~5 bytes each), ``q`` (one NEM12 flag per interval), ``subs`` (the substitutions as runs
  of intervals with the same method and reason: ``<first>-<last>|<method>|<reason>``), the day's rollup
  (``total``, ``estimated``, ``intervals``, ``missing``) and ``hours`` (each local hour's total as integers,
  comma-separated).
  A day of 96 quarter hours is ~0.9 KB (1 write unit); 288 five-minute intervals ~2 KB.
- a month, sort key ``month#<YYYY-MM>``: ``zone``, ``start``/``end`` (UTC ISO), ``unit``, ``days``, ``total``,
  ``estimated``, ``intervals``, ``missing``, ``digest`` (of its days' intervals and flags, see
  ``meterdata.rollups.days_digest``: what a draft invoice compares to know it is current) and ``rated_with``
  (the digest of the meter settings its days were validated with) (~280 bytes).

Catalog table: the running cost of a customer, pk ``account#<account>#running-cost``, sk ``<customer id>``,
``body`` the exact JSON of ``RunningCost`` (~300 bytes); one Query lists an account's customers.

Every write is a plain PutItem: the rating service compares with what is stored and writes only what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Final
from zoneinfo import ZoneInfo

from pynamodb.expressions.operand import Path

from meterbill.adapters.dynamodb import exact_json
from meterbill.adapters.dynamodb.connection import DynamoDb
from meterbill.adapters.dynamodb.schema import (
    READINGS_HASH_KEY,
    READINGS_RANGE_KEY,
    SEPARATOR,
    account_pk,
    range_key,
    series_pk,
)
from meterbill.ports import MeteringStore, MonthRollup, RatedDay, Rollup, RunningCost, UsageSoFar

RATED_SUFFIX: Final = "rated"
DAY_PREFIX: Final = "day#"
MONTH_PREFIX: Final = "month#"
RUNNING_COST_KIND: Final = "running-cost"
BATCH_WRITE: Final = 25  # the most items one BatchWriteItem takes
BATCH_GET: Final = 100  # the most keys one BatchGetItem takes (a month item is ~280 bytes: far below 16 MB)


def rated_pk(account: str, meter_id: str) -> str:
    return f"{series_pk(account, meter_id)}{SEPARATOR}{RATED_SUFFIX}"


def running_cost_pk(account: str) -> str:
    return f"{account_pk(account)}{SEPARATOR}{RUNNING_COST_KIND}"


class DynamoDbMeteringStore(MeteringStore):
    def __init__(self, db: DynamoDb) -> None:
        self._db = db

    # --- rated days and months ---------------------------------------------------------------------------

    def days(
        self, account: str, meter_id: str, first: date, end: date, *, consistent: bool = True
    ) -> list[RatedDay]:
        if end <= first:
            return []
        last = date.fromordinal(end.toordinal() - 1)
        condition = Path(READINGS_RANGE_KEY).between(f"{DAY_PREFIX}{first}", f"{DAY_PREFIX}{last}")
        items = self._query(self._db.readings_table, rated_pk(account, meter_id), condition, consistent)
        return [_day_of(meter_id, item) for item in items]

    def put_day(self, account: str, day: RatedDay) -> None:
        self._put(
            self._db.readings_table, rated_pk(account, day.meter_id), f"{DAY_PREFIX}{day.day}", _day_item(day)
        )

    def put_days(self, account: str, days: Sequence[RatedDay]) -> None:
        """BatchWriteItem, 25 days a request (the same write units as a PutItem each, 1/25 the requests);
        what DynamoDB leaves unprocessed is sent again after the retry policy's backoff."""
        items = [
            {
                READINGS_HASH_KEY: {"S": rated_pk(account, day.meter_id)},
                READINGS_RANGE_KEY: {"S": f"{DAY_PREFIX}{day.day}"},
                **_day_item(day),
            }
            for day in days
        ]
        for first in range(0, len(items), BATCH_WRITE):
            self._put_batch(items[first : first + BATCH_WRITE])

    def _put_batch(self, items: list[dict[str, Any]]) -> None:
        table = self._db.readings_table
        pending = items
        for attempt in range(self._db.retry.attempts):
            if attempt:
                self._db.retry.sleep(self._db.retry.delay_before(attempt - 1))
            answer: Mapping[str, Any] = self._db.run(
                partial(table.batch_write_item, put_items=pending),
                what="storing rated usage",
                idempotent=True,
            )
            unprocessed = answer.get("UnprocessedItems", {}).get(table.table_name, [])
            if not unprocessed:
                return
            pending = [request["PutRequest"]["Item"] for request in unprocessed]
        raise self._db.give_up("storing rated usage", f"{len(pending)} days left unprocessed")

    def rated_span(self, account: str, meter_id: str) -> tuple[date, date] | None:
        """Two Queries of one item each (the first and the last ``day#`` key): 2 RRU (quarter-hour days)."""
        ends = []
        for forward in (True, False):
            answer: Mapping[str, Any] = self._db.run(
                partial(
                    self._db.readings_table.query,
                    rated_pk(account, meter_id),
                    range_key_condition=Path(READINGS_RANGE_KEY).startswith(DAY_PREFIX),
                    scan_index_forward=forward,
                    limit=1,
                    consistent_read=True,
                ),
                what="reading rated usage",
                idempotent=True,
            )
            items = answer.get("Items", [])
            if not items:
                return None
            ends.append(date.fromisoformat(items[0][READINGS_RANGE_KEY]["S"].removeprefix(DAY_PREFIX)))
        return ends[0], ends[1]

    def month(self, account: str, meter_id: str, year: int, month: int) -> MonthRollup | None:
        item = self._get(self._db.readings_table, rated_pk(account, meter_id), _month_key(year, month))
        return None if item is None else _month_of(meter_id, year, month, item)

    def months(
        self, account: str, wanted: Iterable[tuple[str, int, int]]
    ) -> dict[tuple[str, int, int], MonthRollup]:
        """BatchGetItem, 100 keys a request, strongly consistent (1 read unit per rollup, as ``month``);
        keys DynamoDB leaves unprocessed are asked again after the retry policy's backoff."""
        keys = {
            (rated_pk(account, meter_id), _month_key(year, month)): (meter_id, year, month)
            for meter_id, year, month in wanted
        }
        found: dict[tuple[str, int, int], MonthRollup] = {}
        ordered = list(keys)
        for first in range(0, len(ordered), BATCH_GET):
            for item in self._get_batch(ordered[first : first + BATCH_GET]):
                meter_id, year, month = keys[(item[READINGS_HASH_KEY]["S"], item[READINGS_RANGE_KEY]["S"])]
                found[(meter_id, year, month)] = _month_of(meter_id, year, month, item)
        return found

    def _get_batch(self, keys: list[tuple[str, str]]) -> list[Mapping[str, Any]]:
        table = self._db.readings_table
        pending: list[dict[str, Any]] = [
            {READINGS_HASH_KEY: {"S": pk}, READINGS_RANGE_KEY: {"S": sk}} for pk, sk in keys
        ]
        items: list[Mapping[str, Any]] = []
        for attempt in range(self._db.retry.attempts):
            if attempt:
                self._db.retry.sleep(self._db.retry.delay_before(attempt - 1))
            answer: Mapping[str, Any] = self._db.run(
                # pynamodb annotates the keys as strings; it takes attribute maps (typed ones pass through).
                partial(table.batch_get_item, pending, consistent_read=True),  # type: ignore[arg-type]
                what="reading rated usage",
                idempotent=True,
            )
            items.extend(answer.get("Responses", {}).get(table.table_name, []))
            pending = answer.get("UnprocessedKeys", {}).get(table.table_name, {}).get("Keys", [])
            if not pending:
                return items
        raise self._db.give_up("reading rated usage", f"{len(pending)} months left unprocessed")

    def put_month(self, account: str, rollup: MonthRollup) -> None:
        key = _month_key(rollup.year, rollup.month)
        self._put(self._db.readings_table, rated_pk(account, rollup.meter_id), key, _month_item(rollup))

    # --- running costs ---------------------------------------------------------------------------------

    def running_cost(self, account: str, customer_id: str) -> RunningCost | None:
        item = self._get(
            self._db.catalog_table, running_cost_pk(account), range_key(customer_id, "customer_id")
        )
        return None if item is None else _running_of(exact_json.loads(item["body"]["S"]))

    def put_running_cost(self, account: str, running: RunningCost) -> None:
        body = {"body": {"S": exact_json.dumps(_running_json(running))}}
        self._put(
            self._db.catalog_table,
            running_cost_pk(account),
            range_key(running.customer_id, "customer_id"),
            body,
        )

    def running_costs(self, account: str) -> list[RunningCost]:
        """One Query of the account's running-cost partition (paged by DynamoDB's 1 MB)."""
        items = self._query(self._db.catalog_table, running_cost_pk(account), None)
        return [_running_of(exact_json.loads(item["body"]["S"])) for item in items]

    # --- calls -----------------------------------------------------------------------------------------

    def _put(self, table: Any, hash_key: str, sort_key: str, attributes: dict[str, Any]) -> None:
        self._db.run(
            partial(table.put_item, hash_key, sort_key, attributes=attributes),
            what="storing rated usage",
            idempotent=True,
        )

    def _get(self, table: Any, hash_key: str, sort_key: str) -> Mapping[str, Any] | None:
        answer: Mapping[str, Any] = self._db.run(
            partial(table.get_item, hash_key, sort_key, consistent_read=True),
            what="reading rated usage",
            idempotent=True,
        )
        item: Mapping[str, Any] | None = answer.get("Item")
        return item

    def _query(
        self, table: Any, hash_key: str, condition: Any, consistent: bool = True
    ) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = []
        start_key: Mapping[str, Any] | None = None
        while True:
            answer: Mapping[str, Any] = self._db.run(
                partial(
                    table.query,
                    hash_key,
                    range_key_condition=condition,
                    exclusive_start_key=start_key,
                    consistent_read=consistent,
                ),
                what="reading rated usage",
                idempotent=True,
            )
            items += answer.get("Items", [])
            start_key = answer.get("LastEvaluatedKey")
            if start_key is None:
                return items


# --- items -------------------------------------------------------------------------------------------------


def _month_key(year: int, month: int) -> str:
    return f"{MONTH_PREFIX}{year:04d}-{month:02d}"


def _zone_name(moment: datetime) -> str:
    zone = moment.tzinfo
    if not isinstance(zone, ZoneInfo):
        raise ValueError(f"{moment.isoformat()}: rated usage is kept on a site's IANA zone, not {zone!r}")
    return zone.key


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(ZoneInfo(zone))


def _number(value: Decimal | int) -> dict[str, str]:
    """As DynamoDB keeps a number: no trailing zeros, no exponent (``35.000`` -> ``35``)."""
    return {"N": format(Decimal(value).normalize(), "f")}


def _rollup_attributes(rollup: Rollup) -> dict[str, Any]:
    return {
        "total": _number(rollup.total),
        "estimated": _number(rollup.estimated),
        "intervals": _number(rollup.intervals),
        "missing": _number(rollup.missing),
    }


def _day_item(day: RatedDay) -> dict[str, Any]:
    scale = Decimal(1).scaleb(-day.exponent)
    item: dict[str, Any] = {
        "zone": {"S": _zone_name(day.start)},
        "start": {"S": _utc_text(day.start)},
        "interval": _number(day.interval_minutes),
        "unit": {"S": day.unit},
        "exp": _number(day.exponent),
        "values": {"S": ",".join(map(str, day.values))},
        "q": {"S": day.qualities},
        "hours": {"S": ",".join(str(int(hour.total * scale)) for hour in day.hours())},
        **_rollup_attributes(day.total()),
    }
    runs = _runs(day.substitutions)
    if runs:
        item["subs"] = {"L": [{"S": run} for run in runs]}
    return item


def _runs(substitutions: Mapping[int, tuple[str, str]]) -> list[str]:
    """Consecutive intervals with the same method and reason as one ``<first>-<last>|<method>|<reason>``."""
    runs: list[list[Any]] = []
    for index in sorted(substitutions):
        if runs and runs[-1][1] == index - 1 and runs[-1][2] == substitutions[index]:
            runs[-1][1] = index
        else:
            runs.append([index, index, substitutions[index]])
    return [f"{first}-{last}|{method}|{reason}" for first, last, (method, reason) in runs]


def _day_of(meter_id: str, item: Mapping[str, Any]) -> RatedDay:
    substitutions: dict[int, tuple[str, str]] = {}
    for run in item.get("subs", {}).get("L", []):
        span, method, reason = run["S"].split("|", 2)
        first, last = map(int, span.split("-"))
        substitutions.update({i: (method, reason) for i in range(first, last + 1)})
    values = item["values"]["S"]
    return RatedDay(
        meter_id=meter_id,
        day=date.fromisoformat(item[READINGS_RANGE_KEY]["S"].removeprefix(DAY_PREFIX)),
        start=_local(item["start"]["S"], item["zone"]["S"]),
        interval_minutes=int(item["interval"]["N"]),
        unit=item["unit"]["S"],
        exponent=int(item["exp"]["N"]),
        values=tuple(map(int, values.split(","))) if values else (),
        qualities=item["q"]["S"],
        substitutions=substitutions,
    )


def _month_item(rollup: MonthRollup) -> dict[str, Any]:
    return {
        "zone": {"S": _zone_name(rollup.total.start)},
        "start": {"S": _utc_text(rollup.total.start)},
        "end": {"S": _utc_text(rollup.total.end)},
        "unit": {"S": rollup.unit},
        "days": _number(rollup.days),
        **_rollup_attributes(rollup.total),
        **({"digest": {"S": rollup.digest}} if rollup.digest else {}),
        **({"rated_with": {"S": rollup.rated_with}} if rollup.rated_with else {}),
    }


def _month_of(meter_id: str, year: int, month: int, item: Mapping[str, Any]) -> MonthRollup:
    zone = item["zone"]["S"]
    return MonthRollup(
        meter_id=meter_id,
        year=year,
        month=month,
        unit=item["unit"]["S"],
        days=int(item["days"]["N"]),
        total=Rollup(
            start=_local(item["start"]["S"], zone),
            end=_local(item["end"]["S"], zone),
            total=Decimal(item["total"]["N"]),
            estimated=Decimal(item["estimated"]["N"]),
            intervals=int(item["intervals"]["N"]),
            missing=int(item["missing"]["N"]),
        ),
        digest=item.get("digest", {}).get("S", ""),
        rated_with=item.get("rated_with", {}).get("S", ""),
    )


def _running_json(running: RunningCost) -> dict[str, Any]:
    return {
        "customer_id": running.customer_id,
        "period_start": running.period_start.isoformat(),
        "period_end": running.period_end.isoformat(),
        "as_of": running.as_of.isoformat(),
        "currency": running.currency,
        "usage": [{"unit": u.unit, "total": u.total, "estimated": u.estimated} for u in running.usage],
        "cost": running.cost,
        "projected": running.projected,
        "computed_at": running.computed_at.isoformat(),
    }


def _running_of(body: Mapping[str, Any]) -> RunningCost:
    return RunningCost(
        customer_id=body["customer_id"],
        period_start=date.fromisoformat(body["period_start"]),
        period_end=date.fromisoformat(body["period_end"]),
        as_of=date.fromisoformat(body["as_of"]),
        currency=body["currency"],
        usage=tuple(
            UsageSoFar(u["unit"], Decimal(u["total"]), Decimal(u["estimated"])) for u in body["usage"]
        ),
        cost=Decimal(body["cost"]),
        projected=Decimal(body["projected"]),
        computed_at=datetime.fromisoformat(body["computed_at"]),
    )
