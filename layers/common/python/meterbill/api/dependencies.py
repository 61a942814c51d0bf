"""What routes need besides the request: the caller (from the authorizer) and the backend (stores, settings,
clock, idempotency store).

The backend is built once per cold start, on the first request that needs it, from the environment
(``ApiSettings.from_env``); nothing connects at import time. Tests and the local server ``configure`` their
own (fake stores, a fixed clock, a moto table) and ``reset`` to go back to the environment.

The caller's account always comes from the authorizer's context (``requestContext.authorizer``: the REST API
passes ``account_id``, ``key_id``, ``scopes`` and ``auth`` as strings), never from a body, a path or a query.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Final

from aws_lambda_powertools.event_handler import Depends, Request
from aws_lambda_powertools.utilities.typing import LambdaContext

from meterbill.api.problems import FeatureNotConfiguredError
from meterbill.errors import UnauthorizedError
from meterbill.ports import DeliveryQueue, DeliveryWork, Stores
from meterbill.services.apikeys import ALL_SCOPES, Principal, require_scope, required_scope
from meterbill.settings import ApiSettings

if TYPE_CHECKING:  # powertools' idempotency package loads boto3: only a request with an Idempotency-Key pays
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

    from meterbill.alerts.ports import AlertStore, AlertSubscriptions, AlertWorkQueue

NO_KEY: Final = "this route needs an API key: Authorization: Bearer <key>"
LAMBDA_CONTEXT: Final = "lambda_context"  # where the resolver leaves the Lambda context (``Request.context``)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Backend:
    """Stores and settings of this function; ``idempotency`` makes the idempotency store on first use."""

    settings: ApiSettings
    stores: Stores
    idempotency: Callable[[], BasePersistenceLayer]
    clock: Callable[[], datetime] = field(default=utc_now)
    # The email queue (resends); None: the one the settings name (EMAIL_QUEUE_URL), made on first use.
    email_queue: Callable[[], DeliveryQueue] | None = None
    # The alert ports; None: built from the settings on first use (the alert store on the catalog table, the
    # alerts topic's subscriptions, the alerts' readings queue).
    alert_store: Callable[[], AlertStore] | None = None
    alert_subscriptions: Callable[[], AlertSubscriptions] | None = None
    alert_queue: Callable[[], AlertWorkQueue] | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """An authorized request: who it acts for, and the backend to act with."""

    principal: Principal
    backend: Backend
    lambda_context: LambdaContext | None = None

    @property
    def account(self) -> str:
        return self.principal.account

    @property
    def stores(self) -> Stores:
        return self.backend.stores

    @property
    def settings(self) -> ApiSettings:
        return self.backend.settings

    def now(self) -> datetime:
        return self.backend.clock()

    def email_queue(self) -> DeliveryQueue:
        """The email queue, made when a message is first sent (a refused request makes none)."""
        backend = self.backend
        make = backend.email_queue or (lambda: _email_queue_of(backend.settings))
        return LazyQueue(make)

    def alert_store(self) -> AlertStore:
        backend = self.backend
        return (backend.alert_store or (lambda: _alert_store_of(backend.settings)))()

    def alert_subscriptions(self) -> AlertSubscriptions:
        """The alerts topic's email subscriptions; ``FeatureNotConfiguredError`` (501) when the deployment has
        no alerts topic (``ALERTS_TOPIC_ARN``)."""
        backend = self.backend
        if not backend.settings.alerts_topic_arn:
            raise FeatureNotConfiguredError(
                "email subscriptions to alerts", "ALERTS_TOPIC_ARN", "this deployment has no alerts topic"
            )
        return (backend.alert_subscriptions or (lambda: _alert_subscriptions_of(backend.settings)))()

    def alert_queue(self) -> AlertWorkQueue | None:
        """The alerts' readings queue, or None when the deployment has none (``ALERTS_QUEUE_URL``)."""
        backend = self.backend
        if not backend.settings.alerts_queue_url:
            return None
        return (backend.alert_queue or (lambda: _alert_queue_of(backend.settings)))()


_configured: Backend | None = None


def configure(backend: Backend) -> None:
    """Use ``backend`` from now on (tests, the local server) instead of the one the environment describes."""
    global _configured
    _configured = backend


