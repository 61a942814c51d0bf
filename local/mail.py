"""Email on the local platform: SES on moto, and every email sent also written as an ``.eml`` file into the
mail folder (``meterbill serve --mail-dir``, default ``./mail``), so a person opens what a tenant would
receive. ``drain_email_queue`` runs the deployed email worker on the local email queue, as the SQS event
source mapping does in AWS.

moto's SES refuses senders that are not verified, as a sandbox account does; locally the platform owns the
SES account, so ``LocalSesMailer`` verifies each account's sender identity on moto before its first email.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from meterbill.adapters.ses import SesMailer, address_of, mime_message
from meterbill.ports import OutgoingEmail

DEFAULT_MAIL_DIR: Final = Path("mail")
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")
logger = logging.getLogger(__name__)


class LocalSesMailer(SesMailer):
    """SES v2 on moto (``endpoint_url``), writing each email it sent into ``mail_dir`` as
    ``<UTC time>-<invoice id>-<attempt>-<SES message id>.eml`` (the very bytes SES got)."""

    def __init__(
        self,
        mail_dir: Path,
        *,
        region: str,
        endpoint_url: str | None,
        configuration_set: str | None = None,
    ) -> None:
        super().__init__(region=region, configuration_set=configuration_set, endpoint_url=endpoint_url)
        self.mail_dir = mail_dir
        self._verified: set[str] = set()

    def send(self, email: OutgoingEmail) -> str:
        sender = address_of(email.sender)
        if sender not in self._verified:
            self.client.create_email_identity(EmailIdentity=sender)
            self._verified.add(sender)
        raw = mime_message(email).as_bytes()
        message_id = self.send_raw(email, raw)
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        parts = [
            stamp,
            *(email.tags.get(n, "") for n in ("meterbill-invoice", "meterbill-attempt")),
            message_id,
        ]
        name = "-".join(_UNSAFE.sub("_", p) for p in parts if p)
        (self.mail_dir / f"{name}.eml").write_bytes(raw)
        return message_id


def drain_email_queue(mailer: LocalSesMailer) -> tuple[int, int]:
    """The email worker on every message of EMAIL_QUEUE_URL visible now, sending with ``mailer``; returns
    (messages done, batch item failures: deferred or failed, visible again later as in AWS)."""
    from functions.invoice import email_worker_handler
    from local.schedules import drain_queue
    from meterbill import email_wiring

    email_wiring.reset()
    email_wiring.configure(mailer=mailer)
    # The receive count (ApproximateReceiveCount) paces the throttled sends' backoff.
    return drain_queue(os.environ["EMAIL_QUEUE_URL"], email_worker_handler.lambda_handler, attributes=True)


class MailPump:
    """``drain_email_queue`` every ``every_seconds`` in a thread while ``meterbill serve`` runs (in AWS the
    event source mapping polls the queue); ``stop()`` ends it after the drain under way."""

    def __init__(self, mailer: LocalSesMailer, *, every_seconds: float = 5.0) -> None:
        self.mailer = mailer
        self.every_seconds = every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meterbill-mail", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(timeout=self.every_seconds):
            try:
                drain_email_queue(self.mailer)
            except Exception:  # in AWS: the message's retries, then the DLQ; the server keeps going
                logger.exception("draining the email queue failed")
