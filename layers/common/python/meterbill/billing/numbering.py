"""Invoice numbers: a prefix and a sequence per account and series, gapless and never reset.

The store hands out the sequence (a counter moved in the same transaction that issues the invoice); this
module only decides what the number looks like and which series a document draws from.

- Two series: ``"invoice"`` for invoices, ``"credit_note"`` for every correction. Debit notes share the
  credit-note series: both are notes on an earlier invoice, so one series keeps every correction in one
  gapless run (``CN-000001`` a credit, ``CN-000002`` a debit) and an auditor counts notes in one place.
- A number is the prefix then the sequence with at least 6 digits (``"HPO-2026-"``, 123 ->
``HPO-2026-000123``);
  from 1,000,000 on it simply grows (``HPO-2026-1000000``). The sequence is never reset: a prefix that names a
  year is a literal the operator changes when they like, the count goes on.
"""

from __future__ import annotations

from typing import Final, Literal

from meterbill.billing.invoice import InvoiceKind
from meterbill.billing_settings import (
    DEFAULT_CREDIT_NOTE_PREFIX,
    DEFAULT_INVOICE_PREFIX,
    number_prefix_problem,
)

Series = Literal["invoice", "credit_note"]
SERIES: Final[tuple[Series, ...]] = ("invoice", "credit_note")
DEFAULT_PREFIXES: Final[dict[Series, str]] = {
    "invoice": DEFAULT_INVOICE_PREFIX,
    "credit_note": DEFAULT_CREDIT_NOTE_PREFIX,
}
MIN_DIGITS: Final = 6


class NumberingError(ValueError):
    """A prefix or sequence that cannot make a number; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def series_for(kind: InvoiceKind) -> Series:
    """The series a document's number comes from: invoices their own, credit and debit notes share one."""
    return "invoice" if kind == "invoice" else "credit_note"


def validate_prefix(prefix: str, field: str = "prefix") -> str:
    """The prefix unchanged, or NumberingError: the billing settings' rule (``number_prefix_problem``)."""
    if problem := number_prefix_problem(prefix):
        raise NumberingError(field, problem)
    return prefix


def format_number(prefix: str, sequence: int) -> str:
    """``prefix`` then ``sequence`` zero-padded to 6 digits: ("HPO-2026-", 123) -> "HPO-2026-000123"."""
    validate_prefix(prefix)
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise NumberingError("sequence", f"{sequence!r} is not a whole number >= 1")
    return f"{prefix}{sequence:0{MIN_DIGITS}d}"


def sequence_of(prefix: str, number: str) -> int:
    """The sequence inside a number made by ``format_number(prefix, ...)``; NumberingError for any other
    text."""
    digits = number.removeprefix(prefix) if number.startswith(prefix) else None
    if digits is None or len(digits) < MIN_DIGITS or not digits.isascii() or not digits.isdigit():
        raise NumberingError(
            "number", f"{number!r} is not {prefix!r} followed by {MIN_DIGITS} or more digits"
        )
    sequence = int(digits)
    if sequence < 1 or format_number(prefix, sequence) != number:
        raise NumberingError("number", f"{number!r} is not a number of series prefix {prefix!r}")
    return sequence
