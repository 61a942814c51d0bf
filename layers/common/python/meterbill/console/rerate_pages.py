"""The console's re-rate and adjust pages: an issued invoice beside what its period comes to now, line by line
(charged so far: the invoice plus its issued notes; re-rated; the difference), the net, tax and total
differences, what ``adjust`` would issue, and the confirmation form's fields. Pure: the re-rating
(``services.invoicing.rerate``: the original, the re-rated invoice, the issued notes, the difference) comes
in as values.

Lines are matched by what they bill (``billing.notes.line_key``), as the note's lines are; the difference
column is the note's own line amount (zero where the note has no line)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from meterbill.billing.bill import subtotal_of, taxes_of, total_of
from meterbill.billing.invoice import Invoice, InvoiceLine, is_issued
from meterbill.billing.notes import Difference, LineKey, expectation, line_key
from meterbill.errors import InvalidInputError
from meterbill.money import quantum
from meterbill.ports import InvoiceRecord

NOTE_KINDS: Final = ("credit_note", "debit_note")
NOTHING: Final = "Nothing to adjust: the period re-rated today comes to what was charged."


@dataclass(frozen=True, slots=True)
class Confirmed:
    """What the operator confirmed on the adjust page: the note's kind, its amount and currency, and its place
    among the invoice's notes (1 for the first)."""

    kind: str
    total: Decimal
    currency: str
    sequence: int

    @property
    def expectation(self) -> str:
        return expectation(self.kind, self.total, self.currency)


def not_rerated(record: InvoiceRecord) -> str | None:
    """Why the document cannot be re-rated or adjusted (the 409's text), or None when it can."""
    name = record.number or record.invoice_id
    if record.kind != "invoice":
        return (
            f"{record.kind.replace('_', ' ').capitalize()} {name} is not re-rated: re-rate the invoice it "
            "corrects."
        )
    if record.state == "draft":
        return (
            f"Invoice {name} is a draft: only an issued invoice is re-rated; a draft is computed again "
            "by every bill run until it is issued."
        )
    if not is_issued(record.state):
        return f"Invoice {name} is {record.state}: a {record.state} invoice is neither re-rated nor adjusted."
    return None


def signed(amount: Decimal) -> str:
    """A difference with its sign: ``+1.20``, ``-3.60``, ``0.00``."""
    return f"+{amount}" if amount > 0 else str(amount)


def comparison(
    original: Invoice, rerated: Invoice, notes: Sequence[Invoice], diff: Difference | None
) -> dict[str, object]:
    """The page's figures: ``rows`` (per line: meter, component, description, unit, charged quantity and
    amount, re-rated ones, the difference), ``totals`` (net, tax, total: charged, re-rated, difference),
    and ``outcome`` (the note adjust would issue, or nothing)."""
    currency = original.currency
    charged_lines = [line for document in (original, *notes) for line in document.lines]
    old, new = _group(charged_lines), _group(rerated.lines)
    noted = _group(() if diff is None else diff.lines)
    rows = []
    for key in [*new, *(k for k in old if k not in new)]:
        before, after = old.get(key, []), new.get(key, [])
        template = (after or before)[0]
        rows.append(
            {
                "meter_id": template.meter_id or "",
                "component": template.component,
                "description": template.description,
                "unit": template.unit,
                "old_quantity": str(_sum(line.quantity for line in before)),
                "old_amount": str(_sum((line.amount for line in before), currency)),
                "new_quantity": str(_sum(line.quantity for line in after)),
                "new_amount": str(_sum((line.amount for line in after), currency)),
                "quantity_difference": signed(_sum(line.quantity for line in noted.get(key, []))),
                "amount_difference": signed(_sum((line.amount for line in noted.get(key, [])), currency)),
                "changed": "yes" if key in noted else "",
            }
        )
    totals = []
    for name, of in (("net", subtotal_of), ("tax", taxes_of), ("total", total_of)):
        before_total, after_total = of(charged_lines, currency), of(rerated.lines, currency)
        totals.append(
            {
                "name": name,
                "charged": f"{before_total} {currency}",
                "rerated": f"{after_total} {currency}",
                "difference": f"{signed(after_total - before_total)} {currency}",
            }
        )
    return {"rows": rows, "totals": totals, "outcome": outcome(diff, len(notes) + 1)}


def outcome(diff: Difference | None, sequence: int) -> dict[str, str]:
    """What adjust would issue: ``kind`` (``credit_note`` / ``debit_note``, empty for nothing), its wording,
    amount and currency, the note's ``sequence`` among the invoice's notes, and ``text``."""
    if diff is None:
        return {"kind": "", "name": "", "amount": "", "currency": "", "sequence": "", "text": NOTHING}
    name = diff.kind.replace("_", " ")
    return {
        "kind": diff.kind,
        "name": name,
        "amount": str(diff.total),
        "currency": diff.currency,
        "sequence": str(sequence),
        "text": f"Adjusting would issue a {name} of {diff.total} {diff.currency}.",
    }


def confirmed(form: Mapping[str, str]) -> Confirmed:
    """The confirmation the adjust form carries; InvalidInputError naming the field."""
    kind = form.get("kind", "")
    if kind not in NOTE_KINDS:
        raise InvalidInputError("kind", f"{kind!r} is not one of: {', '.join(NOTE_KINDS)}")
    text = form.get("total", "")
    try:
        total = Decimal(text)
    except InvalidOperation:
        raise InvalidInputError("total", f"{text!r} is not an amount") from None
    if not total.is_finite():
        raise InvalidInputError("total", f"{text!r} is not an amount")
    currency = form.get("currency", "")
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise InvalidInputError("currency", f"{currency!r} is not a currency code")
    sequence_text = form.get("sequence", "")
    if not (sequence_text.isascii() and sequence_text.isdigit()) or int(sequence_text) < 1:
        raise InvalidInputError("sequence", f"{sequence_text!r} is not a whole number >= 1")
    return Confirmed(kind, total, currency, int(sequence_text))


def _group(lines: Iterable[InvoiceLine]) -> dict[LineKey, list[InvoiceLine]]:
    groups: dict[LineKey, list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault(line_key(line), []).append(line)
    return groups


def _sum(values: Iterable[Decimal], currency: str | None = None) -> Decimal:
    """The sum; with ``currency`` to its minor unit (an amount: ``0.00`` for no line)."""
    total = sum(values, Decimal(0))
    return total if currency is None else total.quantize(quantum(currency))
