"""The alerts' values as DynamoDB attributes and back, exactly: what goes in comes out equal and with the
same types (tuples stay tuples, facts keep their order, a datetime keeps its offset and its zone).

Two steps. ``plain_*`` turns a value into plain data (str, bool, int, list, dict; a ``None`` field is left
out), ``typed`` turns plain data into DynamoDB's typed attribute values (``{"S": ...}``, ``{"L": [...]}``,
...) and ``untyped`` back. The unsent notifications are stored as compressed JSON of the same plain data
(``pack``/``unpack``), since a notification carries a snapshot of every alert it names.

Times: ``when`` writes an aware datetime as ISO 8601 with its offset, followed by ``[<zone key>]`` when its
tzinfo is a ``ZoneInfo`` (``2026-03-29T03:15:00+02:00[Europe/Berlin]``), so ``moment`` gives back the same
offset, the same zone and the same ``fold`` (a ``datetime.timezone`` given a custom name comes back as the
same offset without the name). ``utc_key`` writes the UTC instant with microseconds in a fixed
width: text order is time order, for sort keys and conditions.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

from meterbill.alerts.communication import Heartbeat, MeterStatus
from meterbill.alerts.lifecycle import Alert, Held, Notification, NotificationItem, StateChange
from meterbill.alerts.model import Subject
from meterbill.alerts.ports import CollectorHeartbeat, SubscriptionRecord
from meterbill.alerts.silences import Matcher, Silence

Plain = Any  # str | bool | int | list[Plain] | dict[str, Plain]
Typed = dict[str, Any]  # one DynamoDB attribute value: {"S": "..."}, {"L": [...]}, ...

UTC_KEY_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


# --- times -----------------------------------------------------------------------------------------------


def when(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} must be timezone-aware")
    text = moment.isoformat()
    if isinstance(moment.tzinfo, ZoneInfo):
        text += f"[{moment.tzinfo.key}]"
    return text


def moment(text: str) -> datetime:
    if text.endswith("]"):
        iso, _, key = text[:-1].partition("[")
        return datetime.fromisoformat(iso).astimezone(ZoneInfo(key))
    return datetime.fromisoformat(text)


def utc_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(UTC_KEY_FORMAT)


def _maybe(value: str | None) -> datetime | None:
    return None if value is None else moment(value)


def _when_or_none(value: datetime | None) -> str | None:
    return None if value is None else when(value)


# --- plain data <-> DynamoDB attribute values ------------------------------------------------------------


def typed(value: Plain) -> Typed:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [typed(element) for element in value]}
    if isinstance(value, dict):
        return {"M": typed_map(value)}
    raise TypeError(f"{type(value).__name__} is not plain data")


def typed_map(values: Mapping[str, Plain]) -> dict[str, Typed]:
    """The attributes of a plain mapping; ``None`` values are left out (an absent attribute reads as None)."""
    return {name: typed(value) for name, value in values.items() if value is not None}


def untyped(value: Typed) -> Plain:
    ((kind, content),) = value.items()
    if kind in ("S", "BOOL"):
        return content
    if kind == "N":
        return int(content)
    if kind == "L":
        return [untyped(element) for element in content]
    if kind == "M":
        return untyped_map(content)
    raise TypeError(f"unexpected DynamoDB type {kind!r}")


def untyped_map(values: Mapping[str, Typed]) -> dict[str, Plain]:
    return {name: untyped(value) for name, value in values.items()}


def pack(value: Plain) -> bytes:
    """Compressed JSON of plain data (the unsent notifications: snapshots compress well)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode(), level=6)


def unpack(data: bytes) -> Plain:
    return json.loads(zlib.decompress(data).decode())


# --- alerts ----------------------------------------------------------------------------------------------


def plain_subject(subject: Subject) -> dict[str, Plain]:
    return {"kind": subject.kind, "id": subject.id, "site_id": subject.site_id}


