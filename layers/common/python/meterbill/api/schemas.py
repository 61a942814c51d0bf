"""Request and response bodies of the API, as pydantic models (also what the OpenAPI document shows).

Request bodies forbid unknown fields, so nobody sets what they may not (``account_id``, an ETag, a
timestamp, a revocation): the account comes from the API key, the rest from the server. Their leaf types are
strict where JSON's types matter (``true`` is not 1, ``"15"`` is not 15, ``0`` is not a date). Numbers are
exact: the API parses JSON numbers as ``Decimal`` (never float), and a quantity may also be sent as a decimal
string. Dates are ``YYYY-MM-DD``; date-times ISO 8601 with a UTC offset.

The catalog's rules (references, units, time zones, shares) are the services' and the domain's: a body that
has the right shape here can still be refused there, with the field and the reason.

Responses write quantities and money as decimal strings (``"12.50"``), so no digit is lost on the way.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SkipValidation,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

from meterbill.billing_settings import BillingSettings
from meterbill.domain import (
    MAX_EMAILS,
    MAX_METER_CHANGES,
    Address,
    CountryCode,
    Email,
    Id,
    Label,
    Language,
    MeterKind,
    MeterLabels,
    Phone,
    Reference,
    Text,
    Utility,
    VatId,
)
from meterbill.metersettings import FLAT_LINE_AFTER_MINUTES, MAX_LIKE_DAY_WEEKS, MAX_MINUTES
from meterbill.ports import AccountLogo, Page, Scope
from meterbill.services.common import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENT_DEPTH,
    MAX_DOCUMENT_ITEMS,
    MAX_DOCUMENT_TEXT,
)
from meterbill.tariffs.model import Tariff

if TYPE_CHECKING:  # what the answers are made of: the services load with the routes that call them
    from meterbill.billing.bill import Bill
    from meterbill.services.apikeys import ApiKeyInfo
    from meterbill.services.billing_settings import SettingsEntry
    from meterbill.services.catalog import CatalogEntry
    from meterbill.services.ingest import IngestReport
    from meterbill.services.preview import PreviewBill
    from meterbill.services.usage import QualityCounts as UsageQualityCounts
    from meterbill.services.usage import UsageReport

from meterbill.api.schema_fields import (
    CALENDAR,
    MAX_READINGS,
    Attributes,
    AwareDateTime,
    DecimalText,
    IntervalMinutes,
    IsoDate,
    IsoDateTime,
    Quantity,
    ReadingValue,
    SettingAmount,
    SettingQuantity,
    Share,
    ShortStr,
    _json_object,
)


# defer_build: a model's validator and serializer are built by its first use, not at import - a cold start
# builds only those of the route it serves (~25 ms less of every cold start).
class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Stamps(_Response):
    etag: str = Field(description="the object's current ETag; send it as If-Match to change the object")
    created_at: datetime
    updated_at: datetime


# --- readings -----------------------------------------------------------------------------------------------


class ReadingItem(_Request):
    """One reading. Each is checked on its own: a bad one is reported in ``rejected``, the others stored."""

    meter_id: StrictStr
    timestamp: IsoDateTime = Field(description="with a UTC offset; an interval reading's start")
    value: ReadingValue = Field(description="exact: a JSON number or a decimal string")
    type: StrictStr = Field(json_schema_extra={"enum": ["register", "interval"]})
    interval_minutes: StrictInt | None = Field(
        default=None, description="interval readings: 1, 5, 15, 30 or 60"
    )
    quality: StrictStr = Field(default="A", json_schema_extra={"enum": ["A", "E", "S", "F", "N"]})


class ReadingBatch(_Request):
    # Items are checked one by one by the route (a bad item is rejected alone, not the batch), so here they
    # pass unvalidated; the schema still shows ReadingItem.
    readings: Annotated[
        list[SkipValidation[ReadingItem]],
        Field(
            min_length=1,
            max_length=MAX_READINGS,
            description=f"1 to {MAX_READINGS:,} readings; the body may hold at most 1 MB, which "
            f"{MAX_READINGS:,} of the largest readings fit (a 64-character meter id, a timestamp to the "
            "microsecond, a 24-digit value as a string: ~230 bytes each); typical readings take ~150 bytes",
        ),
    ]


class RejectedReading(_Response):
    index: int = Field(description="position in the request's readings (an import: in the file)")
    meter_id: str
    field: str
    reason: str


class IngestAnswer(_Response):
    accepted: int = Field(description="readings stored now (new, or replacing an earlier version)")
    duplicates: int = Field(description="readings stored before (an identical resend)")
    rejected: list[RejectedReading]
    rejected_count: int = Field(description="all rejected readings (an import lists the first 1,000)")
    replaced: int = Field(
        default=0,
        description="of the accepted readings, those that replaced an earlier version of their interval (a "
        "correction of the same or a better quality); the earlier version is kept as history",
    )

    @classmethod
    def of(cls, report: IngestReport) -> IngestAnswer:
        return cls(
            accepted=report.accepted,
            duplicates=report.duplicates,
            rejected=[
                RejectedReading(index=r.index, meter_id=r.meter_id, field=r.field, reason=r.reason)
                for r in report.rejected
            ],
            rejected_count=report.rejected_count,
            replaced=report.replaced,
        )


# --- catalog ------------------------------------------------------------------------------------------------


class CustomerInput(_Request):
    id: Id | None = Field(default=None, description="chosen by you, or generated (cus_...)")
    name: Text
    emails: list[Email] = Field(default_factory=list, max_length=MAX_EMAILS)
    phone: Phone | None = None
    address: Address | None = None
    bill_title: Text | None = None
    logo_ref: Reference | None = None
    attributes: Attributes = Field(default_factory=dict)
    bill_day: Annotated[StrictInt, Field(ge=1, le=28)] | None = Field(
        default=None, description="the customer's own bill day; none: the account's (/v1/settings/billing)"
    )
    language: Language = Field(default="en", description="the language of the customer's invoices and emails")
    vat_id: VatId | None = Field(default=None, description="the buyer's VAT id on invoices (EN 16931 BT-48)")
    buyer_reference: Label | None = Field(
        default=None, description="a purchase reference or Leitweg-ID the buyer asks for (EN 16931 BT-10)"
    )


class CustomerRecord(CustomerInput, Stamps):
    id: Id


class SiteInput(_Request):
    id: Id | None = Field(default=None, description="chosen by you, or generated (site_...)")
    name: Text
    timezone: ShortStr = Field(description="IANA time zone, e.g. Europe/Berlin", examples=["Europe/Berlin"])
    holiday_country: CountryCode | None = None
    holiday_subdivision: ShortStr | None = None
    address: Address | None = None
    attributes: Attributes = Field(
        default_factory=dict, description="what tariff formulas read as site.<name>, e.g. site.floor_area"
    )


class SiteRecord(SiteInput, Stamps):
    id: Id


class MultiplierChangeInput(_Request):
    """A CT ratio taking effect at a read: register differences from ``effective_from`` on are multiplied
    by it."""

    effective_from: AwareDateTime
    multiplier: SettingQuantity


class ExchangeInput(_Request):
    """A device exchange (a PDU or meter swapped): the old device's final register read and the new one's
    initial read at ``timestamp``; usage across it is the old device's last step plus the new one's first."""

    timestamp: AwareDateTime
    old_serial: Label | None = Field(default=None, description="default: the meter's serial")
    old_final: SettingAmount
    new_serial: Label | None = Field(default=None, description="becomes the meter's serial")
    new_initial: SettingAmount
    note: Text | None = None


class LimitsInput(_Request):
    """The limits the meter's readings are judged by; absent: validation's defaults. ``null`` turns off
    max_power, spike_factor and flat_line_after_minutes."""

    register_resolution: SettingQuantity | None = Field(
        default=None, description="one step of the register; default: register_max's last decimal place"
    )
    rollover_margin: SettingQuantity | None = Field(
        default=None, description="the top and bottom share of the register a wrap goes between (default 0.1)"
    )
    short_gap_minutes: Annotated[StrictInt, Field(ge=0, le=MAX_MINUTES)] | None = Field(
        default=None, description="gaps up to this long are interpolated (default 120)"
    )
    like_day_weeks: Annotated[StrictInt, Field(ge=0, le=MAX_LIKE_DAY_WEEKS)] | None = Field(
        default=None, description="weeks back to look for like days (default 4)"
    )
    max_power: SettingQuantity | None = Field(default=None, description="largest plausible demand")
    spike_factor: SettingQuantity | None = Field(
        default=None, description="a value this many times its neighbours' is a spike"
    )
    spike_floor: SettingAmount | None = None
    flat_line_after_minutes: Annotated[StrictInt, Field(gt=0, le=MAX_MINUTES)] | None = (
        FLAT_LINE_AFTER_MINUTES
    )
    sum_tolerance: SettingAmount | None = None


class MeterInput(_Request):
    id: Id | None = Field(default=None, description="chosen by you, or generated (mtr_...)")
    site_id: Id
    external_id: Text | None = Field(default=None, description="the meter's id in import files")
    utility: Utility
    unit: ShortStr = Field(examples=["kWh"])
    kind: MeterKind
    parent_id: Id | None = None
    multiplier: Quantity = Decimal(1)
    register_max: Quantity | None = None
    interval_minutes: IntervalMinutes = 15
    labels: Annotated[MeterLabels, BeforeValidator(_json_object)] = Field(default_factory=MeterLabels)
    serial: Label | None = None
    attributes: Attributes = Field(
        default_factory=dict, description="what tariff formulas read as meter.<name>, e.g. meter.phase_count"
    )
    multipliers: list[MultiplierChangeInput] = Field(
        default_factory=list,
        max_length=MAX_METER_CHANGES,
        description="CT ratio changes, in time order (multiplier: the ratio before the first)",
    )
    exchanges: list[ExchangeInput] = Field(
        default_factory=list,
        max_length=MAX_METER_CHANGES,
        description="device exchanges, in time order; POST /v1/meters/{meter_id}/exchanges appends one",
    )
    limits: Annotated[LimitsInput, BeforeValidator(_json_object)] = Field(default_factory=LimitsInput)


class MeterRecord(MeterInput, Stamps):
    id: Id
    multiplier: DecimalText
    register_max: DecimalText | None = None


class AssignmentInput(_Request):
    id: Id | None = Field(default=None, description="chosen by you, or generated (asg_...)")
    meter_id: Id
    customer_id: Id
    tariff_id: Id
    share: Share = Decimal(1)
    effective_from: IsoDate
    effective_to: IsoDate | None = Field(default=None, description="exclusive; none: open-ended")
    basis: Literal["meter", "residual"] = Field(
        default="meter",
        description="meter: the meter's usage times share; residual (a main meter with sub-meters): "
        "the main meter minus its sub-meters, split among the customers sharing it",
    )
    allocation: Literal["share", "area", "usage"] = Field(
        default="share",
        description="how a residual is split: by share, by customer.attributes.floor_area, or by the "
        "customers' own sub-metered usage in the period",
    )


class AssignmentRecord(AssignmentInput, Stamps):
    id: Id
    share: DecimalText


CatalogInput = CustomerInput | SiteInput | MeterInput | AssignmentInput


def fields_of(body: CatalogInput) -> dict[str, Any]:
    """What the client sent, for the catalog service (which applies the defaults and the rules)."""
    return body.model_dump(exclude_unset=True)


def record_fields(entry: CatalogEntry[Any]) -> dict[str, Any]:
    """A catalog entry's fields without the account (the caller's own), with its ETag and times."""
    return {
        **entry.value.model_dump(exclude={"account_id"}),
        "etag": entry.etag,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
    }


class _Page(_Response):
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class CustomerPage(_Page):
    items: list[CustomerRecord]


class SitePage(_Page):
    items: list[SiteRecord]


class MeterPage(_Page):
    items: list[MeterRecord]


class AssignmentPage(_Page):
    items: list[AssignmentRecord]


# --- tariffs ------------------------------------------------------------------------------------------------

TariffDocument = Annotated[
    dict[str, Any],
    Body(),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_DOCUMENT_ITEMS,
            "description": "a native tariff document (docs/tariffs.md; its version is numbered by meterbill) "
            "or a URDB rate object (its label becomes the id). At most "
            f"{MAX_DOCUMENT_BYTES:,} bytes as JSON, texts of at most {MAX_DOCUMENT_TEXT:,} characters, lists "
            f"and objects of at most {MAX_DOCUMENT_ITEMS:,} items, {MAX_DOCUMENT_DEPTH} levels deep; dates "
            f"{CALENDAR}",
        }
    ),
]


class TariffRecord(Tariff):
    """A tariff version as stored."""

    etag: str = Field(description="the ETag of this version; the latest one's is If-Match for a new version")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, entry: CatalogEntry[Tariff]) -> TariffRecord:
        return cls.model_validate(
            {
                **entry.value.model_dump(),
                "etag": entry.etag,
                "created_at": entry.created_at,
                "updated_at": entry.updated_at,
            }
        )


class TariffPage(_Page):
    items: list[TariffRecord] = Field(description="each tariff's latest version")


class TariffVersions(_Response):
    items: list[TariffRecord] = Field(description="every version, oldest first")


# --- settings -----------------------------------------------------------------------------------------------


class BillingSettingsInput(BillingSettings):
    """The account's billing settings, replaced as a whole: a field left out takes its default."""

    model_config = ConfigDict(defer_build=True)


