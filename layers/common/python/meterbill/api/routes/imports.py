"""``POST /v1/imports``: a meter-data file (NEM12, Green Button, CSV) as the request body."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.gate import FILE_MEDIA_TYPES
from meterbill.api.idempotency import Answer, once
from meterbill.api.routes.common import IdempotencyKey, new_router
from meterbill.api.routes.readings import announce_new_readings, ingest_response
from meterbill.api.schemas import IngestAnswer

router = new_router()

FileFormat = Annotated[
    Literal["nem12", "greenbutton", "csv"],
    Query(alias="format", description="nem12 (AEMO MDFF), greenbutton (ESPI Atom XML) or csv (start,value)"),
]
MeterId = Annotated[
    str | None,
    Query(
        max_length=64,
        description="csv: the meter the file is for (required); greenbutton: the meter of a one-series feed",
    ),
]
_FILE_BODY = {
    "required": True,
    "description": "the file itself, at most 5 MB; the file's meter ids are the meters' external_id",
    "content": {media_type: {"schema": {"type": "string"}} for media_type in FILE_MEDIA_TYPES},
}


@router.post(
    "/v1/imports",
    summary="Import a meter-data file",
    description="The file is read whole first: a file that cannot be read stores nothing (422 naming the "
    "line). Then each reading is checked as in POST /v1/readings, with the same report.",
    tags=["readings"],
    openapi_extensions={"requestBody": _FILE_BODY},
)
def post_import(
    caller: AuthorizedCaller,
    request: Request,
    file_format: FileFormat,
    meter_id: MeterId = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[IngestAnswer]:
    from meterbill.services.ingest import import_file  # and the file readers: only imports load them

    data = file_bytes(request)

    def run() -> Answer:
        report = import_file(
            caller.account,
            file_format,
            data,
            caller.stores.catalog,
            caller.stores.readings,
            caller.now(),
            meter_id=meter_id,
            future_tolerance=timedelta(seconds=caller.settings.future_tolerance_seconds),
        )
        announce_new_readings(caller, report)
        status = 422 if report.all_rejected else 200
        return Answer(status, IngestAnswer.of(report).model_dump(mode="json"))

    if idempotency_key is None:
        return ingest_response(run(), "file")
    answer = once(
        caller.backend.idempotency(),
        operation="POST /v1/imports",
        account=caller.account,
        key=idempotency_key,
        body={"format": file_format, "meter_id": meter_id, "sha256": hashlib.sha256(data).hexdigest()},
        run=run,
        lambda_context=caller.lambda_context,
    )
    return ingest_response(answer, "file")


def file_bytes(request: Request) -> bytes:
    """The body as sent: API Gateway passes binary media types (and anything not UTF-8) as base64."""
    event = request.resolved_event
    body = event.body or ""
    if event.is_base64_encoded:
        return base64.b64decode(body, validate=True)  # binascii.Error → 400
    return body.encode("utf-8")
