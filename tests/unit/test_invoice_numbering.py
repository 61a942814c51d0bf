"""Invoice numbers: prefix, at least six digits, never reset; two series."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.billing.numbering import (
    DEFAULT_PREFIXES,
    NumberingError,
    format_number,
    sequence_of,
    series_for,
    validate_prefix,
)


def test_a_number_is_the_prefix_and_six_digits() -> None:
    assert format_number("HPO-2026-", 123) == "HPO-2026-000123"
    assert format_number("HPO-2026-", 1) == "HPO-2026-000001"
    assert format_number("R", 42) == "R000042"


def test_past_999999_the_number_grows_instead_of_wrapping() -> None:
    assert format_number("INV-", 999_999) == "INV-999999"
    assert format_number("INV-", 1_000_000) == "INV-1000000"


def test_invoices_have_their_series_and_both_notes_share_the_credit_note_series() -> None:
    assert series_for("invoice") == "invoice"
    assert series_for("credit_note") == "credit_note"
    assert series_for("debit_note") == "credit_note"
    assert DEFAULT_PREFIXES == {"invoice": "INV-", "credit_note": "CN-"}


@pytest.mark.parametrize("sequence", [0, -1, True, 1.0])
def test_a_sequence_below_one_or_not_whole_is_refused(sequence: int) -> None:
    with pytest.raises(NumberingError) as caught:
        format_number("INV-", sequence)
    assert caught.value.field == "sequence"


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("-INV", "must start with a letter or digit"),
        ("INV 2026-", "must start with a letter or digit, then letters, digits"),
        ("RE/2026/", None),
        ("INV7", "ends with a digit"),
        ("A" * 21, "longer than 20 characters"),
        ("", "must start with a letter or digit"),
    ],
)
def test_prefixes_are_checked_naming_the_field(prefix: str, reason: str | None) -> None:
    if reason is None:
        assert validate_prefix(prefix) == prefix
        return
    with pytest.raises(NumberingError) as caught:
        validate_prefix(prefix, "invoice_prefix")
    assert caught.value.field == "invoice_prefix"
    assert reason in caught.value.reason


def test_the_sequence_is_read_back_from_a_number_of_the_series_only() -> None:
    assert sequence_of("HPO-2026-", "HPO-2026-000123") == 123
    assert sequence_of("INV-", "INV-1000000") == 1_000_000
    for other in ("HPO-2027-000123", "HPO-2026-123", "HPO-2026-0000123", "HPO-2026-000000"):
        with pytest.raises(NumberingError, match="number: "):
            sequence_of("HPO-2026-", other)


@given(st.integers(1, 10**9), st.sampled_from(["INV-", "HPO-2026-", "RE/2026/", "R"]))
def test_numbers_of_a_series_read_back_and_sort_with_their_sequence_up_to_six_digits(
    sequence: int, prefix: str
) -> None:
    number = format_number(prefix, sequence)
    assert sequence_of(prefix, number) == sequence
    if sequence < 999_999:
        assert number < format_number(prefix, sequence + 1)
