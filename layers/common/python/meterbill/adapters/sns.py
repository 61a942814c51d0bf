"""The alerts topic on Amazon SNS (boto3): ``SnsAlertPublisher`` publishes rendered notifications
(``alerts.messages``), ``SnsAlertSubscriptions`` manages the email subscriptions and their filter policies
(``alerts.subscriptions``).

- Publish: ``Subject``, ``Message`` and ``MessageAttributes`` (``kind`` and ``state`` as ``String.Array``, the
  others ``String``). Publishing is at least once: botocore's standard retries may send a message twice when
  an answer is lost; a notification is never lost for it (``AlertStore`` keeps it unsent until published).
- Subscribe: protocol ``email``, ``FilterPolicy`` (JSON) with ``FilterPolicyScope: MessageAttributes``, and
  ``ReturnSubscriptionArn`` so a subscription pending confirmation has its real ARN. SNS keeps one
  subscription per address and topic: subscribing an address again with the same filter gives the existing
  ARN back, with another filter (another account, another choice of alerts) AWS refuses it ("Subscription
  already exists with different attributes") and so does the adapter (``InvalidInputError`` on ``email``).
  moto would silently replace the first filter instead, so the adapter looks for a confirmed subscription
  of the address itself first (a pending one is not listed with its ARN: SNS's answer decides then).
- Status: ``GetSubscriptionAttributes``' ``PendingConfirmation`` (``"true"``: the recipient has not clicked
  the link yet); ``NotFound`` (never confirmed within 48 hours, or unsubscribed by the recipient) is
  ``deleted``.
- Errors: throttling, SNS's 5xx answers and an unreachable endpoint are ``StorageUnavailableError`` (retry
  later), and so is ``FilterPolicyLimitExceeded`` (SNS allows 200 filter policies per topic and 10,000 per
  AWS account by default: raise the quota; not the caller's fault); ``InvalidParameter`` on subscribe (a
  bad address) is ``InvalidInputError("email", ...)``; anything else is raised as it is (a missing
  permission is a deployment fault, not the caller's).

The client is made on first use, never at import time or in the constructor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, TypeVar

from meterbill.alerts.messages import ARRAY_ATTRIBUTES
from meterbill.alerts.ports import AlertMessage, AlertPublisher, AlertSubscriptions, SubscriptionStatus
from meterbill.errors import InvalidInputError, StorageUnavailableError

T = TypeVar("T")

# SNS answers that mean "not now": throttled (SNS or the topic's KMS key), or SNS's own fault.
UNAVAILABLE_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "ThrottledException",
        "KMSThrottling",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "FilterPolicyLimitExceeded",  # the topic's or account's quota of filter policies (Service Quotas)
    }
)
INVALID_CODES: Final = frozenset({"InvalidParameter", "InvalidParameterValue"})
NOT_FOUND_CODES: Final = frozenset({"NotFound", "NotFoundException", "ResourceNotFound"})
PENDING_ARN: Final = "PendingConfirmation"  # what SNS lists instead of a pending subscription's ARN
_LIST_PAGES: Final = 20  # 2,000 subscriptions; SNS allows 200 filter policies per topic by default


class _SnsTopic:
    def __init__(
        self, topic_arn: str, region: str, endpoint_url: str | None = None, *, client: Any | None = None
    ) -> None:
        if not topic_arn:
            raise ValueError("the alerts topic ARN is empty (ALERTS_TOPIC_ARN is not set)")
        self.topic_arn = topic_arn
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]  # only a call that reaches SNS pays for it
            from botocore.config import Config  # type: ignore[import-untyped]

            config = Config(
                retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=10
            )
            self._client = boto3.client(
                "sns", region_name=self._region, endpoint_url=self._endpoint_url, config=config
            )
        return self._client

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """``call()``, with SNS's transient failures as ``StorageUnavailableError``."""
        from botocore.exceptions import (  # type: ignore[import-untyped]
            ClientError,
            ConnectionError,
            EndpointConnectionError,
            HTTPClientError,
        )

        try:
            return call()
        except ClientError as error:
            code = error_code(error)
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in UNAVAILABLE_CODES or status >= 500:
                raise StorageUnavailableError(f"SNS {what}: {code}: {_message(error)}") from error
            raise
        except (EndpointConnectionError, ConnectionError, HTTPClientError) as error:
            raise StorageUnavailableError(f"SNS {what}: {error}") from error


class SnsAlertPublisher(_SnsTopic, AlertPublisher):
    def publish(self, message: AlertMessage) -> str:
        attributes = {
            name: {
                "DataType": "String.Array" if name in ARRAY_ATTRIBUTES else "String",
                "StringValue": value,
            }
            for name, value in sorted(message.attributes.items())
        }
        answer = self._call(
            "Publish",
            lambda: self.client.publish(
                TopicArn=self.topic_arn,
                Subject=message.subject,
                Message=message.body,
                MessageAttributes=attributes,
            ),
        )
        return str(answer["MessageId"])


