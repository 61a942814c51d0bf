"""A meter's device exchanges: ``POST /v1/meters/{meter_id}/exchanges`` records one, as a DCMS operator does
when a PDU is swapped, so that validation never takes a difference across the two devices.

The exchange is appended to the catalog meter's ``exchanges`` (``services.catalog.record_exchange``); the
answer is the meter as it is now. With If-Match it applies only to that version (412 otherwise); without, it
is appended to whatever the meter is now.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.routes.common import IfMatch, created, expected_etag, new_router
from meterbill.api.schemas import ExchangeInput, MeterRecord, record_fields
from meterbill.services import catalog

router = new_router()


@router.post(
    "/v1/meters/<meter_id>/exchanges",
    status_code=201,
    summary="Record a device exchange of a meter",
    description="The old device's final read and the new one's initial read at one instant, after the "
    "meter's last exchange. Answers the meter with the exchange appended.",
    tags=["meters"],
)
def record_exchange(
    meter_id: str, body: ExchangeInput, caller: AuthorizedCaller, if_match: IfMatch = None
) -> Response[MeterRecord]:
    entry = catalog.record_exchange(
        caller.account,
        meter_id,
        body.model_dump(exclude_unset=True),
        caller.stores.catalog,
        caller.stores.readings,
        if_match=expected_etag(if_match),
    )
    record = MeterRecord.model_validate(record_fields(entry))
    return created(record, entry.etag, f"/v1/meters/{record.id}")
