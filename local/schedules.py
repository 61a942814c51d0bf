"""The schedules EventBridge Scheduler runs in AWS, fired by hand as of any moment (a test clock):
``meterbill schedules run rate --at 2026-02-01T00:30+01:00``, or on the wall clock by ``meterbill serve``.

``fire`` builds the event the schedule's target receives (``{"time": ...}``, the scheduled time in UTC) and
invokes the deployed handler with it, in this process, against the tables the environment names (a local
platform's, or AWS with ``--aws``). Without RATE_QUEUE_URL a pass rates every meter itself.

The bill run (``fire("invoice", at)``) is the deployed ``invoice_schedule_handler``: it sends one message
per (customer, period) to INVOICE_QUEUE_URL, which the local platform creates on moto's SQS.
``drain_invoice_queue`` then does what the SQS event source mapping does for the worker function: it
receives the messages in batches of up to 10, hands each batch to the deployed ``invoice_worker_handler`` as
an SQS event, and deletes the messages it did not report as batch item failures (those become visible again
after the visibility timeout, as in AWS). ``LocalScheduler`` fires both on the wall clock while ``meterbill
serve`` runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

SCHEDULES: Final = ("rate", "invoice", "alerts")
ALERTS_EVERY: Final = timedelta(minutes=5)  # the alerts schedule: rate(5 minutes)
RATE_EVERY: Final = timedelta(minutes=15)  # the rating schedule: rate(15 minutes)
INVOICE_EVERY: Final = timedelta(hours=1)  # the bill run: hourly
RECEIVE_BATCH: Final = 10  # the worker's event source mapping: batches of up to 10 messages
VISIBILITY_SECONDS: Final = 60

logger = logging.getLogger(__name__)


class _Context:
    """The attributes powertools reads from the Lambda context."""

    function_name = "meterbill-schedule-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:meterbill-schedule-local"
    aws_request_id = "local"
    log_group_name = "/aws/lambda/meterbill-schedule-local"
    log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def scheduler_event(at: datetime) -> dict[str, Any]:
    """What the schedule's target input template ``{"time": "<aws.scheduler.scheduled-time>"}`` sends."""
    return {"time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def fire(schedule: str, at: datetime) -> dict[str, Any]:
    """Runs the schedule's handler once as of ``at`` (aware) and returns its answer. The bill run only sends
    its work to the invoice queue: ``drain_invoice_queue`` runs the worker on it."""
    if schedule == "rate":
        from functions.rate import rate_handler

        rate_handler.backend.cache_clear()  # the environment may have changed since the last call
        answer: dict[str, Any] = rate_handler.lambda_handler(scheduler_event(at), _Context())  # type: ignore[arg-type]
        return answer
    if schedule == "invoice":
        from functions.invoice import invoice_schedule_handler
        from meterbill import invoice_wiring

        invoice_wiring.reset()  # the environment may have changed since the last call
        event = {"scheduled_time": scheduler_event(at)["time"]}
        sent: dict[str, Any] = invoice_schedule_handler.lambda_handler(event, _Context())  # type: ignore[arg-type]
        return sent
    if schedule == "alerts":
        from local.alerts import fire_alerts

        return fire_alerts(at)
    raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")


def _sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode("utf-8")).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def drain_invoice_queue() -> tuple[int, int]:
    """The worker on every message of INVOICE_QUEUE_URL that is visible now, as the event source mapping
    would feed it; returns (messages done, batch item failures)."""
    from functions.invoice import invoice_worker_handler
    from meterbill import invoice_wiring

    invoice_wiring.reset()
    return drain_queue(os.environ["INVOICE_QUEUE_URL"], invoice_worker_handler.lambda_handler)


def drain_queue(queue_url: str, handler: Any, *, attributes: bool = False) -> tuple[int, int]:
    """``handler`` on every message of ``queue_url`` visible now, in batches as an SQS event source mapping
    feeds a function, deleting what it did not report as a batch item failure; returns (messages done,
    batch item failures: visible again after the visibility timeout, as in AWS)."""
    import boto3  # type: ignore[import-untyped]

    region = os.environ.get("AWS_REGION", "eu-central-1")
    sqs = boto3.client("sqs", region_name=region, endpoint_url=os.environ.get("SQS_ENDPOINT_URL") or None)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    done = failed = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=RECEIVE_BATCH,
            VisibilityTimeout=VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
            **({"AttributeNames": ["All"]} if attributes else {}),
        ).get("Messages", [])
        if not messages:
            return done, failed
        event = {"Records": [_sqs_record(m, queue_arn, region) for m in messages]}
        answer = handler(event, _Context())
        failures = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        succeeded = [m for m in messages if m["MessageId"] not in failures]
        if succeeded:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(succeeded)
                ],
            )
        done, failed = done + len(succeeded), failed + len(failures)


def next_boundary(now: datetime, every: timedelta) -> datetime:
    """The first multiple of ``every`` since midnight UTC strictly after ``now``: when a cron schedule
    (``cron(0/15 * * * ? *)``, ``cron(0 * * * ? *)``) fires next."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = now - midnight
    return midnight + (elapsed // every + 1) * every


class LocalScheduler:
    """The schedules on the wall clock, in a thread: the alerts pass every 5 minutes, the rating pass every
    15, the bill run (and its worker on the queue) every hour, each as of the moment it was due. ``stop()``
    ends it between passes (a pass under way is finished first)."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_pass: Callable[[str], None] | None = None,
    ) -> None:
        self._clock = clock
        self._on_pass = on_pass
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meterbill-schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def run_due(self, at: datetime) -> None:
        """The passes due at ``at``: the rating pass on the quarter hour, the bill run and its worker on the
        hour, then the alerts pass (every 5 minutes)."""
        if at == next_boundary(at - timedelta(microseconds=1), RATE_EVERY):
            self._pass("rate", at, lambda: fire("rate", at))
        if at == next_boundary(at - timedelta(microseconds=1), INVOICE_EVERY):

            def bill_run() -> Any:
                sent = fire("invoice", at)
                return {**sent, "worker": drain_invoice_queue()}

            self._pass("invoice", at, bill_run)
        self._pass("alerts", at, lambda: fire("alerts", at))

    def _pass(self, schedule: str, at: datetime, run: Callable[[], Any]) -> None:
        try:
            answer = run()
        except Exception:  # in AWS: the schedule's retry policy, then its DLQ; the server keeps going
            logger.exception("schedule %s at %s failed", schedule, at.isoformat())
            return
        if self._on_pass is not None:
            self._on_pass(f"schedule {schedule} at {at.isoformat()}: {answer}")

    def _run(self) -> None:
        due = next_boundary(self._clock(), ALERTS_EVERY)
        while not self._stop.wait(timeout=max(0.0, (due - self._clock()).total_seconds())):
            self.run_due(due)
            due = next_boundary(max(due, self._clock()), ALERTS_EVERY)