class BillingSettingsRecord(BillingSettings):
    """The account's billing settings: the defaults until they are first written."""

    model_config = ConfigDict(defer_build=True)

    etag: str = Field(description="the settings' current ETag; send it as If-Match to change them")
    updated_at: datetime | None = Field(description="when they were last written; none: never (the defaults)")

    @classmethod
    def of(cls, entry: SettingsEntry) -> BillingSettingsRecord:
        return cls.model_validate(
            {**entry.value.model_dump(), "etag": entry.etag, "updated_at": entry.updated_at}
        )


class LogoRecord(BaseModel):
    """The account's logo as stored (GET /v1/settings/logo answers the image itself)."""

    model_config = ConfigDict(defer_build=True)

    image_type: Literal["image/png", "image/jpeg"]
    bytes: int = Field(description="the file's size")
    width: int = Field(description="pixels")
    height: int = Field(description="pixels")
    sha256: str = Field(description="of the file, hex; also its ETag")
    updated_at: datetime

    @classmethod
    def of(cls, logo: AccountLogo) -> LogoRecord:
        return cls.model_validate(
            {
                "image_type": logo.image_type,
                "bytes": len(logo.data),
                "width": logo.width,
                "height": logo.height,
                "sha256": logo.sha256,
                "updated_at": logo.updated_at,
            }
        )


