"""What a notification looks like on the alerts topic: ``render(notification, zone) -> AlertMessage``.

One SNS message per ``Notification`` (one site's notices raised within ``group_wait``):

- **subject** (what an email subscriber sees first): ``[critical] meterbill: 2 alerts at site berlin-office
  (1 firing, 1 resolved)``, or for one alert ``[warning] meterbill: communication firing for meter m-7 at site
  berlin-office``. SNS takes at most 100 printable ASCII characters without line breaks (the Publish reference
  says "less than 100"), so the subject is folded to ASCII and its ids are shortened with ``...`` to fit
  ``SUBJECT_LIMIT``; the counts at the end are kept.
- **body**: a readable block per alert (reason, kind, subject, severity, state, summary, times on the site's
  clock (``zone``; UTC without one), muted state, id and where to read it in the API), then the line
  ``FACTS_MARKER`` and a JSON document with the facts (``facts_of(body)`` reads it back; times in UTC).
  Sorted keys; fact values exactly as the detectors wrote them. A message that would exceed
  ``MESSAGE_LIMIT`` (SNS's 256 KB less room for the attributes) shows the first alerts only and says how
  many were left out (``"omitted"`` in the JSON).
- **attributes** (what subscriptions filter on): ``account_id``, ``severity`` (the highest of the message),
  ``site_id`` (``"none"`` without a site) as ``String``; ``kind`` and ``state`` (the notices' reasons:
  ``firing``, ``reminder``, ``resolved``) as ``String.Array``: a JSON list of the distinct values, sorted,
  since one grouped message may hold several (``ARRAY_ATTRIBUTES``; the SNS adapter sends their data type).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

from meterbill.alerts.lifecycle import Alert, Notification, NotificationItem, Reason
from meterbill.alerts.ports import AlertMessage

SUBJECT_LIMIT: Final = 99  # SNS: "less than 100 characters" (moto lets 100 through; AWS's docs say less)
# SNS: at most 256 KB of UTF-8 per message, attributes and subject included: 4 KB are left for them.
MESSAGE_LIMIT: Final = 262_144 - 4_096
FACTS_MARKER: Final = "--- facts (JSON) ---"
NO_SITE: Final = "none"  # the site_id attribute of a message without a site
ARRAY_ATTRIBUTES: Final = frozenset({"kind", "state"})  # String.Array; the others are String
REASONS: Final[tuple[Reason, ...]] = ("firing", "reminder", "resolved")  # the order counts are written in
_ELLIPSIS: Final = "..."


def render(notification: Notification, zone: tzinfo | None = None) -> AlertMessage:
    """The SNS message for ``notification``: subject, body, attributes (see the module's docstring). The
    body's times are on ``zone``, the site's clock, when given; in UTC otherwise (no site, or unknown)."""
    if not notification.items:
        raise ValueError("a notification without items has nothing to say")
    return AlertMessage(
        subject=subject_of(notification),
        body=body_of(notification, zone),
        attributes=attributes_of(notification),
    )


def attributes_of(notification: Notification) -> dict[str, str]:
    """The message attributes; ``kind`` and ``state`` are JSON lists (``ARRAY_ATTRIBUTES``)."""
    kinds = sorted({item.alert.kind for item in notification.items})
    reasons = sorted({item.reason for item in notification.items})
    return {
        "account_id": notification.account_id,
        "kind": json.dumps(kinds, separators=(",", ":")),
        "severity": notification.severity,
        "site_id": notification.site_id or NO_SITE,
        "state": json.dumps(reasons, separators=(",", ":")),
    }


# --- the subject ----------------------------------------------------------------------------------------


def subject_of(notification: Notification) -> str:
    """``[severity] meterbill: ...`` in at most ``SUBJECT_LIMIT`` printable ASCII characters."""
    head = f"[{notification.severity}] meterbill: "
    items = notification.items
    if len(items) == 1:
        alert = items[0].alert
        parts: list[str | _Id] = [
            head,
            f"{alert.kind} {items[0].reason} for {alert.subject.kind} ",
            _Id(alert.subject.id),
        ]
        if notification.site_id:
            parts += [" at site ", _Id(notification.site_id)]
        return _fit(parts)
    where: list[str | _Id] = (
        [" at site ", _Id(notification.site_id)]
        if notification.site_id
        else [" in account ", _Id(notification.account_id)]
    )
    return _fit([head, f"{len(items)} alerts", *where, f" ({_counts(items)})"])


class _Id(str):
    """A part of the subject that may be shortened to make it fit."""

    __slots__ = ()


def _fit(parts: Sequence[str]) -> str:
    """Joins ``parts`` as ASCII; while too long, the longest id loses characters and ends in ``...``."""
    texts = [_ascii(p) for p in parts]
    shortenable = [i for i, p in enumerate(parts) if isinstance(p, _Id)]
    cut = dict.fromkeys(shortenable, False)
    while sum(map(len, texts)) > SUBJECT_LIMIT and shortenable:
        longest = max(shortenable, key=lambda i: len(texts[i]))
        kept = texts[longest][: -len(_ELLIPSIS)] if cut[longest] else texts[longest]
        if len(kept) <= 1:
            shortenable.remove(longest)
            continue
        texts[longest] = kept[:-1] + _ELLIPSIS
        cut[longest] = True
    subject = "".join(texts)
    if len(subject) > SUBJECT_LIMIT:  # the fixed words alone are too long: never, but never send a refusal
        subject = subject[: SUBJECT_LIMIT - len(_ELLIPSIS)] + _ELLIPSIS
    return subject


def _ascii(text: str) -> str:
    """Printable ASCII: accents dropped (``München`` -> ``Munchen``), other characters as ``?``, controls
    and line breaks as spaces."""
    folded = unicodedata.normalize("NFKD", text)
    out = []
    for char in folded:
        if unicodedata.combining(char):
            continue
        if char in "\t\r\n" or unicodedata.category(char).startswith("C"):
            out.append(" ")
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append("?")
    return "".join(out)


def _counts(items: Sequence[NotificationItem]) -> str:
    counts = {reason: sum(1 for item in items if item.reason == reason) for reason in REASONS}
    return ", ".join(f"{n} {reason}" for reason, n in counts.items() if n)


# --- the body ---------------------------------------------------------------------------------------------


def body_of(notification: Notification, zone: tzinfo | None = None) -> str:
    """The readable summary (times on ``zone``, UTC without one), ``FACTS_MARKER`` and the JSON facts (UTC
    always), within ``MESSAGE_LIMIT`` bytes."""
    shown = len(notification.items)
    body = _body(notification, shown, zone)
    while len(body.encode("utf-8")) > MESSAGE_LIMIT and shown > 1:
        # Shrink in proportion to the overshoot (and by at least one) rather than one item a round.
        ratio = MESSAGE_LIMIT / len(body.encode("utf-8"))
        shown = max(1, min(shown - 1, int(shown * ratio)))
        body = _body(notification, shown, zone)
    return body


def _body(notification: Notification, shown: int, zone: tzinfo | None) -> str:
    items = notification.items
    where = f"site {notification.site_id}" if notification.site_id else "no site"
    lines = [
        f"meterbill alerts of account {notification.account_id}, {where}",
        f"{_count(len(items))} at {_human(notification.at, zone)}: {_counts(items)}",
    ]
    for item in items[:shown]:
        lines += ["", *_block(item, zone)]
    omitted = len(items) - shown
    if omitted:
        query = f"?site_id={notification.site_id}" if notification.site_id else ""
        lines += ["", f"... and {_count(omitted)} more, left out of this message: GET /v1/alerts{query}"]
    lines += ["", FACTS_MARKER, json.dumps(_facts(notification, shown), sort_keys=True, indent=2)]
    return "\n".join(lines) + "\n"


def _block(item: NotificationItem, zone: tzinfo | None) -> list[str]:
    alert = item.alert
    lines = [  # the site is the message's (notifications are grouped per site)
        f"[{item.reason.upper()}] {alert.kind} - {alert.subject.kind} {alert.subject.id}",
        f"  severity:     {alert.severity}",
        f"  state:        {alert.state}",
        f"  summary:      {_line(alert.summary)}",
        f"  first seen:   {_human(alert.first_seen, zone)}",
        f"  fired:        {_human(alert.fired_at, zone)}",
        f"  resolved:     {_human(alert.resolved_at, zone)}",
    ]
    if alert.acknowledged_at is not None:
        by = f" by {_line(alert.acknowledged_by)}" if alert.acknowledged_by else ""
        lines.append(f"  acknowledged: {_human(alert.acknowledged_at, zone)}{by}")
    if alert.muted:
        lines.append(f"  muted:        {_muted(alert)}")
    lines += [f"  alert id:     {alert.id}", f"  details:      GET /v1/alerts/{alert.id}"]
    return lines


def _muted(alert: Alert) -> str:
    why = []
    if alert.inhibited:
        why.append(f"inhibited by {', '.join(alert.inhibited_by) or 'an offline source'}")
    if alert.silenced:
        why.append(f"silenced by {', '.join(alert.silenced_by) or 'a silence'}")
    return "; ".join(why)


def _facts(notification: Notification, shown: int) -> dict[str, Any]:
    document: dict[str, Any] = {
        "account_id": notification.account_id,
        "site_id": notification.site_id,
        "at": _iso(notification.at),
        "alerts": [_alert_facts(item) for item in notification.items[:shown]],
    }
    if shown < len(notification.items):
        document["omitted"] = len(notification.items) - shown
    return document


def _alert_facts(item: NotificationItem) -> dict[str, Any]:
    alert = item.alert
    return {
        "id": alert.id,
        "reason": item.reason,
        "kind": alert.kind,
        "state": alert.state,
        "severity": alert.severity,
        "subject": {"kind": alert.subject.kind, "id": alert.subject.id, "site_id": alert.subject.site_id},
        "summary": alert.summary,
        "facts": dict(alert.facts),
        "first_seen": _iso(alert.first_seen),
        "last_seen": _iso(alert.last_seen),
        "fired_at": _iso(alert.fired_at),
        "resolved_at": _iso(alert.resolved_at),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "inhibited": alert.inhibited,
        "silenced": alert.silenced,
    }


def facts_of(body: str) -> dict[str, Any]:
    """The JSON facts of a rendered body (what follows the ``FACTS_MARKER`` line); ValueError without one."""
    _, marker, tail = body.partition(f"\n{FACTS_MARKER}\n")
    if not marker:
        raise ValueError(f"no {FACTS_MARKER!r} line in the message")
    document = json.loads(tail)
    if not isinstance(document, dict):
        raise ValueError("the facts are not a JSON object")
    return document


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _human(moment: datetime | None, zone: tzinfo | None) -> str:
    """``2026-11-18 12:00:05 CET`` on the site's clock, ``2026-11-18 11:00:05 UTC`` without one."""
    if moment is None:
        return "-"
    if zone is None:
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def _line(text: str) -> str:
    """One line: a summary never breaks the block (nor fakes the facts marker)."""
    return " ".join(text.split())


def _count(n: int) -> str:
    return f"{n} alert" if n == 1 else f"{n} alerts"
