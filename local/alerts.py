"""Alerts on the local platform: the topic and the readings queue on moto, the two alerts functions fired as
AWS fires them, and every published notification written into the mail folder as the email each subscriber
whose filter policy admits it would receive.

- ``create_local_alerts`` makes the SNS topic (ALERTS_TOPIC_ARN), the alerts' readings queue
  (ALERTS_QUEUE_URL, which ingest tells about new readings) and a *tap*: an SQS queue subscribed to the topic
  with no filter, which sees every message published (moto delivers SNS to SQS; it sends no email).
- ``fire_alerts(at)`` runs the deployed schedule handler with the event EventBridge Scheduler sends;
  ``drain_alerts_queue()`` the deployed readings handler on the queue, as the event source mapping does.
- ``deliver_alert_mail(mail_dir)`` empties the tap: for each message, each email subscription of the topic
  whose filter policy admits the message's attributes gets an ``.eml`` (SNS's own matching, for the policies
  meterbill writes: ``meterbill.alerts.subscriptions.admits``; ``local/alert_mail.py`` writes the files).
  moto confirms email subscriptions at once, so every subscriber gets mail.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from local.schedules import _Context, drain_queue, scheduler_event

LOCAL_ALERTS_TOPIC: Final = "meterbill-alerts"
LOCAL_ALERTS_QUEUE: Final = "meterbill-alerts-readings"
LOCAL_ALERTS_TAP: Final = "meterbill-alerts-tap"  # local only: what the topic published, for the mail folder
TAP_QUEUE_VARIABLE: Final = "MB_LOCAL_ALERTS_TAP_URL"
logger = logging.getLogger(__name__)


def _client(service: str, endpoint_url: str, region: str) -> Any:
    import boto3  # type: ignore[import-untyped]

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_local_alerts(moto_url: str, *, region: str) -> dict[str, str]:
    """The topic, the readings queue and the tap on moto at ``moto_url``; the variables naming them."""
    sns, sqs = _client("sns", moto_url, region), _client("sqs", moto_url, region)
    topic_arn: str = sns.create_topic(Name=LOCAL_ALERTS_TOPIC)["TopicArn"]
    queue_url: str = sqs.create_queue(QueueName=LOCAL_ALERTS_QUEUE)["QueueUrl"]
    tap_url: str = sqs.create_queue(QueueName=LOCAL_ALERTS_TAP)["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=tap_arn)
    return {
        "ALERTS_TOPIC_ARN": topic_arn,
        "ALERTS_QUEUE_URL": queue_url,
        "SNS_ENDPOINT_URL": moto_url,
        TAP_QUEUE_VARIABLE: tap_url,
    }


def fire_alerts(at: Any) -> dict[str, Any]:
    """The alerts schedule's handler once as of ``at`` (aware), in this process; its answer."""
    from functions.alerts import alerts_schedule_handler

    alerts_schedule_handler.backend.cache_clear()  # the environment may have changed since the last call
    answer: dict[str, Any] = alerts_schedule_handler.lambda_handler(scheduler_event(at), _Context())  # type: ignore[arg-type]
    return answer


def drain_alerts_queue() -> tuple[int, int]:
    """The readings handler on every message of ALERTS_QUEUE_URL visible now; (done, batch item failures)."""
    from functions.alerts import alerts_readings_handler

    alerts_readings_handler.backend.cache_clear()
    return drain_queue(os.environ["ALERTS_QUEUE_URL"], alerts_readings_handler.lambda_handler)


def deliver_alert_mail(mail_dir: Path) -> list[Path]:
    """Every message the tap holds, as ``.eml`` for each admitting email subscription; the files written."""
    from local.alert_mail import sns_email_subscribers, write_alert_mail
    from meterbill.adapters.sns import SnsAlertSubscriptions
    from meterbill.alerts.ports import AlertMessage

    region = os.environ.get("AWS_REGION", "eu-central-1")
    endpoint = os.environ["SNS_ENDPOINT_URL"]
    topic_arn, tap_url = os.environ["ALERTS_TOPIC_ARN"], os.environ[TAP_QUEUE_VARIABLE]
    subscribers = sns_email_subscribers(SnsAlertSubscriptions(topic_arn, region, endpoint))()
    sqs = _client("sqs", endpoint, region)
    written: list[Path] = []
    while True:
        messages = sqs.receive_message(QueueUrl=tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return written
        for message in messages:
            envelope = json.loads(message["Body"])  # SNS's JSON envelope (no raw message delivery)
            attributes = {
                name: attribute["Value"] for name, attribute in envelope.get("MessageAttributes", {}).items()
            }
            published = AlertMessage(envelope.get("Subject") or "", envelope["Message"], attributes)
            at = datetime.fromisoformat(envelope["Timestamp"].replace("Z", "+00:00"))
            written += write_alert_mail(mail_dir, published, envelope["MessageId"], subscribers, at=at)
            sqs.delete_message(QueueUrl=tap_url, ReceiptHandle=message["ReceiptHandle"])


class AlertPump:
    """While ``meterbill serve`` runs: every ``every_seconds`` the readings handler on the alerts queue (the
    event source mapping in AWS) and the tap's messages into the mail folder; ``stop()`` ends it."""

    def __init__(self, mail_dir: Path, *, every_seconds: float = 5.0) -> None:
        self.mail_dir = mail_dir
        self.every_seconds = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meterbill-alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(timeout=self.every_seconds):
            try:
                drain_alerts_queue()
                deliver_alert_mail(self.mail_dir)
            except Exception:  # in AWS: the message's retries, then the DLQ; the server keeps going
                logger.exception("the alerts' queue or mail failed")
