"""The schedules EventBridge Scheduler runs in AWS, fired by hand as of any moment (a test clock):
``meterbill schedules run rate --at 2026-02-01T00:30+01:00``.

``fire`` builds the event the schedule's target receives (``{"time": ...}``, the scheduled time in UTC) and
invokes the deployed handler with it, in this process, against the tables the environment names (a local
platform's, or AWS with ``--aws``). Without RATE_QUEUE_URL a pass rates every meter itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

SCHEDULES: Final = ("rate",)


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
    """Runs the schedule's handler once as of ``at`` (aware) and returns its answer."""
    if schedule != "rate":
        raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    from functions.rate import rate_handler

    rate_handler.backend.cache_clear()  # the environment may have changed since the last call
    answer: dict[str, Any] = rate_handler.lambda_handler(scheduler_event(at), _Context())  # type: ignore[arg-type]
    return answer
