"""What people do with an account's alerts through the API: read and acknowledge alerts, replace the rules,
set and end silences, subscribe emails, and record what a collector's heartbeat says.

Plain values and the alert ports in (``meterbill.alerts.ports``), values out; time comes in as ``now``. An id
of another account is not found, exactly like an id that does not exist (the store is keyed by account).

Decisions:

- A silence is ``pending`` before ``starts_at``, ``active`` until ``ends_at`` (exclusive), ``expired`` after.
  Ending one (``end_silence``) sets ``ends_at`` to now; a pending one also gets ``starts_at`` just before
  now (a silence must end after it starts), so it never mutes anything. An expired one cannot be ended (409).
- A new silence must end in the future and may not name an unknown kind, severity or subject kind (it would
  match nothing, silently).
- A subscription's SNS filter policy admits the account's alerts of ``min_severity`` or above (default
  warning), of ``kinds`` (none: every kind) at ``site_ids`` (None: every site); one email address once per
  account.
- A heartbeat is stored with the server's clock as ``received_at``; it may name only the account's meters and
  site. Each meter's status has its last successful read (``last_read_at``), the error of its last attempt
  (``error``), or both (failing now, last read then); neither says nothing and is refused. Its
  ``warnings`` (at most ``MAX_WARNINGS``, each 1 to ``MAX_WARNING_LENGTH`` characters) are the collector's
  own: while the latest heartbeat carries any, the pass raises a ``collector_warning`` alert.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar, get_args

from meterbill.alerts.communication import MAX_WARNING_LENGTH, MAX_WARNINGS, Heartbeat, MeterStatus
from meterbill.alerts.lifecycle import Alert
from meterbill.alerts.model import ALERT_KINDS, SEVERITIES, AlertKind, Severity, SubjectKind
from meterbill.alerts.ports import (
    AlertFilter,
    AlertStore,
    AlertSubscriptions,
    CollectorHeartbeat,
    SubscriptionRecord,
    SubscriptionStatus,
)
from meterbill.alerts.rules import AlertRules
from meterbill.alerts.silences import Matcher, Silence
from meterbill.alerts.subscriptions import SubscriptionRequest
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError
from meterbill.ports import CatalogStore, Page
from meterbill.services.common import check_page_size

SilenceState = Literal["pending", "active", "expired"]
SILENCE_STATES: Final[tuple[SilenceState, ...]] = get_args(SilenceState)
SUBJECT_KINDS: Final[tuple[SubjectKind, ...]] = get_args(SubjectKind)
# The rules document is one DynamoDB item (at most 400 KB, with its keys and ETag).
MAX_RULES_BYTES: Final = 350_000
# SNS: "the total combination of values must not exceed 150" (the product of each attribute's value count).
MAX_HEARTBEAT_METERS: Final = 500
NOT_A_CURSOR: Final = "is not a cursor of this listing"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # domain.Id
_ENDED_BEFORE: Final = timedelta(microseconds=1)
_PLAIN_DIGITS: Final = 40

T = TypeVar("T")


# --- alerts -------------------------------------------------------------------------------------------------


def list_alerts(
    account: str, query: AlertFilter, store: AlertStore, *, limit: int, cursor: str | None = None
) -> Page[Alert]:
    """The account's alerts matching ``query``, newest first. The cursor names its account: another
    account's cursor is refused here, whatever the store's cursor holds."""
    page = store.list_alerts(
        account, query, limit=check_page_size(limit), cursor=_store_cursor(account, cursor)
    )
    return Page(items=page.items, cursor=_api_cursor(account, page.cursor))


def _api_cursor(account: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(json.dumps([account, cursor]).encode()).decode()


def _store_cursor(account: str, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        owner, inner = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise InvalidInputError("cursor", NOT_A_CURSOR) from None
    if owner != account or not isinstance(inner, str):
        raise InvalidInputError("cursor", NOT_A_CURSOR)
    return inner


def get_alert(account: str, alert_id: str, store: AlertStore) -> Alert:
    return store.get_alert(account, alert_id)


def acknowledge(account: str, alert_id: str, by: str, now: datetime, store: AlertStore) -> Alert:
    """A person has the alert in hand (no more reminders); a second acknowledgement changes nothing;
    ``InvalidStateError`` for a resolved alert."""
    _aware(now)
    return store.acknowledge(account, alert_id, by, now)


# --- rules --------------------------------------------------------------------------------------------------


def get_rules(account: str, store: AlertStore) -> tuple[Mapping[str, Any], str | None]:
    """The account's rules document (``{}`` before the first put) and its ETag (None before)."""
    return store.get_rules(account)


