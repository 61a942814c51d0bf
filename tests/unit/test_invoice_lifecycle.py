"""The lifecycle after issuing, as pure transitions: issued -> stored -> delivered."""

from __future__ import annotations

import pytest

from meterbill.billing.invoice import ISSUED_STATES, InvoiceStateError, delivered, is_issued, stored


def test_storing_moves_issued_to_stored_and_a_retry_keeps_the_state() -> None:
    assert [stored("inv_1", s) for s in ("issued", "stored", "delivered")] == [
        "stored",
        "stored",
        "delivered",
    ]


def test_delivering_needs_a_stored_document() -> None:
    assert [delivered("inv_1", s) for s in ("stored", "delivered")] == ["delivered", "delivered"]
    with pytest.raises(InvoiceStateError) as raised:
        delivered("inv_1", "issued")
    assert str(raised.value) == (
        "invoice 'inv_1' is issued: cannot deliver it (only a stored document is delivered)"
    )


@pytest.mark.parametrize("state", ["draft", "void"])
def test_a_draft_or_void_invoice_has_no_document_to_store(state: str) -> None:
    with pytest.raises(InvoiceStateError) as raised:
        stored("inv_1", state)
    assert (raised.value.state, raised.value.action) == (state, "store its document")


def test_issued_stored_and_delivered_are_all_issued() -> None:
    assert ISSUED_STATES == ("issued", "stored", "delivered")
    assert [is_issued(s) for s in ("draft", "issued", "stored", "delivered", "void")] == [
        False,
        True,
        True,
        True,
        False,
    ]
