"""Credit and debit notes: what a re-rated period comes to beyond what was invoiced, line by line.

An issued invoice never changes. When its period is re-rated (late or corrected readings, a corrected tariff),
``difference(billed, rerated, notes)`` compares the re-rated invoice with what the customer has been charged
so far: the original's lines plus the lines of the notes already issued on it. Lines are matched by what they
bill — meter, assignment, service days, component, unit, time-of-use period, tier, season and tariff — not by
their wording (a minimum charge's description names its amounts). Lines with the same key add up.

Each note line is (re-rated - charged so far): quantity and amount; the rate when it is the same on both
sides, else none (a price change). A line whose quantity and amount both stay is left out. There is no note
when no amount differs (None). The note is a credit note when it comes to less than zero, a debit note when
more; one whose lines cancel out (0.00) is a credit note. So a second difference right after a note is None.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from meterbill.billing.invoice import Invoice, InvoiceError, InvoiceLine, is_issued, note_id
from meterbill.money import quantum

NoteKind = Literal["credit_note", "debit_note"]
LineKey = tuple[str | None, str | None, date, date, str, str, str | None, int | None, str | None, str | None]


def expectation(kind: str, total: Decimal, currency: str) -> str:
    """A note in words to confirm and compare (``credit_note -3.60 EUR``): what the console's adjust page
    confirms, what ``services.invoicing.adjust`` checks, what an issued note is recognised by."""
    return f"{kind} {total} {currency}"


@dataclass(frozen=True, slots=True)
class Difference:
    kind: NoteKind
    currency: str
    lines: tuple[InvoiceLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0).quantize(quantum(self.currency)))


def line_key(line: InvoiceLine) -> LineKey:
    """What a line bills, independent of its wording and amounts."""
    return (
        line.meter_id,
        line.assignment_id,
        line.start,
        line.end,
        line.component,
        line.unit,
        line.period,
        line.tier,
        line.season,
        line.tariff_id,
    )


def issued_notes(original: Invoice, documents: Iterable[Invoice]) -> list[Invoice]:
    """The issued notes on ``original`` among ``documents``, in the order they were issued. A draft note (an
    adjust interrupted before issuing) charges nothing yet, so it does not count."""
    notes = [d for d in documents if d.corrects == original.id and is_issued(d.state)]
    return sorted(notes, key=lambda n: (n.issued_at or n.computed_at, n.number or ""))


def next_note_sequence(original: Invoice, documents: Iterable[Invoice]) -> int:
    """The sequence of the next note on ``original`` (1 for the first): with ``note_id`` a retried adjust
    finds the draft it left behind instead of making another."""
    return len(issued_notes(original, documents)) + 1


def difference(billed: Invoice, rerated: Invoice, notes: Sequence[Invoice] = ()) -> Difference | None:
    """The lines of the note that brings ``billed`` plus its issued ``notes`` to ``rerated``; None when no
    amount differs. ``rerated`` is the same customer and period computed again (any state: usually a
    draft)."""
    if billed.kind != "invoice" or not is_issued(billed.state):
        raise InvoiceError(
            "billed", f"{billed.id!r} is a {billed.state} {billed.kind}, not an issued invoice"
        )
    for field in ("account_id", "customer_id", "period_start", "period_end", "currency"):
        if getattr(rerated, field) != getattr(billed, field):
            raise InvoiceError(
                f"rerated.{field}",
                f"{getattr(rerated, field)} differs from the invoice's {getattr(billed, field)}",
            )
    charged = [line for document in (billed, *issued_notes(billed, notes)) for line in document.lines]
    old = _group(charged)
    new = _group(rerated.lines)
    lines = []
    for key in [*new, *(k for k in old if k not in new)]:
        before, after = old.get(key, []), new.get(key, [])
        quantity = _sum(line.quantity for line in after) - _sum(line.quantity for line in before)
        amount = _sum(line.amount for line in after) - _sum(line.amount for line in before)
        if quantity == 0 and amount == 0:
            continue
        template = (after or before)[0]
        rates = {line.rate for line in before if line.quantity != 0} | {line.rate for line in after}
        lines.append(
            InvoiceLine(
                meter_id=template.meter_id,
                assignment_id=template.assignment_id,
                start=template.start,
                end=template.end,
                component=template.component,
                description=template.description,
                quantity=quantity,
                unit=template.unit,
                rate=rates.pop() if len(rates) == 1 else None,
                amount=amount,
                tariff_id=template.tariff_id,
                tariff_version=(after or before)[-1].tariff_version,
                share=template.share,
                period=template.period,
                tier=template.tier,
                season=template.season,
            )
        )
    if all(line.amount == 0 for line in lines):
        return None
    net = _sum(line.amount for line in lines)
    return Difference("debit_note" if net > 0 else "credit_note", billed.currency, tuple(lines))


def note(
    original: Invoice,
    diff: Difference,
    *,
    sequence: int,
    computed_at: datetime,
    rerated: Invoice | None = None,
    reason: str | None = None,
) -> Invoice:
    """The draft note (``note_id(original.id, sequence)``) issuing ``diff`` on ``original``, for its period.
    It carries the re-rated invoice's demand peaks, which later ratchets then read instead of the
    original's."""
    return Invoice(
        id=note_id(original.id, sequence),
        account_id=original.account_id,
        customer_id=original.customer_id,
        kind=diff.kind,
        period_start=original.period_start,
        period_end=original.period_end,
        currency=diff.currency,
        lines=diff.lines,
        computed_at=computed_at,
        demand_history=original.demand_history if rerated is None else rerated.demand_history,
        corrects=original.id,
        reason=reason,
    )


def _group(lines: Iterable[InvoiceLine]) -> dict[LineKey, list[InvoiceLine]]:
    groups: dict[LineKey, list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault(line_key(line), []).append(line)
    return groups


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))
