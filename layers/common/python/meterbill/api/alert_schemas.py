"""Request and response bodies of the alert routes (``api.routes.alerts``): alerts, the rules document,
silences, email subscriptions and collector heartbeats. Conventions as in ``api.schemas``: request bodies
forbid unknown fields and are strict; date-times carry a UTC offset."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

from meterbill.alerts.communication import MAX_WARNING_LENGTH, MAX_WARNINGS
from meterbill.alerts.lifecycle import AlertState, HistoryEvent
from meterbill.alerts.model import ALERT_KINDS, AlertKind, Severity, SubjectKind
from meterbill.alerts.ports import SubscriptionStatus
from meterbill.alerts.silences import MatcherName
from meterbill.api.schema_fields import AwareDateTime, _json_object
from meterbill.domain import Email, Id
from meterbill.ports import Page

if TYPE_CHECKING:
    from meterbill.alerts.lifecycle import Alert
    from meterbill.alerts.model import Subject
    from meterbill.alerts.ports import CollectorHeartbeat
    from meterbill.alerts.silences import Silence
    from meterbill.services.alert_admin import SilenceState, SubscriptionView

MAX_COMMENT_LENGTH = 500
MAX_ERROR_LENGTH = 500
MAX_VERSION_LENGTH = 64
MAX_SPOOL_DEPTH = 10**12


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class _Page(_Response):
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


# --- alerts -------------------------------------------------------------------------------------------------


class SubjectRecord(_Response):
    kind: SubjectKind
    id: str
    site_id: str | None

    @classmethod
    def of(cls, subject: Subject) -> SubjectRecord:
        return cls(kind=subject.kind, id=subject.id, site_id=subject.site_id)


class StateChangeRecord(_Response):
    at: datetime
    event: HistoryEvent
    detail: str


class AlertRecord(_Response):
    id: str
    fingerprint: str = Field(description="the same for every alert of this kind on this subject")
    kind: AlertKind
    subject: SubjectRecord
    state: AlertState
    severity: Severity
    summary: str
    facts: dict[str, str] = Field(description="the numbers behind it, as text (decimals exact, ISO 8601)")
    depends_on: list[SubjectRecord] = Field(
        description="the meters and collectors whose data the verdict relies on"
    )
    first_seen: datetime
    last_seen: datetime
    active_since: datetime | None = Field(description="while the condition holds: since when")
    fired_at: datetime | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(description="the id of the API key that acknowledged it")
    inhibited: bool = Field(description="muted because a meter or collector it depends on is offline")
    inhibited_by: list[str] = Field(description="the ids of the offline alerts that mute it")
    silenced: bool
    silenced_by: list[str] = Field(description="the ids of the silences that mute it")
    last_notified_at: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> AlertRecord:
        return cls(**_alert_fields(alert))


class AlertDetail(AlertRecord):
    history: list[StateChangeRecord] = Field(description="its last 20 state changes, oldest first")

    @classmethod
    def of(cls, alert: Alert) -> AlertDetail:
        history = [StateChangeRecord(at=c.at, event=c.event, detail=c.detail) for c in alert.history]
        return cls(**_alert_fields(alert), history=history)


def _alert_fields(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "fingerprint": alert.fingerprint,
        "kind": alert.kind,
        "subject": SubjectRecord.of(alert.subject),
        "state": alert.state,
        "severity": alert.severity,
        "summary": alert.summary,
        "facts": dict(alert.facts),
        "depends_on": [SubjectRecord.of(s) for s in alert.depends_on],
        "first_seen": alert.first_seen,
        "last_seen": alert.last_seen,
        "active_since": alert.active_since,
        "fired_at": alert.fired_at,
        "resolved_at": alert.resolved_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "inhibited": alert.inhibited,
        "inhibited_by": list(alert.inhibited_by),
        "silenced": alert.silenced,
        "silenced_by": list(alert.silenced_by),
        "last_notified_at": alert.last_notified_at,
    }


class AlertPage(_Page):
    items: list[AlertRecord]

    @classmethod
    def of(cls, page: Page[Alert]) -> AlertPage:
        return cls(items=[AlertRecord.of(a) for a in page.items], next_cursor=page.cursor)


# --- rules --------------------------------------------------------------------------------------------------


class AlertRulesRecord(_Response):
    document: dict[str, Any] = Field(
        description="the rules document as stored ({} until the first PUT: every detector's defaults); "
        "numbers with a fraction come back as exact decimal strings"
    )
    etag: str | None = Field(
        description="send it as If-Match to replace the document; null before the first PUT"
    )


# --- silences -----------------------------------------------------------------------------------------------


class MatcherItem(_Request):
    name: MatcherName = Field(description="which label of an alert to compare")
    value: StrictStr = Field(
        min_length=1,
        max_length=128,
        description="equal to this (exact); kind, severity and subject_kind take their known values",
    )


class AlertSilenceInput(_Request):
    matchers: list[MatcherItem] = Field(
        max_length=5,
        description="at least one; every one must match (AND), each name at most once",
    )
    starts_at: AwareDateTime | None = Field(default=None, description="default: now")
    ends_at: AwareDateTime = Field(description="after starts_at and in the future")
    comment: StrictStr = Field(max_length=MAX_COMMENT_LENGTH, description="why (a maintenance window)")


class MatcherRecord(_Response):
    name: MatcherName
    value: str


class AlertSilenceRecord(_Response):
    id: str
    matchers: list[MatcherRecord]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str = Field(description="the id of the API key that created it")
    state: Literal["pending", "active", "expired"] = Field(description="as of now")

    @classmethod
    def of(cls, silence: Silence, state: SilenceState) -> AlertSilenceRecord:
        return cls(
            id=silence.id,
            matchers=[MatcherRecord(name=m.name, value=m.value) for m in silence.matchers],
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            comment=silence.comment,
            created_by=silence.created_by,
            state=state,
        )


class AlertSilencePage(_Page):
    items: list[AlertSilenceRecord]


# --- subscriptions ------------------------------------------------------------------------------------------


class AlertSubscriptionInput(_Request):
    email: Email
    kinds: list[AlertKind] | None = Field(
        default=None, min_length=1, max_length=len(ALERT_KINDS), description="default: every kind"
    )
    min_severity: Severity = Field(default="warning", description="this severity and above")
    site_ids: list[Id] | None = Field(
        default=None, min_length=1, max_length=100, description="the account's sites; default: every site"
    )


class AlertSubscriptionRecord(_Response):
    id: str
    email: str
    kinds: list[AlertKind] | None = Field(description="null: every kind")
    min_severity: Severity
    site_ids: list[str] | None = Field(description="null: every site")
    status: SubscriptionStatus = Field(
        description="read from SNS now: pending_confirmation until the recipient follows the link SNS mails"
    )
    created_at: datetime

    @classmethod
    def of(cls, view: SubscriptionView) -> AlertSubscriptionRecord:
        record = view.record
        return cls(
            id=record.id,
            email=record.email,
            kinds=list(record.kinds) or None,
            min_severity=record.min_severity,
            site_ids=None if record.site_ids is None else list(record.site_ids),
            status=view.status,
            created_at=record.created_at,
        )


class AlertSubscriptionPage(_Page):
    items: list[AlertSubscriptionRecord]


# --- heartbeats ---------------------------------------------------------------------------------------------


class MeterStatusItem(_Request):
    meter_id: StrictStr = Field(max_length=64)
    last_read_at: AwareDateTime | None = Field(default=None, description="the last successful read")
    error: StrictStr | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ERROR_LENGTH,
        description="the error of the last attempt (a Modbus exception, a timeout)",
    )


class HeartbeatInput(_Request):
    version: StrictStr = Field(min_length=1, max_length=MAX_VERSION_LENGTH, description="the collector's")
    spool_depth: StrictInt = Field(ge=0, le=MAX_SPOOL_DEPTH, description="readings waiting to be pushed")
    last_push_at: AwareDateTime | None = Field(default=None, description="its last successful push")
    site_id: Id | None = Field(default=None, description="the site it serves (one of the account's)")
    meters: list[Annotated[MeterStatusItem, BeforeValidator(_json_object)]] = Field(
        default_factory=list,
        max_length=500,
        description="per meter it reads (the account's meters): last_read_at, error, or both",
    )
    warnings: list[Annotated[StrictStr, Field(min_length=1, max_length=MAX_WARNING_LENGTH)]] = Field(
        default_factory=list,
        max_length=MAX_WARNINGS,
        description="the collector's own warnings (its spool thinned to hourly at its disk quota, say); "
        "while the latest heartbeat carries any, a collector_warning alert is raised",
    )


class MeterStatusRecord(_Response):
    meter_id: str
    last_read_at: datetime | None
    error: str | None


class HeartbeatRecord(_Response):
    collector_id: str
    received_at: datetime = Field(description="the server's clock")
    version: str
    spool_depth: int
    last_push_at: datetime | None
    site_id: str | None
    meters: list[MeterStatusRecord]
    warnings: list[str]

    @classmethod
    def of(cls, stored: CollectorHeartbeat) -> HeartbeatRecord:
        beat = stored.heartbeat
        return cls(
            collector_id=beat.collector_id,
            received_at=beat.received_at,
            version=stored.version,
            spool_depth=stored.spool_depth,
            last_push_at=stored.last_push_at,
            site_id=beat.site_id,
            meters=[
                MeterStatusRecord(meter_id=s.meter_id, last_read_at=s.last_read_at, error=s.error)
                for s in beat.meters
            ],
            warnings=list(beat.warnings),
        )