# --- API keys -----------------------------------------------------------------------------------------------


class ApiKeyInput(_Request):
    name: StrictStr = Field(max_length=100, examples=["collector in building 7"])
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=3,
        description="admin: everything; ingest: readings and imports only; read: GET only",
    )


class ApiKey(_Response):
    key_id: str
    name: str
    scopes: list[Scope]
    state: Literal["active", "revoked"] = Field(
        description="revoked: refused from revoked_at on, and for good; the key stays listed for the record"
    )
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, info: ApiKeyInfo) -> ApiKey:
        return cls(
            key_id=info.key_id,
            name=info.name,
            scopes=sorted(info.scopes),
            state="revoked" if info.revoked else "active",
            created_at=info.created_at,
            revoked_at=info.revoked_at,
        )


class CreatedApiKey(ApiKey):
    key: str = Field(description="the key itself: shown in this answer only, never again")


class ApiKeyPage(_Page):
    items: list[ApiKey]

    @classmethod
    def of(cls, page: Page[ApiKeyInfo]) -> ApiKeyPage:
        return cls(items=[ApiKey.of(info) for info in page.items], next_cursor=page.cursor)


# --- usage and bill preview ---------------------------------------------------------------------------------


class QualityCounts(_Response):
    actual: int
    estimated: int
    substituted: int
    final_substitute: int
    missing: int


