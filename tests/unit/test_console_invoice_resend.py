"""The invoice page's Resend button on the fakes (``tests/unit/delivery_support.py``): an admin session
queues a new attempt of the same stored PDF through ``services.delivery`` as ``POST /v1/invoices/{id}/resend``
does; a read session sees no button and its POST is refused (403), as is a POST without the CSRF token."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from meterbill.api import dependencies
from meterbill.api.dependencies import Backend
from meterbill.services.apikeys import create_key
from tests.fakes import FIXED_NOW, fixed_clock
from tests.unit.api_support import SETTINGS, no_idempotency_store, proxy_event
from tests.unit.delivery_support import INVOICE, A, World
from tests.unit.test_console_pages import FORM, handler, multi

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.store_pdf()
    w.queue_delivery()
    dependencies.configure(
        Backend(
            settings=SETTINGS,
            stores=w.stores.ports(),
            idempotency=no_idempotency_store,
            clock=fixed_clock,
            email_queue=lambda: w.queue,
        )
    )
    try:
        yield w
    finally:
        dependencies.reset()


def signed_in(world: World, scope: str) -> tuple[str, str]:
    _, key = create_key(A, "console", (scope,), world.stores.keys, FIXED_NOW)
    result = multi(proxy_event("POST", "/console/sign-in", body=urlencode({"key": key}), headers=FORM))
    assert result["statusCode"] == 303
    pairs = [cookie.split(";")[0] for cookie in result["multiValueHeaders"]["Set-Cookie"]]
    return "; ".join(pairs), pairs[1].removeprefix("mb_csrf=")


def resend(cookies: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    headers = {**FORM, "Cookie": cookies}
    return handler(
        proxy_event("POST", f"/console/invoices/{INVOICE}/resend", body=urlencode(form), headers=headers)
    )


def test_an_admin_resends_the_stored_pdf_as_a_new_attempt(world):
    cookies, csrf = signed_in(world, "admin")
    page = handler(proxy_event("GET", f"/console/invoices/{INVOICE}", headers={"Cookie": cookies}))
    assert 'id="resend"' in page.text

    answer = resend(cookies, {"csrf_token": csrf})

    assert (answer.status, answer.headers["location"]) == (303, f"/console/invoices/{INVOICE}?resent=2")
    assert [(w.invoice_id, w.attempt) for w in world.queue.sent] == [(INVOICE, 1), (INVOICE, 2)]
    assert world.record(2).kind == "resend"
    assert world.record(2).document_sha256 == world.record(1).document_sha256


def test_a_read_session_sees_no_button_and_its_post_is_refused(world):
    cookies, csrf = signed_in(world, "read")
    page = handler(proxy_event("GET", f"/console/invoices/{INVOICE}", headers={"Cookie": cookies}))
    assert page.status == 200
    assert 'id="resend"' not in page.text

    assert resend(cookies, {"csrf_token": csrf}).status == 403
    assert [w.attempt for w in world.queue.sent] == [1]


def test_a_post_without_the_csrf_token_is_refused(world):
    cookies, _ = signed_in(world, "admin")
    assert resend(cookies, {}).status == 403
    assert [w.attempt for w in world.queue.sent] == [1]
