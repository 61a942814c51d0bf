"""The account's alerts: read them (paged, newest first) and acknowledge them; the rules (one document,
If-Match); silences (maintenance windows); email subscriptions (SNS); and collectors' heartbeats.

The services do the work (``services.alert_admin``); the alert ports come from the backend, made on first
use. Scopes as everywhere: GET needs ``read``, changes ``admin``; a collector's heartbeat needs ``ingest``
(what a collector's key holds), the one route besides readings and imports such a key may call.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import WithJsonSchema

from meterbill.alerts.communication import MAX_WARNING_LENGTH, MAX_WARNINGS
from meterbill.alerts.lifecycle import AlertState
from meterbill.alerts.model import AlertKind, Severity
from meterbill.alerts.ports import AlertFilter
from meterbill.api.alert_schemas import (
    AlertDetail,
    AlertPage,
    AlertRulesRecord,
    AlertSilenceInput,
    AlertSilencePage,
    AlertSilenceRecord,
    AlertSubscriptionInput,
    AlertSubscriptionPage,
    AlertSubscriptionRecord,
    HeartbeatInput,
    HeartbeatRecord,
)
from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.routes.common import (
    JSON,
    PAGE_SIZE,
    Cursor,
    IfMatch,
    Limit,
    expected_etag,
    new_router,
    no_content,
    quoted,
)
from meterbill.errors import InvalidInputError

router = new_router()

StateQuery = Annotated[AlertState | None, Query(description="pending, firing or resolved")]
KindQuery = Annotated[AlertKind | None, Query(description="one alert kind")]
SeverityQuery = Annotated[Severity | None, Query(description="info, warning or critical")]
SiteQuery = Annotated[str | None, Query(min_length=1, max_length=64, description="a site's id")]
SilenceStateQuery = Annotated[
    Literal["pending", "active", "expired"] | None,
    Query(description="pending (not started), active or expired, as of now; default: all"),
]
RulesDocument = Annotated[
    dict[str, Any],
    Body(),
    WithJsonSchema(
        {
            "type": "object",
            "description": "the rules document (docs/alerts.md): every section and field optional, absent "
            "ones take the detectors' defaults; numbers as JSON numbers or decimal strings",
        }
    ),
]


# --- alerts -------------------------------------------------------------------------------------------------


@router.get(
    "/v1/alerts",
    summary="List alerts",
    description="The account's alerts, newest first (by first seen); every given filter must match.",
    tags=["alerts"],
)
def list_alerts(
    caller: AuthorizedCaller,
    state: StateQuery = None,
    kind: KindQuery = None,
    site_id: SiteQuery = None,
    severity: SeverityQuery = None,
    limit: Limit = PAGE_SIZE,
    cursor: Cursor = None,
) -> AlertPage:
    from meterbill.services import alert_admin

    query = AlertFilter(state=state, kind=kind, site_id=site_id, severity=severity)
    page = alert_admin.list_alerts(caller.account, query, caller.alert_store(), limit=limit, cursor=cursor)
    return AlertPage.of(page)


@router.get(
    "/v1/alerts/<alert_id>",
    summary="Read an alert with its history",
    description="With its facts, what it depends on, whether it is muted (inhibited by an offline meter or "
    "collector, silenced) and by what, and its last 20 state changes.",
    tags=["alerts"],
)
def get_alert(alert_id: str, caller: AuthorizedCaller) -> AlertDetail:
    from meterbill.services import alert_admin

    return AlertDetail.of(alert_admin.get_alert(caller.account, alert_id, caller.alert_store()))


@router.post(
    "/v1/alerts/<alert_id>/ack",
    summary="Acknowledge an alert",
    description="A person has it in hand: no more reminders (its resolve is still announced). Recorded "
    "with the API key's id and the time; acknowledging it again changes nothing. 409 when it is resolved. "
    "No body (an empty object is taken as none).",
    tags=["alerts"],
)
def acknowledge_alert(alert_id: str, caller: AuthorizedCaller, request: Request) -> AlertDetail:
    from meterbill.services import alert_admin

    if (request.resolved_event.body or "").strip() not in ("", "{}"):
        # The alert store keeps who and when, not a comment: refused rather than dropped.
        raise InvalidInputError("body", "this route takes no body (an acknowledgement records no comment)")

    alert = alert_admin.acknowledge(
        caller.account, alert_id, caller.principal.key_id, caller.now(), caller.alert_store()
    )
    return AlertDetail.of(alert)


# --- rules --------------------------------------------------------------------------------------------------


@router.get(
    "/v1/alert-rules",
    summary="Read the alert rules",
    description="The account's rules document as stored ({} before the first PUT: the defaults), with its "
    "ETag (none before the first PUT).",
    tags=["alerts"],
)
def get_alert_rules(caller: AuthorizedCaller) -> Response[AlertRulesRecord]:
    from meterbill.services import alert_admin

    document, etag = alert_admin.get_rules(caller.account, caller.alert_store())
    headers = {"ETag": quoted(etag)} if etag is not None else {}
    record = AlertRulesRecord(document=dict(document), etag=etag)
    return Response(200, content_type=JSON, body=record, headers=headers)


@router.put(
    "/v1/alert-rules",
    summary="Replace the alert rules",
    description="The body is the whole rules document (docs/alerts.md): thresholds per account, with "
    "site and meter overrides, and the lifecycle's timings. It is checked whole: 422 names the dotted field "
    "of the first problem (energy_evasion.min_percent) and nothing changes. If-Match: 412 when it changed "
    "since.",
    tags=["alerts"],
)
def put_alert_rules(
    document: RulesDocument, caller: AuthorizedCaller, if_match: IfMatch = None
) -> Response[AlertRulesRecord]:
    from meterbill.services import alert_admin

    stored, etag = alert_admin.put_rules(
        caller.account, document, caller.alert_store(), if_match=expected_etag(if_match)
    )
    record = AlertRulesRecord(document=dict(stored), etag=etag)
    return Response(200, content_type=JSON, body=record, headers={"ETag": quoted(etag)})


# --- silences -----------------------------------------------------------------------------------------------


@router.post(
    "/v1/alert-silences",
    status_code=201,
    summary="Create a silence",
    description="Mutes the alerts every matcher matches (kind, severity, subject_kind, subject_id, site_id) "
    "from starts_at (default now) until ends_at: they stay listed, marked silenced, and nobody is notified. "
    "It expires by itself.",
    tags=["alerts"],
)
def create_silence(body: AlertSilenceInput, caller: AuthorizedCaller) -> Response[AlertSilenceRecord]:
    from meterbill.services import alert_admin

    now = caller.now()
    silence = alert_admin.create_silence(
        caller.account,
        [(m.name, m.value) for m in body.matchers],
        body.starts_at,
        body.ends_at,
        body.comment,
        caller.principal.key_id,
        now,
        caller.alert_store(),
    )
    record = AlertSilenceRecord.of(silence, alert_admin.silence_state(silence, now))
    headers = {"Location": f"/v1/alert-silences/{silence.id}"}
    return Response(201, content_type=JSON, body=record, headers=headers)


@router.get(
    "/v1/alert-silences",
    summary="List silences",
    description="Newest starts_at first; state as of now.",
    tags=["alerts"],
)
def list_silences(
    caller: AuthorizedCaller, state: SilenceStateQuery = None, limit: Limit = PAGE_SIZE, cursor: Cursor = None
) -> AlertSilencePage:
    from meterbill.services import alert_admin

    now = caller.now()
    page = alert_admin.list_silences(
        caller.account,
        state,
        now,
        caller.alert_store(),
        limit=limit,
        cursor=cursor,
    )
    items = [AlertSilenceRecord.of(s, alert_admin.silence_state(s, now)) for s in page.items]
    return AlertSilencePage(items=items, next_cursor=page.cursor)


@router.get("/v1/alert-silences/<silence_id>", summary="Read a silence", tags=["alerts"])
def get_silence(silence_id: str, caller: AuthorizedCaller) -> AlertSilenceRecord:
    from meterbill.services import alert_admin

    silence = alert_admin.get_silence(caller.account, silence_id, caller.alert_store())
    return AlertSilenceRecord.of(silence, alert_admin.silence_state(silence, caller.now()))


@router.delete(
    "/v1/alert-silences/<silence_id>",
    summary="End a silence now",
    description="DELETE of a silence ends it now (ends_at becomes now; a pending one never starts); it stays "
    "listed as expired, for the record. The answer is the ended silence; 409 when it has expired already.",
    tags=["alerts"],
    responses={200: {"description": "the ended silence"}, 409: {"description": "it has expired already"}},
)
def end_silence(silence_id: str, caller: AuthorizedCaller) -> AlertSilenceRecord:
    from meterbill.services import alert_admin

    now = caller.now()
    silence = alert_admin.end_silence(caller.account, silence_id, now, caller.alert_store())
    return AlertSilenceRecord.of(silence, alert_admin.silence_state(silence, now))


# --- subscriptions ------------------------------------------------------------------------------------------


@router.post(
    "/v1/alert-subscriptions",
    status_code=201,
    summary="Subscribe an email address to alerts",
    description="An SNS email subscription whose filter admits only this account's alerts of min_severity "
    "or above, of the kinds and at the sites given (default: all). SNS mails the address a link to confirm: "
    "status stays pending_confirmation until then. One subscription per address. 501 when this deployment "
    "has no alerts topic.",
    tags=["alerts"],
    responses={
        201: {"description": "subscribed, pending confirmation"},
        501: {"description": "this deployment has no alerts topic (ALERTS_TOPIC_ARN)"},
    },
)
def create_subscription(
    body: AlertSubscriptionInput, caller: AuthorizedCaller
) -> Response[AlertSubscriptionRecord]:
    from meterbill.services import alert_admin

    view = alert_admin.subscribe(
        caller.account,
        body.email,
        body.kinds,
        body.min_severity,
        body.site_ids,
        caller.now(),
        caller.alert_store(),
        caller.stores.catalog,
        caller.alert_subscriptions,
    )
    headers = {"Location": f"/v1/alert-subscriptions/{view.record.id}"}
    return Response(201, content_type=JSON, body=AlertSubscriptionRecord.of(view), headers=headers)


@router.get(
    "/v1/alert-subscriptions",
    summary="List email subscriptions",
    description="Oldest first, each with its status read from SNS now.",
    tags=["alerts"],
    responses={
        200: {"description": "the subscriptions"},
        501: {"description": "this deployment has no alerts topic"},
    },
)
def list_subscriptions(
    caller: AuthorizedCaller, limit: Limit = PAGE_SIZE, cursor: Cursor = None
) -> AlertSubscriptionPage:
    from meterbill.services import alert_admin

    page = alert_admin.list_subscriptions(
        caller.account, caller.alert_store(), caller.alert_subscriptions, limit=limit, cursor=cursor
    )
    items = [AlertSubscriptionRecord.of(view) for view in page.items]
    return AlertSubscriptionPage(items=items, next_cursor=page.cursor)


@router.get(
    "/v1/alert-subscriptions/<subscription_id>",
    summary="Read an email subscription",
    description="With its status read from SNS now.",
    tags=["alerts"],
    responses={
        200: {"description": "the subscription"},
        501: {"description": "this deployment has no alerts topic"},
    },
)
def get_subscription(subscription_id: str, caller: AuthorizedCaller) -> AlertSubscriptionRecord:
    from meterbill.services import alert_admin

    view = alert_admin.get_subscription(
        caller.account, subscription_id, caller.alert_store(), caller.alert_subscriptions
    )
    return AlertSubscriptionRecord.of(view)


@router.delete(
    "/v1/alert-subscriptions/<subscription_id>",
    status_code=204,
    summary="Delete an email subscription",
    description="Unsubscribes the address in SNS (a pending subscription too), then forgets it.",
    tags=["alerts"],
    responses={
        204: {"description": "unsubscribed"},
        501: {"description": "this deployment has no alerts topic"},
    },
)
def delete_subscription(subscription_id: str, caller: AuthorizedCaller) -> Response[None]:
    from meterbill.services import alert_admin

    alert_admin.unsubscribe(caller.account, subscription_id, caller.alert_store(), caller.alert_subscriptions)
    return no_content()


# --- collectors ---------------------------------------------------------------------------------------------


@router.post(
    "/v1/collectors/<collector_id>/heartbeats",
    status_code=202,
    summary="Send a collector's heartbeat",
    description="Its version, spool depth and last push, and per meter it reads the last successful read "
    "(last_read_at), the error of the last attempt (error), or both; received_at is the server's clock. A "
    "meter's error raises its communication alert at once; a collector whose heartbeats stop raises one "
    f"alert for the collector. Its warnings (at most {MAX_WARNINGS}, each 1 to {MAX_WARNING_LENGTH} "
    "characters) raise a collector_warning alert until a later heartbeat carries none. Meters and site must "
    "be the account's (422 naming meters[i].meter_id). An ingest key may send it. The answer is what was "
    "stored.",
    tags=["alerts"],
    responses={202: {"description": "stored"}},
)
def post_heartbeat(
    collector_id: str, caller: AuthorizedCaller, body: Annotated[HeartbeatInput, Body()]
) -> Response[HeartbeatRecord]:
    from datetime import timedelta

    from meterbill.alerts.communication import MeterStatus
    from meterbill.services import alert_admin

    stored = alert_admin.record_heartbeat(
        caller.account,
        collector_id,
        version=body.version,
        spool_depth=body.spool_depth,
        last_push_at=body.last_push_at,
        site_id=body.site_id,
        meters=[MeterStatus(m.meter_id, m.last_read_at, m.error) for m in body.meters],
        now=caller.now(),
        store=caller.alert_store(),
        catalog=caller.stores.catalog,
        future_tolerance=timedelta(seconds=caller.settings.future_tolerance_seconds),
        warnings=body.warnings,
    )
    return Response(202, content_type=JSON, body=HeartbeatRecord.of(stored))