class SnsAlertSubscriptions(_SnsTopic, AlertSubscriptions):
    def subscribe_email(self, email: str, filter_policy: Mapping[str, Any]) -> str:
        from botocore.exceptions import ClientError

        existing = self._confirmed_subscription(email)
        if existing is not None:
            arn, policy = existing
            if policy == json.loads(json.dumps(filter_policy)):
                return arn  # the same request again: SNS gives the same subscription back
            raise InvalidInputError("email", _ALREADY_SUBSCRIBED)
        try:
            answer = self._call(
                "Subscribe",
                lambda: self.client.subscribe(
                    TopicArn=self.topic_arn,
                    Protocol="email",
                    Endpoint=email,
                    Attributes={
                        "FilterPolicy": json.dumps(filter_policy, sort_keys=True),
                        "FilterPolicyScope": "MessageAttributes",
                    },
                    ReturnSubscriptionArn=True,
                ),
            )
        except ClientError as error:
            if error_code(error) not in INVALID_CODES:
                raise
            if "already exists" in _message(error).lower():
                raise InvalidInputError("email", _ALREADY_SUBSCRIBED) from error
            raise InvalidInputError("email", f"refused by SNS: {_message(error)}") from error
        return str(answer["SubscriptionArn"])

    def status(self, subscription_arn: str) -> SubscriptionStatus:
        from botocore.exceptions import ClientError

        try:
            answer = self._call(
                "GetSubscriptionAttributes",
                lambda: self.client.get_subscription_attributes(SubscriptionArn=subscription_arn),
            )
        except ClientError as error:
            if error_code(error) in NOT_FOUND_CODES:
                return "deleted"
            raise
        return status_of(answer.get("Attributes", {}))

    def unsubscribe(self, subscription_arn: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("Unsubscribe", lambda: self.client.unsubscribe(SubscriptionArn=subscription_arn))
        except ClientError as error:
            if error_code(error) not in NOT_FOUND_CODES:
                raise

    def email_subscriptions(self) -> Iterator[tuple[str, str]]:
        """(endpoint, subscription ARN) of the topic's email subscriptions; a pending one's ARN is
        ``PENDING_ARN`` (SNS does not list it)."""
        token: str | None = None
        for _ in range(_LIST_PAGES):
            kwargs = {"TopicArn": self.topic_arn, **({"NextToken": token} if token else {})}
            page = self._call(
                "ListSubscriptionsByTopic",
                partial(self.client.list_subscriptions_by_topic, **kwargs),
            )
            for sub in page.get("Subscriptions", []):
                if sub.get("Protocol") == "email":
                    yield str(sub["Endpoint"]), str(sub["SubscriptionArn"])
            token = page.get("NextToken")
            if not token:
                return

    def filter_policy_of(self, subscription_arn: str) -> dict[str, Any] | None:
        """The subscription's filter policy (None: none, or the subscription is gone)."""
        from botocore.exceptions import ClientError

        try:
            answer = self._call(
                "GetSubscriptionAttributes",
                lambda: self.client.get_subscription_attributes(SubscriptionArn=subscription_arn),
            )
        except ClientError as error:
            if error_code(error) in NOT_FOUND_CODES:
                return None
            raise
        text = answer.get("Attributes", {}).get("FilterPolicy")
        return dict(json.loads(text)) if text else None

    def _confirmed_subscription(self, email: str) -> tuple[str, dict[str, Any] | None] | None:
        for endpoint, arn in self.email_subscriptions():
            if endpoint == email and arn != PENDING_ARN:
                return arn, self.filter_policy_of(arn)
        return None


_ALREADY_SUBSCRIBED: Final = (
    "this address already subscribes to the alerts with another filter (SNS keeps one subscription per "
    "address): delete that subscription first, or use another address"
)


def status_of(attributes: Mapping[str, Any]) -> SubscriptionStatus:
    """``PendingConfirmation`` ``"true"`` (a string in SNS's answer) -> pending; otherwise confirmed."""
    pending = str(attributes.get("PendingConfirmation", "false")).lower() == "true"
    return "pending_confirmation" if pending else "confirmed"


def error_code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or error_code(error)


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    publisher: SnsAlertPublisher
    subscriptions: SnsAlertSubscriptions


def build_alert_delivery(topic_arn: str, region: str, endpoint_url: str | None = None) -> AlertDelivery:
    """The publisher and the subscriptions of the alerts topic (no client is made until the first call)."""
    return AlertDelivery(
        publisher=SnsAlertPublisher(topic_arn, region, endpoint_url),
        subscriptions=SnsAlertSubscriptions(topic_arn, region, endpoint_url),
    )
