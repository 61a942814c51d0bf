"""``POST /v1/readings``: a collector's batch; each reading is checked on its own."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from meterbill.api import problems
from meterbill.api.dependencies import AuthorizedCaller, Caller
from meterbill.api.idempotency import Answer, once
from meterbill.api.routes.common import JSON, METRICS_NAMESPACE, IdempotencyKey, new_router
from meterbill.api.schemas import IngestAnswer, ReadingBatch, ReadingItem
from meterbill.errors import InvalidInputError

if TYPE_CHECKING:  # the ingest service loads the file readers too: the first batch or import loads it
    from meterbill.services.ingest import IngestReport, Rejection

router = new_router()
metrics = Metrics(namespace=METRICS_NAMESPACE)  # one metric set per process: the handler publishes it
logger = Logger(child=True)  # the handler's Logger (POWERTOOLS_SERVICE_NAME) writes it

WHOLE_ITEM = "reading"  # how a rejection names an item that is not an object at all
COUNT_METRICS = (
    ("accepted", "ReadingsAccepted"),
    ("duplicates", "ReadingsDuplicate"),
    ("replaced", "ReadingsReplaced"),
    ("rejected_count", "ReadingsRejected"),
)


@router.post(
    "/v1/readings",
    summary="Send a batch of readings",
    description="Up to 4,000 readings in a body of at most 1 MB (any 4,000 valid readings fit). Valid "
    "readings are stored even when others are not; `rejected` names each other one's field and reason. Not "
    "one stored → 422 with the same report. A reading sent before is counted in `duplicates` and stored "
    "once; a later version of an interval with the same or better quality replaces the stored one (counted "
    "in `accepted` and `replaced`; the replaced version is kept for audit), a worse quality is rejected. "
    "Interval readings must start on their meter's grid (a whole number of intervals after midnight on the "
    "site's clock); timestamps from 2000-01-01 to 5 minutes ahead of the server's clock.",
    tags=["readings"],
)
def post_readings(
    batch: ReadingBatch, caller: AuthorizedCaller, request: Request, idempotency_key: IdempotencyKey = None
) -> Response[IngestAnswer]:
    limit = caller.settings.max_readings_per_request
    if len(batch.readings) > limit:
        raise InvalidInputError(
            "readings", f"{len(batch.readings)} readings; send at most {limit} per request"
        )

    def run() -> Answer:
        report = store_batch(batch, caller)
        announce_new_readings(caller, report)
        status = 422 if report.all_rejected else 200
        return Answer(status, IngestAnswer.of(report).model_dump(mode="json"))

    if idempotency_key is None:
        return ingest_response(run(), "readings")
    answer = once(
        caller.backend.idempotency(),
        operation="POST /v1/readings",
        account=caller.account,
        key=idempotency_key,
        body=request.resolved_event.json_body,
        run=run,
        lambda_context=caller.lambda_context,
    )
    return ingest_response(answer, "readings")


def ingest_response(answer: Answer, where: str) -> Response[IngestAnswer]:
    """200 with the report, or 422 (a problem document with the report's members) when nothing was stored."""
    if not answer.replayed:
        for member, metric in COUNT_METRICS:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=answer.body.get(member, 0))
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    if answer.status != 200:
        raise problems.AllReadingsRejectedError(answer.body, where, headers)
    return Response(200, content_type=JSON, body=IngestAnswer.model_validate(answer.body), headers=headers)


def store_batch(batch: ReadingBatch, caller: Caller) -> IngestReport:
    """Items that are not even readings (not an object, a field of the wrong JSON type, an unknown field) are
    rejected here; the ingest service checks and stores the rest, and the report lists both by position."""
    from meterbill.services.ingest import IngestReport, ReadingIn, Rejection, store_readings

    items: list[ReadingIn] = []
    positions: list[int] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(cast(list[object], batch.readings)):  # unvalidated: see ReadingBatch
        try:
            item = ReadingItem.model_validate(raw)
        except ValidationError as err:
            rejected.append(_rejection(index, raw, err))
            continue
        items.append(
            ReadingIn(
                meter_id=item.meter_id,
                timestamp=item.timestamp,
                value=item.value,
                type=item.type,
                interval_minutes=item.interval_minutes,
                quality=item.quality,
            )
        )
        positions.append(index)
    report = store_readings(
        caller.account,
        items,
        caller.stores.catalog,
        caller.stores.readings,
        caller.now(),
        future_tolerance=timedelta(seconds=caller.settings.future_tolerance_seconds),
    )
    checked = [Rejection(positions[r.index], r.meter_id, r.field, r.reason) for r in report.rejected]
    return IngestReport(
        accepted=report.accepted,
        duplicates=report.duplicates,
        rejected=sorted([*rejected, *checked], key=lambda r: r.index),
        rejected_count=report.rejected_count + len(rejected),
        replaced=report.replaced,
        new_readings=report.new_readings,
    )


def announce_new_readings(caller: Caller, report: IngestReport) -> None:
    """Tells the alerts' readings worker, in one message, which meters got readings now (when the deployment
    has its queue, ALERTS_QUEUE_URL). A failed send is logged and the request goes on: the alerts' schedule
    judges every meter anyway, only later. A replayed request (Idempotency-Key) stores nothing and sends
    nothing."""
    new = report.new_readings
    if new is None:
        return
    try:
        queue = caller.alert_queue()
        if queue is None:
            return
        from meterbill.alerts.ports import ReadingsArrived

        queue.send([ReadingsArrived(caller.account, new.meter_ids, new.earliest, new.latest)])
    except Exception:
        logger.exception(
            "could not queue ReadingsArrived; the alerts' schedule will judge these meters",
            extra={"account": caller.account, "meters": len(new.meter_ids)},
        )


def _rejection(index: int, raw: object, err: ValidationError) -> Rejection:
    from meterbill.services.ingest import Rejection

    if not isinstance(raw, dict):
        return Rejection(index, "", WHOLE_ITEM, f"expected a JSON object, got {_json_type(raw)}")
    meter_id = raw.get("meter_id")
    first = problems.field_error(err.errors(include_url=False)[0])
    return Rejection(
        index, meter_id if isinstance(meter_id, str) else "", first.field or WHOLE_ITEM, first.reason
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "a number"