def reset() -> None:
    """Forget any configured backend and the one built from the environment."""
    global _configured
    _configured = None
    _from_environment.cache_clear()


def backend() -> Backend:
    return _configured if _configured is not None else _from_environment()


@cache
def _from_environment() -> Backend:
    from meterbill.adapters.dynamodb import build_stores  # the stores' modules load with the first request
    from meterbill.adapters.s3 import S3DocumentStore

    settings = ApiSettings.from_env(os.environ)
    stores = build_stores(settings.storage)
    if settings.invoices_bucket:
        documents = S3DocumentStore(
            settings.invoices_bucket, region=settings.storage.region, endpoint_url=settings.s3_endpoint_url
        )
        stores = replace(stores, documents=documents)
    return Backend(settings=settings, stores=stores, idempotency=_idempotency_store(settings))


class LazyQueue(DeliveryQueue):
    """The queue ``make`` gives, made when the first message is sent (a refused request makes none)."""

    def __init__(self, make: Callable[[], DeliveryQueue]) -> None:
        self._make = make

    def send(self, items: Sequence[DeliveryWork]) -> None:
        self._make().send(items)


@cache
def _email_queue_of(settings: ApiSettings) -> DeliveryQueue:
    from meterbill.adapters.email_queue import SqsDeliveryQueue

    if not settings.email_queue_url:
        raise RuntimeError("EMAIL_QUEUE_URL is not set")
    return SqsDeliveryQueue(
        settings.email_queue_url, region=settings.storage.region, endpoint_url=settings.sqs_endpoint_url
    )


@cache
def _alert_store_of(settings: ApiSettings) -> AlertStore:
    from meterbill.adapters.dynamodb import build_alert_store  # type: ignore[attr-defined,unused-ignore]

    store: AlertStore = build_alert_store(settings.storage)
    return store


@cache
def _alert_subscriptions_of(settings: ApiSettings) -> AlertSubscriptions:
    from meterbill.adapters.sns import build_alert_delivery  # type: ignore[import-not-found,unused-ignore]

    delivery = build_alert_delivery(
        settings.alerts_topic_arn, settings.storage.region, settings.sns_endpoint_url
    )
    subscriptions: AlertSubscriptions = delivery.subscriptions
    return subscriptions


@cache
def _alert_queue_of(settings: ApiSettings) -> AlertWorkQueue:
    from meterbill.adapters.sqs import SqsAlertWorkQueue

    return SqsAlertWorkQueue(
        settings.alerts_queue_url, region=settings.storage.region, endpoint_url=settings.sqs_endpoint_url
    )


def _idempotency_store(settings: ApiSettings) -> Callable[[], BasePersistenceLayer]:
    @cache
    def make() -> BasePersistenceLayer:
        from meterbill.api.idempotency import dynamodb_store

        return dynamodb_store(settings)

    return make


def principal_of(authorizer_context: Mapping[str, Any]) -> Principal:
    """The account, key and scopes the authorizer found for the request's key; UnauthorizedError when the
    context lacks them (a route deployed without the authorizer must not run). Unknown scopes are ignored."""
    account, key_id = authorizer_context.get("account_id"), authorizer_context.get("key_id")
    scopes_text = authorizer_context.get("scopes")
    if not (
        isinstance(account, str) and account and isinstance(key_id, str) and isinstance(scopes_text, str)
    ):
        raise UnauthorizedError(NO_KEY)
    held = {part.strip() for part in scopes_text.split(",")}
    scopes = frozenset(s for s in ALL_SCOPES if s in held)
    if authorizer_context.get("auth") == "session":
        return Principal(account=account, key_id=key_id, scopes=scopes, auth="session")
    return Principal(account=account, key_id=key_id, scopes=scopes)


def authorized_caller(request: Request) -> Caller:
    """The caller of a route, after checking its key's scopes against the route that matched (the gate checked
    the path as sent already; this checks the route template, whatever the path looked like)."""
    context = (request.resolved_event.get("requestContext") or {}).get("authorizer") or {}
    principal = principal_of(context)
    require_scope(principal.scopes, required_scope(request.method, request.route))
    return Caller(principal=principal, backend=backend(), lambda_context=request.context.get(LAMBDA_CONTEXT))


AuthorizedCaller = Annotated[Caller, Depends(authorized_caller)]