def put_rules(
    account: str, document: Any, store: AlertStore, *, if_match: str | None
) -> tuple[Mapping[str, Any], str]:
    """Replaces the document after checking it whole (``InvalidInputError`` names the dotted field of the
    first problem); numbers parsed as ``Decimal`` are kept as their exact decimal text. The stored document
    and its new ETag; ``PreconditionFailedError`` when ``if_match`` is not the current ETag."""
    exact = _decimals_as_text(document)
    AlertRules.from_document(exact)
    size = len(json.dumps(exact, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_RULES_BYTES:
        raise InvalidInputError("body", f"{size} bytes as JSON; at most {MAX_RULES_BYTES}")
    etag = store.put_rules(account, exact, if_match=if_match)
    return exact, etag


def _decimals_as_text(value: Any) -> Any:
    """The API reads JSON numbers with a fraction as ``Decimal``: the rules take them as exact text."""
    if isinstance(value, Decimal):  # plain digits, unless that would take more than ~40 of them (1e999999)
        plain = value.is_finite() and -_PLAIN_DIGITS <= value.adjusted() <= _PLAIN_DIGITS
        return format(value, "f") if plain else str(value)
    if isinstance(value, Mapping):
        return {key: _decimals_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimals_as_text(item) for item in value]
    return value


# --- silences -----------------------------------------------------------------------------------------------


def silence_state(silence: Silence, now: datetime) -> SilenceState:
    if now < silence.starts_at:
        return "pending"
    return "active" if now < silence.ends_at else "expired"


def create_silence(
    account: str,
    matchers: Sequence[tuple[str, str]],
    starts_at: datetime | None,
    ends_at: datetime,
    comment: str,
    created_by: str,
    now: datetime,
    store: AlertStore,
) -> Silence:
    """A new silence (id ``sil_`` and 16 hex digits) from ``starts_at`` (None: now) to ``ends_at``."""
    _aware(now)
    checked = tuple(_matcher(index, name, value) for index, (name, value) in enumerate(matchers))
    silence = Silence(
        matchers=checked,
        starts_at=now if starts_at is None else starts_at,
        ends_at=ends_at,
        comment=comment,
        id=f"sil_{secrets.token_hex(8)}",
        created_by=created_by,
    )
    if silence.ends_at <= now:
        raise InvalidInputError("ends_at", f"must be in the future (now is {now.isoformat()})")
    store.put_silence(account, silence)
    return silence


def _matcher(index: int, name: str, value: str) -> Matcher:
    known: Mapping[str, tuple[str, ...]] = {
        "kind": ALERT_KINDS,
        "severity": SEVERITIES,
        "subject_kind": SUBJECT_KINDS,
    }
    if name in known and value not in known[name]:
        raise InvalidInputError(f"matchers[{index}].value", f"must be one of {', '.join(known[name])}")
    try:
        return Matcher(name, value)  # type: ignore[arg-type]  # Matcher checks the name itself
    except InvalidInputError as error:
        field = error.field.replace("matchers.", f"matchers[{index}].")
        raise InvalidInputError(field, error.reason) from None


def list_silences(
    account: str,
    state: SilenceState | None,
    now: datetime,
    store: AlertStore,
    *,
    limit: int,
    cursor: str | None = None,
) -> Page[Silence]:
    """The account's silences in ``state`` (None: all), newest ``starts_at`` first."""
    _aware(now)
    chosen = [
        s
        for s in store.silences(account, ending_after=now if state in ("pending", "active") else None)
        if state is None or silence_state(s, now) == state
    ]
    return _page(chosen, lambda s: s.id, limit=limit, cursor=cursor)


def get_silence(account: str, silence_id: str, store: AlertStore) -> Silence:
    return store.get_silence(account, silence_id)


def end_silence(account: str, silence_id: str, now: datetime, store: AlertStore) -> Silence:
    """Ends the silence now (see the module); ``InvalidStateError`` when it has expired already."""
    _aware(now)
    silence = store.get_silence(account, silence_id)
    if silence_state(silence, now) == "expired":
        raise InvalidStateError("alert-silence", silence_id, "expired", "end")
    ended = replace(silence, starts_at=min(silence.starts_at, now - _ENDED_BEFORE), ends_at=now)
    store.replace_silence(account, ended)
    return ended


# --- subscriptions ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with its SNS state, read now (``pending_confirmation`` until the recipient confirms)."""

    record: SubscriptionRecord
    status: SubscriptionStatus


def subscribe(
    account: str,
    email: str,
    kinds: Sequence[AlertKind] | None,
    min_severity: Severity,
    site_ids: Sequence[str] | None,
    now: datetime,
    store: AlertStore,
    catalog: CatalogStore,
    subscriptions: Callable[[], AlertSubscriptions],
) -> SubscriptionView:
    """Subscribes ``email`` to the account's alerts with its filter; the record (id ``sub_`` and 16 hex
    digits) is kept with the SNS subscription's ARN. ``subscriptions`` gives the port once the request is
    known to be valid (a deployment without an alerts topic refuses only then)."""
    _aware(now)
    sites = None if site_ids is None else tuple(site_ids)
    request = SubscriptionRequest(email, tuple(kinds or ()), min_severity, sites)  # names the bad field
    chosen_kinds, chosen_sites = request.kinds, request.site_ids
    for index, site_id in enumerate(chosen_sites or ()):
        if not _exists(account, "site", site_id, catalog):
            raise InvalidInputError(f"site_ids[{index}]", f"no site {site_id!r}")
    for known in store.subscriptions(account):
        if known.email.lower() == email.lower():
            raise InvalidInputError(
                "email", f"is subscribed already ({known.id}): change that subscription by deleting it first"
            )
    policy = request.filter_policy(account)
    port = subscriptions()
    arn = port.subscribe_email(email, policy)
    record = SubscriptionRecord(
        id=f"sub_{secrets.token_hex(8)}",
        email=email,
        kinds=chosen_kinds,
        min_severity=min_severity,
        site_ids=chosen_sites,
        subscription_arn=arn,
        created_at=now,
    )
    try:
        store.put_subscription(account, record)
    except Exception:
        port.unsubscribe(arn)  # no subscription without its record: nobody could delete it
        raise
    return SubscriptionView(record, port.status(arn))


def list_subscriptions(
    account: str,
    store: AlertStore,
    subscriptions: Callable[[], AlertSubscriptions],
    *,
    limit: int,
    cursor: str | None = None,
) -> Page[SubscriptionView]:
    """The account's subscriptions, oldest first, each with its SNS state read now."""
    page = _page(list(store.subscriptions(account)), lambda r: r.id, limit=limit, cursor=cursor)
    if not page.items:
        return Page(items=[], cursor=None)
    port = subscriptions()
    return Page(
        items=[SubscriptionView(r, port.status(r.subscription_arn)) for r in page.items], cursor=page.cursor
    )


def get_subscription(
    account: str, subscription_id: str, store: AlertStore, subscriptions: Callable[[], AlertSubscriptions]
) -> SubscriptionView:
    record = store.get_subscription(account, subscription_id)
    return SubscriptionView(record, subscriptions().status(record.subscription_arn))


def unsubscribe(
    account: str, subscription_id: str, store: AlertStore, subscriptions: Callable[[], AlertSubscriptions]
) -> None:
    """Removes the SNS subscription (a pending one too), then the record."""
    record = store.get_subscription(account, subscription_id)
    subscriptions().unsubscribe(record.subscription_arn)
    store.delete_subscription(account, subscription_id)


# --- heartbeats ---------------------------------------------------------------------------------------------


def record_heartbeat(
    account: str,
    collector_id: str,
    *,
    version: str,
    spool_depth: int,
    last_push_at: datetime | None,
    site_id: str | None,
    meters: Sequence[MeterStatus],
    now: datetime,
    store: AlertStore,
    catalog: CatalogStore,
    future_tolerance: timedelta,
    warnings: Sequence[str] = (),
) -> CollectorHeartbeat:
    """Keeps the collector's heartbeat, received now (see the module for what it may say)."""
    _aware(now)
    latest = now + future_tolerance
    if not _ID.match(collector_id):
        raise InvalidInputError(
            "collector_id", "1 to 64 letters, digits and _ . : -, starting with a letter or digit"
        )
    if site_id is not None and not _exists(account, "site", site_id, catalog):
        raise InvalidInputError("site_id", f"no site {site_id!r}")
    if len(meters) > MAX_HEARTBEAT_METERS:
        raise InvalidInputError("meters", f"{len(meters)} meters; at most {MAX_HEARTBEAT_METERS}")
    _not_ahead("last_push_at", last_push_at, now, latest)
    if len(warnings) > MAX_WARNINGS:
        raise InvalidInputError("warnings", f"{len(warnings)} warnings; at most {MAX_WARNINGS}")
    for index, warning in enumerate(warnings):
        if not 1 <= len(warning) <= MAX_WARNING_LENGTH:
            raise InvalidInputError(f"warnings[{index}]", f"must be 1 to {MAX_WARNING_LENGTH} characters")
    seen: dict[str, int] = {}
    unknown: list[tuple[int, str]] = []
    for index, status in enumerate(meters):
        where = f"meters[{index}]"
        if status.meter_id in seen:
            raise InvalidInputError(f"{where}.meter_id", f"listed before, at meters[{seen[status.meter_id]}]")
        seen[status.meter_id] = index
        if status.last_read_at is None and status.error is None:
            raise InvalidInputError(
                where, "give last_read_at (the last successful read), error (the last attempt's), or both"
            )
        _not_ahead(f"{where}.last_read_at", status.last_read_at, now, latest)
        if not _exists(account, "meter", status.meter_id, catalog):
            unknown.append((index, status.meter_id))
    if unknown:
        index, meter_id = unknown[0]
        more = f" (and {len(unknown) - 1} more unknown meters)" if len(unknown) > 1 else ""
        raise InvalidInputError(f"meters[{index}].meter_id", f"no meter {meter_id!r}{more}")
    heartbeat = CollectorHeartbeat(
        heartbeat=Heartbeat(collector_id, now, tuple(meters), site_id, tuple(warnings)),
        version=version,
        spool_depth=spool_depth,
        last_push_at=last_push_at,
    )
    store.put_heartbeat(account, heartbeat)
    return heartbeat


def _not_ahead(field: str, moment: datetime | None, now: datetime, latest: datetime) -> None:
    if moment is not None and moment > latest:
        raise InvalidInputError(
            field,
            f"{moment.isoformat()} is more than {int((latest - now).total_seconds())} s ahead of the "
            f"server's clock ({now.isoformat()})",
        )


# --- helpers ------------------------------------------------------------------------------------------------


def _exists(account: str, kind: Literal["site", "meter"], item_id: str, catalog: CatalogStore) -> bool:
    if not _ID.match(item_id):
        return False
    try:
        catalog.get(account, kind, item_id)
    except NotFoundError:
        return False
    return True


def _unique(field: str, values: Sequence[T]) -> tuple[T, ...]:
    seen: list[T] = []
    for index, value in enumerate(values):
        if value in seen:
            raise InvalidInputError(f"{field}[{index}]", f"{value!r} is listed twice")
        seen.append(value)
    return tuple(seen)


def _page(items: Sequence[T], id_of: Callable[[T], str], *, limit: int, cursor: str | None) -> Page[T]:
    """A page of a listing the store gives whole: ``cursor`` is the id of the previous page's last item."""
    check_page_size(limit)
    start = 0
    if cursor is not None:
        ids = [id_of(item) for item in items]
        if cursor not in ids:
            raise InvalidInputError("cursor", NOT_A_CURSOR)
        start = ids.index(cursor) + 1
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return Page(items=page, cursor=id_of(page[-1]) if more and page else None)


def _aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now.isoformat()} where an aware one is required")