class UsageBucket(_Response):
    start: datetime
    end: datetime
    total: DecimalText
    qualities: QualityCounts


class DataQualityEvent(_Response):
    at: datetime
    kind: str
    detail: str


class MeterUsage(_Response):
    meter_id: str
    unit: str
    timezone: str
    resolution: Literal["interval", "hour", "day", "month"]
    interval_minutes: int
    start: datetime
    end: datetime
    total: DecimalText
    estimated: DecimalText = Field(description="the part of the total that is not actual")
    qualities: QualityCounts
    buckets: list[UsageBucket]
    events: list[DataQualityEvent]

    @classmethod
    def of(cls, report: UsageReport) -> MeterUsage:
        return cls.model_validate(
            {
                "meter_id": report.meter_id,
                "unit": report.unit,
                "timezone": report.timezone,
                "resolution": report.resolution,
                "interval_minutes": report.interval_minutes,
                "start": report.start,
                "end": report.end,
                "total": report.total,
                "estimated": report.estimated,
                "qualities": _counts(report.qualities),
                "buckets": [
                    {"start": b.start, "end": b.end, "total": b.total, "qualities": _counts(b.qualities)}
                    for b in report.buckets
                ],
                "events": [{"at": e.at, "kind": e.kind, "detail": e.detail} for e in report.events],
            }
        )