def subject_of(data: Mapping[str, Plain]) -> Subject:
    return Subject(kind=data["kind"], id=data["id"], site_id=data.get("site_id"))


def plain_alert(alert: Alert) -> dict[str, Plain]:
    """Every field of ``alert``; the subject flattened (``subject_kind``, ``subject_id``, ``site_id``) so
    the listing filters on ``site_id`` as a top-level attribute."""
    return {
        "id": alert.id,
        "fingerprint": alert.fingerprint,
        "account_id": alert.account_id,
        "kind": alert.kind,
        "subject_kind": alert.subject.kind,
        "subject_id": alert.subject.id,
        "site_id": alert.subject.site_id,
        "state": alert.state,
        "severity": alert.severity,
        "summary": alert.summary,
        "facts": [[name, value] for name, value in alert.facts.items()],  # a list keeps their order
        "depends_on": [plain_subject(subject) for subject in alert.depends_on],
        "first_seen": when(alert.first_seen),
        "last_seen": when(alert.last_seen),
        "active_since": _when_or_none(alert.active_since),
        "fired_at": _when_or_none(alert.fired_at),
        "resolved_at": _when_or_none(alert.resolved_at),
        "acknowledged_at": _when_or_none(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by,
        "inhibited": alert.inhibited,
        "inhibited_by": list(alert.inhibited_by),
        "silenced": alert.silenced,
        "silenced_by": list(alert.silenced_by),
        "announced": alert.announced,
        "last_notified_at": _when_or_none(alert.last_notified_at),
        "history": [plain_change(change) for change in alert.history],
    }


def plain_change(change: StateChange) -> dict[str, Plain]:
    return {"at": when(change.at), "event": change.event, "detail": change.detail}


def change_of(data: Mapping[str, Plain]) -> StateChange:
    return StateChange(at=moment(data["at"]), event=data["event"], detail=data["detail"])


def alert_of(data: Mapping[str, Plain]) -> Alert:
    return Alert(
        id=data["id"],
        fingerprint=data["fingerprint"],
        account_id=data["account_id"],
        kind=data["kind"],
        subject=Subject(kind=data["subject_kind"], id=data["subject_id"], site_id=data.get("site_id")),
        state=data["state"],
        severity=data["severity"],
        summary=data["summary"],
        facts={name: value for name, value in data["facts"]},
        depends_on=tuple(subject_of(subject) for subject in data["depends_on"]),
        first_seen=moment(data["first_seen"]),
        last_seen=moment(data["last_seen"]),
        active_since=_maybe(data.get("active_since")),
        fired_at=_maybe(data.get("fired_at")),
        resolved_at=_maybe(data.get("resolved_at")),
        acknowledged_at=_maybe(data.get("acknowledged_at")),
        acknowledged_by=data.get("acknowledged_by"),
        inhibited=data["inhibited"],
        inhibited_by=tuple(data["inhibited_by"]),
        silenced=data["silenced"],
        silenced_by=tuple(data["silenced_by"]),
        announced=data["announced"],
        last_notified_at=_maybe(data.get("last_notified_at")),
        history=tuple(change_of(change) for change in data["history"]),
    )


# --- the book: held notices and unsent notifications -------------------------------------------------------


def plain_held(held: Held) -> dict[str, Plain]:
    return {
        "alert_id": held.alert_id,
        "site_id": held.site_id,
        "reason": held.reason,
        "raised_at": when(held.raised_at),
    }


def held_of(data: Mapping[str, Plain]) -> Held:
    return Held(
        alert_id=data["alert_id"],
        site_id=data.get("site_id"),
        reason=data["reason"],
        raised_at=moment(data["raised_at"]),
    )


def plain_notification(notification: Notification) -> dict[str, Plain]:
    return {
        "account_id": notification.account_id,
        "site_id": notification.site_id,
        "at": when(notification.at),
        "items": [
            {"reason": item.reason, "alert": _without_none(plain_alert(item.alert))}
            for item in notification.items
        ],
    }


def notification_of(data: Mapping[str, Plain]) -> Notification:
    return Notification(
        account_id=data["account_id"],
        site_id=data.get("site_id"),
        at=moment(data["at"]),
        items=tuple(NotificationItem(item["reason"], alert_of(item["alert"])) for item in data["items"]),
    )


def pack_notifications(notifications: Sequence[Notification]) -> bytes:
    return pack([_without_none(plain_notification(n)) for n in notifications])


def unpack_notifications(data: bytes) -> tuple[Notification, ...]:
    return tuple(notification_of(n) for n in cast(list[dict[str, Plain]], unpack(data)))


def _without_none(values: dict[str, Plain]) -> dict[str, Plain]:
    return {name: value for name, value in values.items() if value is not None}


# --- silences, heartbeats, subscriptions ------------------------------------------------------------------


def plain_silence(silence: Silence) -> dict[str, Plain]:
    return {
        "id": silence.id,
        "matchers": [[m.name, m.value] for m in silence.matchers],
        "starts_at": when(silence.starts_at),
        "ends_at": when(silence.ends_at),
        "comment": silence.comment,
        "created_by": silence.created_by,
    }


def silence_of(data: Mapping[str, Plain]) -> Silence:
    return Silence(
        matchers=tuple(Matcher(name, value) for name, value in data["matchers"]),
        starts_at=moment(data["starts_at"]),
        ends_at=moment(data["ends_at"]),
        comment=data["comment"],
        id=data["id"],
        created_by=data["created_by"],
    )


def plain_heartbeat(record: CollectorHeartbeat) -> dict[str, Plain]:
    heartbeat = record.heartbeat
    return {
        "collector_id": heartbeat.collector_id,
        "received_at": when(heartbeat.received_at),
        "site_id": heartbeat.site_id,
        "meters": [
            _without_none(
                {
                    "meter_id": status.meter_id,
                    "last_read_at": _when_or_none(status.last_read_at),
                    "error": status.error,
                }
            )
            for status in heartbeat.meters
        ],
        "warnings": list(heartbeat.warnings) or None,  # left out when none, like before warnings existed
        "version": record.version,
        "spool_depth": record.spool_depth,
        "last_push_at": _when_or_none(record.last_push_at),
    }


def heartbeat_of(data: Mapping[str, Plain]) -> CollectorHeartbeat:
    return CollectorHeartbeat(
        heartbeat=Heartbeat(
            collector_id=data["collector_id"],
            received_at=moment(data["received_at"]),
            meters=tuple(
                MeterStatus(
                    meter_id=status["meter_id"],
                    last_read_at=_maybe(status.get("last_read_at")),
                    error=status.get("error"),
                )
                for status in data["meters"]
            ),
            site_id=data.get("site_id"),
            warnings=tuple(data.get("warnings", ())),  # none in a heartbeat stored before warnings existed
        ),
        version=data["version"],
        spool_depth=data["spool_depth"],
        last_push_at=_maybe(data.get("last_push_at")),
    )


def plain_subscription(record: SubscriptionRecord) -> dict[str, Plain]:
    return {
        "id": record.id,
        "email": record.email,
        "kinds": list(record.kinds),
        "min_severity": record.min_severity,
        "site_ids": None if record.site_ids is None else list(record.site_ids),  # absent: every site
        "subscription_arn": record.subscription_arn,
        "created_at": when(record.created_at),
    }


def subscription_of(data: Mapping[str, Plain]) -> SubscriptionRecord:
    site_ids = data.get("site_ids")
    return SubscriptionRecord(
        id=data["id"],
        email=data["email"],
        kinds=tuple(data["kinds"]),
        min_severity=data["min_severity"],
        site_ids=None if site_ids is None else tuple(site_ids),
        subscription_arn=data["subscription_arn"],
        created_at=moment(data["created_at"]),
    )
