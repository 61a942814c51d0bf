"""The alerts topic on moto SNS: published messages carry the rendered subject, body and attributes; each
subscription's filter policy (read back from moto's backend) admits only its account's matching alerts, as SQS
subscribers with the same policies show (moto delivers to SQS and applies filter policies); email
subscriptions' status and removal; and the local mail folder's .eml files for the admitted subscribers only.

moto confirms an email subscription at once (``PendingConfirmation`` "false"); real SNS waits for the
recipient's click, so the pending mapping is tested on a stubbed client answering as AWS does."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from local.alert_mail import SENDER, footer, sns_email_subscribers, write_alert_mail
from meterbill.adapters.sns import SnsAlertPublisher, SnsAlertSubscriptions, build_alert_delivery
from meterbill.alerts.lifecycle import Alert, Notification, NotificationItem, Reason
from meterbill.alerts.messages import render
from meterbill.alerts.model import AlertKind, Severity, Subject
from meterbill.alerts.subscriptions import SubscriptionRequest
from meterbill.errors import InvalidInputError, StorageUnavailableError
from tests.integration.conftest import REGION

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
A_EMAIL, B_EMAIL = "ops@a.example", "energy@b.example"
# A: every kind, warning and up. B: only energy evasion, critical, at one site.
A_REQUEST = SubscriptionRequest(A_EMAIL)
B_REQUEST = SubscriptionRequest(B_EMAIL, ("energy_evasion",), "critical", ("hamburg",))
A_POLICY = {"account_id": ["acct-a"], "severity": ["warning", "critical"]}
B_POLICY = {
    "account_id": ["acct-b"],
    "severity": ["critical"],
    "kind": ["energy_evasion"],
    "site_id": ["hamburg"],
}


def alert(account: str, kind: AlertKind, severity: Severity, site: str, subject_id: str) -> Alert:
    return Alert(
        id=f"{account}-{kind}-{subject_id}",
        fingerprint=f"{account}-{kind}",
        account_id=account,
        kind=kind,
        subject=Subject("meter", subject_id, site_id=site),
        state="firing",
        severity=severity,
        summary=f"{kind} on {subject_id}",
        facts={"value": "12.340"},
        depends_on=(),
        first_seen=T0,
        last_seen=T0,
        active_since=T0,
        fired_at=T0,
    )


def note(account: str, site: str, *items: tuple[Reason, Alert]) -> Notification:
    return Notification(
        account, site, T0 + timedelta(seconds=30), tuple(NotificationItem(r, a) for r, a in items)
    )


# Six notifications; A's policy admits #0, B's admits #2 and #5.
NOTIFICATIONS = [
    note(  # 0: A, warning + critical at berlin -> A
        "acct-a",
        "berlin",
        ("firing", alert("acct-a", "communication", "warning", "berlin", "m-1")),
        ("resolved", alert("acct-a", "energy_evasion", "critical", "berlin", "main-1")),
    ),
    note(
        "acct-a", "berlin", ("firing", alert("acct-a", "meter_exchange", "info", "berlin", "m-2"))
    ),  # 1: info
    note(
        "acct-b", "hamburg", ("firing", alert("acct-b", "energy_evasion", "critical", "hamburg", "main-9"))
    ),  # 2
    note(
        "acct-b", "munich", ("firing", alert("acct-b", "energy_evasion", "critical", "munich", "main-8"))
    ),  # 3
    note(
        "acct-b", "hamburg", ("firing", alert("acct-b", "communication", "critical", "hamburg", "m-9"))
    ),  # 4
    note(  # 5: B, grouped: one of its kinds is energy_evasion, its highest severity critical -> B
        "acct-b",
        "hamburg",
        ("reminder", alert("acct-b", "communication", "warning", "hamburg", "m-7")),
        ("firing", alert("acct-b", "energy_evasion", "critical", "hamburg", "main-7")),
    ),
]
MESSAGES = [render(n) for n in NOTIFICATIONS]


@dataclass
class Topic:
    arn: str
    sqs: Any
    sns: Any
    queues: dict[str, str]  # "a" / "b" -> queue URL


def subscribe_queue(topic: Topic, name: str, policy: dict[str, Any]) -> str:
    url = topic.sqs.create_queue(QueueName=f"alerts-{name}")["QueueUrl"]
    queue_arn = topic.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic.sns.subscribe(
        TopicArn=topic.arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageAttributes"},
    )
    topic.queues[name] = url
    return url


def received(topic: Topic, name: str) -> list[dict[str, Any]]:
    envelopes = []
    while answer := topic.sqs.receive_message(QueueUrl=topic.queues[name], MaxNumberOfMessages=10).get(
        "Messages"
    ):
        envelopes += [json.loads(m["Body"]) for m in answer]
        topic.sqs.delete_message_batch(
            QueueUrl=topic.queues[name],
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in answer],
        )
    return envelopes


@pytest.fixture
def topic(aws: None) -> Iterator[Topic]:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    yield Topic(sns.create_topic(Name="meterbill-alerts")["TopicArn"], sqs, sns, {})


def backend_topic(topic: Topic) -> Any:
    return sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[topic.arn]


def backend_subscription(arn: str) -> Any:
    return sns_backends[DEFAULT_ACCOUNT_ID][REGION].subscriptions[arn]


def test_no_client_is_made_before_the_first_call() -> None:
    delivery = build_alert_delivery("arn:aws:sns:eu-central-1:123456789012:alerts", REGION, None)
    assert (delivery.publisher._client, delivery.subscriptions._client) == (None, None)


def test_published_messages_carry_the_rendered_subject_body_and_typed_attributes(topic: Topic) -> None:
    publisher = SnsAlertPublisher(topic.arn, REGION)

    ids = [publisher.publish(m) for m in MESSAGES]

    # The data types matter on AWS (a String attribute holding a JSON list matches only that exact text);
    # moto's matcher reads any String as JSON too, so only this assertion guards them.
    sent = backend_topic(topic).sent_notifications
    assert [s[0] for s in sent] == ids
    assert [(s[1], s[2]) for s in sent] == [(m.body, m.subject) for m in MESSAGES]
    assert sent[0][3] == {
        "account_id": {"Type": "String", "Value": "acct-a"},
        "kind": {"Type": "String.Array", "Value": '["communication","energy_evasion"]'},
        "severity": {"Type": "String", "Value": "critical"},
        "site_id": {"Type": "String", "Value": "berlin"},
        "state": {"Type": "String.Array", "Value": '["firing","resolved"]'},
    }
    assert [{k: v["Value"] for k, v in s[3].items()} for s in sent] == [dict(m.attributes) for m in MESSAGES]


def test_each_subscription_keeps_its_policy_and_admits_only_its_accounts_matching_alerts(
    topic: Topic,
) -> None:
    subscriptions = SnsAlertSubscriptions(topic.arn, REGION)
    a_arn = subscriptions.subscribe_email(A_EMAIL, A_REQUEST.filter_policy("acct-a"))
    b_arn = subscriptions.subscribe_email(B_EMAIL, B_REQUEST.filter_policy("acct-b"))
    subscribe_queue(topic, "a", A_REQUEST.filter_policy("acct-a"))
    subscribe_queue(topic, "b", B_REQUEST.filter_policy("acct-b"))

    for message in MESSAGES:
        SnsAlertPublisher(topic.arn, REGION).publish(message)

    for arn, policy, address in ((a_arn, A_POLICY, A_EMAIL), (b_arn, B_POLICY, B_EMAIL)):
        stored = backend_subscription(arn).attributes
        assert (stored["Protocol"], stored["Endpoint"]) == ("email", address)
        assert json.loads(stored["FilterPolicy"]) == policy
        assert stored["FilterPolicyScope"] == "MessageAttributes"
        assert subscriptions.filter_policy_of(arn) == policy
    a_got, b_got = received(topic, "a"), received(topic, "b")
    assert [(e["Subject"], e["Message"]) for e in a_got] == [(MESSAGES[0].subject, MESSAGES[0].body)]
    assert [(e["Subject"], e["Message"]) for e in b_got] == [
        (m.subject, m.body) for m in (MESSAGES[2], MESSAGES[5])
    ]
    assert {e["MessageAttributes"]["account_id"]["Value"] for e in b_got} == {"acct-b"}


def test_moto_confirms_an_email_subscription_at_once(topic: Topic) -> None:
    subscriptions = SnsAlertSubscriptions(topic.arn, REGION)
    arn = subscriptions.subscribe_email(A_EMAIL, A_POLICY)
    assert (
        topic.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"]
        == "false"
    )
    assert subscriptions.status(arn) == "confirmed"


def test_unsubscribe_removes_it_and_tolerates_a_second_time(topic: Topic) -> None:
    subscriptions = SnsAlertSubscriptions(topic.arn, REGION)
    arn = subscriptions.subscribe_email(A_EMAIL, A_POLICY)

    subscriptions.unsubscribe(arn)
    subscriptions.unsubscribe(arn)

    assert arn not in sns_backends[DEFAULT_ACCOUNT_ID][REGION].subscriptions
    assert subscriptions.status(arn) == "deleted"
    assert list(subscriptions.email_subscriptions()) == []


def test_subscribing_an_address_again_gives_its_subscription_or_refuses_another_filter(topic: Topic) -> None:
    subscriptions = SnsAlertSubscriptions(topic.arn, REGION)
    arn = subscriptions.subscribe_email(A_EMAIL, A_POLICY)

    assert subscriptions.subscribe_email(A_EMAIL, A_POLICY) == arn
    with pytest.raises(InvalidInputError) as caught:
        subscriptions.subscribe_email(A_EMAIL, {**A_POLICY, "account_id": ["acct-b"]})
    assert caught.value.field == "email"
    assert json.loads(backend_subscription(arn).attributes["FilterPolicy"]) == A_POLICY  # not replaced


# --- what AWS answers and moto does not: a stubbed client ---------------------------------------------------

ARN = "arn:aws:sns:eu-central-1:123456789012:meterbill-alerts:4d1a7c2e-0000-0000-0000-000000000001"
TOPIC_ARN = "arn:aws:sns:eu-central-1:123456789012:meterbill-alerts"


@pytest.fixture
def stubbed(aws: None) -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sns", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_a_subscription_waiting_for_the_recipients_click_is_pending(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "get_subscription_attributes",
        {"Attributes": {"PendingConfirmation": "true", "SubscriptionArn": ARN}},
        {"SubscriptionArn": ARN},
    )
    stubber.add_response(
        "get_subscription_attributes",
        {"Attributes": {"PendingConfirmation": "false", "SubscriptionArn": ARN}},
        {"SubscriptionArn": ARN},
    )
    stubber.add_client_error("get_subscription_attributes", "NotFound", "Subscription does not exist", 404)
    subscriptions = SnsAlertSubscriptions(TOPIC_ARN, REGION, client=client)

    assert [subscriptions.status(ARN) for _ in range(3)] == ["pending_confirmation", "confirmed", "deleted"]


def test_subscribe_asks_for_the_arn_of_a_pending_subscription_with_its_policy(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stubber = stubbed
    stubber.add_response("list_subscriptions_by_topic", {"Subscriptions": []}, {"TopicArn": TOPIC_ARN})
    stubber.add_response(
        "subscribe",
        {"SubscriptionArn": ARN},
        {
            "TopicArn": TOPIC_ARN,
            "Protocol": "email",
            "Endpoint": B_EMAIL,
            "Attributes": {
                "FilterPolicy": json.dumps(B_POLICY, sort_keys=True),
                "FilterPolicyScope": "MessageAttributes",
            },
            "ReturnSubscriptionArn": True,
        },
    )
    assert SnsAlertSubscriptions(TOPIC_ARN, REGION, client=client).subscribe_email(B_EMAIL, B_POLICY) == ARN


def test_sns_refusing_the_address_is_bad_input_on_email(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("list_subscriptions_by_topic", {"Subscriptions": []})
    stubber.add_client_error("subscribe", "InvalidParameter", "Invalid parameter: Email address", 400)
    stubber.add_response("list_subscriptions_by_topic", {"Subscriptions": []})
    stubber.add_client_error(
        "subscribe",
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
        400,
    )
    subscriptions = SnsAlertSubscriptions(TOPIC_ARN, REGION, client=client)

    with pytest.raises(InvalidInputError) as bad:
        subscriptions.subscribe_email("ops@a.example", A_POLICY)
    with pytest.raises(InvalidInputError) as taken:
        subscriptions.subscribe_email("ops@a.example", A_POLICY)

    assert (bad.value.field, bad.value.reason) == (
        "email",
        "refused by SNS: Invalid parameter: Email address",
    )
    assert taken.value.field == "email"
    assert taken.value.reason.startswith("this address already subscribes to the alerts with another filter")


@pytest.mark.parametrize(
    ("code", "status"), [("Throttling", 400), ("InternalError", 500), ("KMSThrottling", 400)]
)
def test_throttling_and_snss_faults_are_unavailable(
    stubbed: tuple[Any, Stubber], code: str, status: int
) -> None:
    client, stubber = stubbed
    stubber.add_client_error("publish", code, "slow down", status)
    with pytest.raises(StorageUnavailableError, match=code):
        SnsAlertPublisher(TOPIC_ARN, REGION, client=client).publish(MESSAGES[0])


def test_a_full_filter_policy_quota_is_unavailable_not_bad_input(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("list_subscriptions_by_topic", {"Subscriptions": []})
    stubber.add_client_error("subscribe", "FilterPolicyLimitExceeded", "Filter policy limit exceeded", 403)
    with pytest.raises(StorageUnavailableError, match="FilterPolicyLimitExceeded"):
        SnsAlertSubscriptions(TOPIC_ARN, REGION, client=client).subscribe_email(A_EMAIL, A_POLICY)


def test_an_unreachable_endpoint_is_unavailable(aws: None) -> None:
    client = boto3.client(
        "sns",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(StorageUnavailableError, match="Publish"):
        SnsAlertPublisher(TOPIC_ARN, REGION, client=client).publish(MESSAGES[0])


def test_unsubscribing_a_subscription_sns_no_longer_has_is_nothing(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("unsubscribe", "NotFound", "Subscription does not exist", 404)
    SnsAlertSubscriptions(TOPIC_ARN, REGION, client=client).unsubscribe(ARN)


# --- the local mail folder ---------------------------------------------------------------------------------


def test_the_local_mail_folder_gets_the_email_of_each_admitted_subscriber_only(
    topic: Topic, tmp_path: Path
) -> None:
    subscriptions = SnsAlertSubscriptions(topic.arn, REGION)
    a_arn = subscriptions.subscribe_email(A_EMAIL, A_REQUEST.filter_policy("acct-a"))
    b_arn = subscriptions.subscribe_email(B_EMAIL, B_REQUEST.filter_policy("acct-b"))
    subscribe_queue(topic, "a", A_POLICY)  # not an email subscription: no mail for it
    publisher = SnsAlertPublisher(topic.arn, REGION)
    subscribers = sns_email_subscribers(subscriptions)()
    at = datetime(2026, 3, 2, 8, 0, 30, 123456, tzinfo=UTC)

    ids = [publisher.publish(m) for m in MESSAGES]
    for message, message_id in zip(MESSAGES, ids, strict=True):
        write_alert_mail(tmp_path / "mail", message, message_id, subscribers, at=at)

    files = sorted((tmp_path / "mail").iterdir())
    expected = sorted(
        [(A_EMAIL, a_arn, 0), (B_EMAIL, b_arn, 2), (B_EMAIL, b_arn, 5)],
        key=lambda e: f"20260302T080030123456Z-alert-{e[0]}-{ids[e[2]]}.eml",
    )
    assert [f.name for f in files] == [
        f"20260302T080030123456Z-alert-{to}-{ids[n]}.eml" for to, _, n in expected
    ]
    for path, (to, arn, n) in zip(files, expected, strict=True):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert (mail["From"], mail["To"], mail["Subject"]) == (SENDER, to, MESSAGES[n].subject)
        assert mail["Date"] == "Mon, 02 Mar 2026 08:00:30 +0000"
        assert isinstance(mail, EmailMessage)
        assert mail.get_content() == MESSAGES[n].body + footer(arn)
    assert len(backend_topic(topic).sent_notifications) == 6  # every message published, mailed or not