def _counts(counts: UsageQualityCounts) -> dict[str, int]:
    return {
        "actual": counts.actual,
        "estimated": counts.estimated,
        "substituted": counts.substituted,
        "final_substitute": counts.final_substitute,
        "missing": counts.missing,
    }


class TariffVersionRef(_Response):
    id: str
    version: int


class BillLine(_Response):
    component: str
    description: str
    quantity: DecimalText
    unit: str
    rate: DecimalText | None
    amount: DecimalText
    period: str | None
    tier: int | None
    season: str | None


class BillUsage(_Response):
    total: DecimalText
    estimated: DecimalText
    unit: str
    peak_demand: DecimalText | None
    missing_intervals: int = Field(description="intervals of the period with no data at all, billed as zero")


class BillDocument(_Response):
    tariff: TariffVersionRef
    start: datetime
    end: datetime
    currency: str
    subtotal: DecimalText
    taxes: DecimalText
    total: DecimalText
    lines: list[BillLine]
    memos: list[BillLine]
    usage: BillUsage
    variables: dict[str, StrictBool | StrictStr] = Field(
        description="the variables the tariff's formulas read for this bill and the tariff's own variables, "
        "by qualified name (customer.senior_citizen, site.floor_area, meter.phase_count; the calendar's and "
        "the tariff's by their bare name); numbers as decimal text",
        examples=[{"customer.senior_citizen": True, "site.floor_area": "120", "days": "31"}],
    )

    @classmethod
    def of(cls, bill: Bill) -> BillDocument:
        return cls.model_validate(bill.to_json())


class PreviewedBill(_Response):
    assignment_id: str
    meter_id: str
    share: DecimalText
    bill: BillDocument


class BillPreview(_Response):
    customer_id: str
    start: date = Field(description="the first day (from)")
    end: date = Field(description="the day after the last (to)")
    bills: list[PreviewedBill] = Field(description="by assignment, then by calendar month and tariff version")

    @classmethod
    def of(cls, customer_id: str, start: date, end: date, bills: list[PreviewBill]) -> BillPreview:
        return cls(
            customer_id=customer_id,
            start=start,
            end=end,
            bills=[
                PreviewedBill(
                    assignment_id=b.assignment_id,
                    meter_id=b.meter_id,
                    share=b.share,
                    bill=BillDocument.of(b.bill),
                )
                for b in bills
            ],
        )


# --- problems -----------------------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    field: str = Field(description="a path into the body (readings[3].value), a query parameter or a header")
    reason: str


class ProblemDocument(BaseModel):
    """RFC 9457 problem details (application/problem+json); more members may follow (an ingest report)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = Field(default_factory=list)
