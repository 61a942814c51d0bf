"""Reading the data back: a meter's validated usage, what a customer's bill comes to for any period, and what
the account's nodes saved switched off."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.report_schemas import SavingsReportDocument
from meterbill.api.routes.common import new_router
from meterbill.api.schema_fields import IsoDate, Moment
from meterbill.api.schemas import BillPreview, MeterUsage

router = new_router()

Resolution = Annotated[
    Literal["interval", "hour", "day", "month"],
    Query(description="bucket size on the site's clock: the meter's interval, or a local hour, day or month"),
]


@router.get(
    "/v1/meters/<meter_id>/usage",
    summary="A meter's validated usage, with quality counts",
    description="Usage over [from, to) in buckets of the site's local calendar. Gaps are estimated (and "
    "counted as such); the span must be whole intervals and at most 366 days.",
    tags=["meters"],
)
def get_meter_usage(
    meter_id: str,
    caller: AuthorizedCaller,
    start: Annotated[Moment, Query(alias="from", description="the first instant (inclusive)")],
    end: Annotated[Moment, Query(alias="to", description="the end (exclusive)")],
    resolution: Resolution = "day",
) -> MeterUsage:
    from meterbill.services.usage import meter_usage  # validation (VEE): loaded by the first usage request

    report = meter_usage(
        caller.account, meter_id, start, end, resolution, caller.stores.catalog, caller.stores.readings
    )
    return MeterUsage.of(report)


@router.get(
    "/v1/customers/<customer_id>/bill-preview",
    summary="What a customer's bills come to for a period, now",
    description="Each of the customer's assignments is rated as the monthly bill will rate it, with the "
    'usage known now; nothing is stored. For a move-out settlement or "what will this month cost".',
    tags=["customers"],
)
def get_bill_preview(
    customer_id: str,
    caller: AuthorizedCaller,
    start: Annotated[IsoDate, Query(alias="from", description="the first day")],
    end: Annotated[IsoDate, Query(alias="to", description="the day after the last")],
) -> BillPreview:
    from meterbill.services.preview import bill_preview  # the tariff engine: loaded by the first preview

    bills = bill_preview(
        caller.account, customer_id, start, end, caller.stores.catalog, caller.stores.readings
    )
    return BillPreview.of(customer_id, start, end, bills)


@router.get(
    "/v1/reports/savings",
    summary="What the account's nodes saved switched off",
    description="Per node (a meter of utility on_time) over [from, to) on its site's local calendar: hours "
    "on and off, power rating, price and savings (off hours x W x price / 1000, rounded per row), per "
    "installation (site) and in total, per currency. The rating and the price are those of the savings "
    "component of the node's tariff. At most 366 days.",
    tags=["reports"],
)
def get_savings_report(
    caller: AuthorizedCaller,
    start: Annotated[IsoDate, Query(alias="from", description="the first day")],
    end: Annotated[IsoDate, Query(alias="to", description="the day after the last")],
) -> SavingsReportDocument:
    from meterbill.services.savings import savings_figures  # validation (VEE): loaded by the first report

    report = savings_figures(caller.account, start, end, caller.stores.catalog, caller.stores.readings)
    return SavingsReportDocument.of(start, end, report)
