"""The invoice: one per customer and period, combining every meter's bills; its lifecycle; its stored JSON.

An invoice is built from the per-assignment bills of its period (``combine``/``draft``): each bill's lines
become invoice lines that keep the meter, the assignment, the service days, the tariff and version, and the
engine's line (component, quantity, unit, rate, amount, time-of-use period, tier, season). Totals are sums of
the rounded lines, so an invoice of two meters is exactly the sum of their bills.

Lifecycle (values in, new values out; nothing is mutated):

    draft --issue(number, at)--> issued --stored()--> stored --delivered()--> delivered
    draft --void()-------------> void

A draft has no number and may be recomputed any number of times; issuing assigns the number. An issued or void
invoice never changes again: every function that would change one raises ``InvoiceStateError``. Storing
its document (the signed PDF, written once) and delivering it (the email sent) move the record's state on
and add what was stored beside the invoice; the invoice itself (its stored body, which keeps saying
``issued``) does not change. ``ISSUED_STATES`` are the states of an issued document: ``is_issued`` is what
"issued" means to anything that reads invoices (history, notes, re-rating).
Corrections are separate documents (credit and debit notes, ``billing/notes.py``) that reference the original.

Ids are deterministic so retries converge on one record: ``invoice_id(account, customer, start, end, kind)``
and, for a note, ``note_id(original id, sequence of the note on that invoice)``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, Protocol, get_args
from zoneinfo import ZoneInfo

from meterbill.billing.bill import Bill, LineItem, subtotal_of, taxes_of, total_of
from meterbill.money import minor_unit, quantum

InvoiceKind = Literal["invoice", "credit_note", "debit_note"]
InvoiceState = Literal["draft", "issued", "stored", "delivered", "void"]
KINDS: Final[tuple[InvoiceKind, ...]] = get_args(InvoiceKind)
STATES: Final[tuple[InvoiceState, ...]] = get_args(InvoiceState)
# An issued invoice, with its document stored or delivered or not yet: it has its number and never changes.
ISSUED_STATES: Final[tuple[InvoiceState, ...]] = ("issued", "stored", "delivered")
SCHEMA_VERSION: Final = 1
ID_HASH_CHARS: Final = 26  # 130 bits of sha256: collisions are not a concern


class InvoiceError(ValueError):
    """An invoice that cannot be built or read; ``field`` names the part at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvoiceStateError(ValueError):
    """An action the invoice's state does not allow (issuing a void invoice, voiding an issued one, ...)."""

    def __init__(
        self, invoice_id: str, state: str, action: str, allowed: str = "only a draft can be changed"
    ) -> None:
        super().__init__(f"invoice {invoice_id!r} is {state}: cannot {action} ({allowed})")
        self.invoice_id = invoice_id
        self.state = state
        self.action = action


# --- ids ---------------------------------------------------------------------------------------------------


def _digest(*parts: str) -> str:
    # A newline cannot occur in an id or an ISO date, so the joined text decodes to one tuple of parts.
    raw = hashlib.sha256("\n".join(parts).encode()).digest()
    return base64.b32encode(raw).decode().lower()[:ID_HASH_CHARS]


def invoice_id(
    account_id: str, customer_id: str, period_start: date, period_end: date, kind: InvoiceKind = "invoice"
) -> str:
    """``inv_`` + 26 base32 characters of sha256(account, customer, start, end, kind): the same period of the
    same customer always has the same id, which fits the catalog id pattern."""
    return "inv_" + _digest(account_id, customer_id, period_start.isoformat(), period_end.isoformat(), kind)


def note_id(original_id: str, sequence: int) -> str:
    """``note_`` + 26 base32 characters of sha256(original id, n): the n-th note (1, 2, ...) on an invoice.
    The kind (credit or debit) is not part of it, so a retried adjust finds the same note whatever it comes
    to."""
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise InvoiceError("sequence", f"{sequence!r} is not a whole number >= 1")
    return "note_" + _digest(original_id, "note", str(sequence))


# --- values ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One line: what the engine billed for one assignment's meter over [start, end) under one tariff version.

    ``meter_id`` and ``assignment_id`` are None only for lines that belong to no meter (none today: a tariff's
    fixed charges are billed per assignment). ``quantity`` is already the assignment's share of the meter."""

    meter_id: str | None
    assignment_id: str | None
    start: date
    end: date
    component: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal | None
    amount: Decimal
    tariff_id: str | None = None
    tariff_version: int | None = None
    share: Decimal = Decimal(1)
    period: str | None = None
    tier: int | None = None
    season: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "meter_id": self.meter_id,
            "assignment_id": self.assignment_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "component": self.component,
            "description": self.description,
            "quantity": _text(self.quantity),
            "unit": self.unit,
            "rate": None if self.rate is None else _text(self.rate),
            "amount": _text(self.amount),
            "tariff": None
            if self.tariff_id is None
            else {"id": self.tariff_id, "version": self.tariff_version},
            "share": _text(self.share),
            "period": self.period,
            "tier": self.tier,
            "season": self.season,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "line") -> InvoiceLine:
        tariff = data.get("tariff")
        return cls(
            meter_id=data["meter_id"],
            assignment_id=data["assignment_id"],
            start=_date(data["start"], f"{where}.start"),
            end=_date(data["end"], f"{where}.end"),
            component=data["component"],
            description=data["description"],
            quantity=_decimal(data["quantity"], f"{where}.quantity"),
            unit=data["unit"],
            rate=None if data["rate"] is None else _decimal(data["rate"], f"{where}.rate"),
            amount=_decimal(data["amount"], f"{where}.amount"),
            tariff_id=None if tariff is None else tariff["id"],
            tariff_version=None if tariff is None else tariff["version"],
            share=_decimal(data.get("share", "1"), f"{where}.share"),
            period=data.get("period"),
            tier=data.get("tier"),
            season=data.get("season"),
        )


@dataclass(frozen=True, slots=True)
class MeterUsage:
    """What one meter measured for the customer over the invoice (its share), and how much was estimated."""

    meter_id: str
    unit: str
    total: Decimal
    estimated: Decimal
    missing_intervals: int = 0
    peak_demand: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "meter_id": self.meter_id,
            "unit": self.unit,
            "total": _text(self.total),
            "estimated": _text(self.estimated),
            "missing_intervals": self.missing_intervals,
            "peak_demand": None if self.peak_demand is None else _text(self.peak_demand),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "meter_usage") -> MeterUsage:
        peak = data.get("peak_demand")
        return cls(
            meter_id=data["meter_id"],
            unit=data["unit"],
            total=_decimal(data["total"], f"{where}.total"),
            estimated=_decimal(data["estimated"], f"{where}.estimated"),
            missing_intervals=int(data.get("missing_intervals", 0)),
            peak_demand=None if peak is None else _decimal(peak, f"{where}.peak_demand"),
        )


@dataclass(frozen=True, slots=True)
class DemandPeak:
    """The highest demand a meter showed in one bill of the invoice (a calendar month or part of one): the
    history later invoices' demand ratchets read (``demand_history_for``)."""

    meter_id: str
    start: date
    end: date
    peak: Decimal
    unit: str

    def to_json(self) -> dict[str, Any]:
        return {
            "meter_id": self.meter_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "peak": _text(self.peak),
            "unit": self.unit,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "demand_history") -> DemandPeak:
        return cls(
            meter_id=data["meter_id"],
            start=_date(data["start"], f"{where}.start"),
            end=_date(data["end"], f"{where}.end"),
            peak=_decimal(data["peak"], f"{where}.peak"),
            unit=data["unit"],
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice, credit note or debit note of one customer for local calendar days [period_start,
    period_end).

    ``number`` and ``issued_at`` are set by ``issue`` and only then. ``corrects`` is the invoice a note refers
    to. ``memos`` are shown beside the lines and not part of the totals (e.g. savings that are not
    credited)."""

    id: str
    account_id: str
    customer_id: str
    kind: InvoiceKind
    period_start: date
    period_end: date
    currency: str
    lines: tuple[InvoiceLine, ...]
    computed_at: datetime
    meter_usage: tuple[MeterUsage, ...] = ()
    memos: tuple[InvoiceLine, ...] = ()
    demand_history: tuple[DemandPeak, ...] = ()
    state: InvoiceState = "draft"
    number: str | None = None
    issued_at: datetime | None = None
    corrects: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvoiceError("kind", f"{self.kind!r} is not one of {', '.join(KINDS)}")
        if self.state not in STATES:
            raise InvoiceError("state", f"{self.state!r} is not one of {', '.join(STATES)}")
        if self.period_end <= self.period_start:
            raise InvoiceError(
                "period_end", f"{self.period_end} is not after period_start {self.period_start}"
            )
        try:
            minor_unit(self.currency)
        except ValueError as err:
            raise InvoiceError("currency", str(err)) from None
        _aware(self.computed_at, "computed_at")
        if self.state in ISSUED_STATES:
            if not self.number:
                raise InvoiceError("number", "an issued invoice has a number")
            if self.issued_at is None:
                raise InvoiceError("issued_at", "an issued invoice has the moment it was issued")
        elif self.number is not None or self.issued_at is not None:
            raise InvoiceError("number", f"a {self.state} invoice has no number and no issued_at")
        if self.issued_at is not None:
            _aware(self.issued_at, "issued_at")
        if (self.kind == "invoice") != (self.corrects is None):
            raise InvoiceError("corrects", "a note names the invoice it corrects; an invoice names none")
        cent = quantum(self.currency)
        for i, line in enumerate(self.lines):
            if line.amount != line.amount.quantize(cent):
                raise InvoiceError(f"lines[{i}].amount", f"{line.amount} is not rounded to {cent}")

    @property
    def subtotal(self) -> Decimal:
        return subtotal_of(self.lines, self.currency)

    @property
    def taxes(self) -> Decimal:
        return taxes_of(self.lines, self.currency)

    @property
    def total(self) -> Decimal:
        return total_of(self.lines, self.currency)

    @property
    def span(self) -> tuple[date, date]:
        return self.period_start, self.period_end

    def to_json(self) -> dict[str, Any]:
        """The stored body: decimals as text (exactly as they are), dates and moments ISO 8601. The totals are
        written for readers and ignored by ``from_json`` (the lines are the truth)."""
        return {
            "schema": SCHEMA_VERSION,
            "id": self.id,
            "account_id": self.account_id,
            "customer_id": self.customer_id,
            "kind": self.kind,
            "state": self.state,
            "number": self.number,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "currency": self.currency,
            "subtotal": _text(self.subtotal),
            "taxes": _text(self.taxes),
            "total": _text(self.total),
            "lines": [line.to_json() for line in self.lines],
            "memos": [line.to_json() for line in self.memos],
            "meter_usage": [usage.to_json() for usage in self.meter_usage],
            "demand_history": [peak.to_json() for peak in self.demand_history],
            "computed_at": self.computed_at.isoformat(),
            "issued_at": None if self.issued_at is None else self.issued_at.isoformat(),
            "corrects": self.corrects,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Invoice:
        """An invoice from its ``to_json``; InvoiceError naming the field for anything else."""
        if data.get("schema") != SCHEMA_VERSION:
            raise InvoiceError("schema", f"{data.get('schema')!r} is not a known invoice schema version")
        try:
            issued_at = data["issued_at"]
            return cls(
                id=data["id"],
                account_id=data["account_id"],
                customer_id=data["customer_id"],
                kind=data["kind"],
                state=data["state"],
                number=data["number"],
                period_start=_date(data["period_start"], "period_start"),
                period_end=_date(data["period_end"], "period_end"),
                currency=data["currency"],
                lines=tuple(InvoiceLine.from_json(x, f"lines[{i}]") for i, x in enumerate(data["lines"])),
                memos=tuple(InvoiceLine.from_json(x, f"memos[{i}]") for i, x in enumerate(data["memos"])),
                meter_usage=tuple(
                    MeterUsage.from_json(x, f"meter_usage[{i}]") for i, x in enumerate(data["meter_usage"])
                ),
                demand_history=tuple(
                    DemandPeak.from_json(x, f"demand_history[{i}]")
                    for i, x in enumerate(data["demand_history"])
                ),
                computed_at=_moment(data["computed_at"], "computed_at"),
                issued_at=None if issued_at is None else _moment(issued_at, "issued_at"),
                corrects=data["corrects"],
                reason=data["reason"],
            )
        except KeyError as err:
            raise InvoiceError(str(err.args[0]), "required field is missing") from None


# --- building from bills -----------------------------------------------------------------------------------


class BillPart(Protocol):
    """One bill of one assignment (services.preview.PreviewBill has this shape)."""

    @property
    def meter_id(self) -> str: ...
    @property
    def assignment_id(self) -> str: ...
    @property
    def share(self) -> Decimal: ...
    @property
    def bill(self) -> Bill: ...


@dataclass(frozen=True, slots=True)
class AssignmentBill:
    meter_id: str
    assignment_id: str
    share: Decimal
    bill: Bill


@dataclass(frozen=True, slots=True)
class Combined:
    """What the bills of a period add up to, before it becomes an invoice."""

    lines: tuple[InvoiceLine, ...]
    memos: tuple[InvoiceLine, ...]
    meter_usage: tuple[MeterUsage, ...]
    demand_history: tuple[DemandPeak, ...]


def combine(parts: Iterable[BillPart], currency: str) -> Combined:
    """The lines, memos, per-meter usage and demand peaks of the given bills, by meter, assignment and time.

    Every bill must be in ``currency`` and its instants in its site's zone (as the engine makes them: the
    local dates of a bill are its start and end in that zone). Usage adds up per meter (totals, estimated,
    missing intervals); the peak is the highest of the meter's bills.
    """
    ordered = sorted(parts, key=lambda p: (p.meter_id, p.assignment_id, p.bill.start))
    lines: list[InvoiceLine] = []
    memos: list[InvoiceLine] = []
    usage: dict[str, MeterUsage] = {}
    peaks: list[DemandPeak] = []
    for i, part in enumerate(ordered):
        bill = part.bill
        if bill.currency != currency:
            raise InvoiceError(
                "currency",
                f"meter {part.meter_id!r} assignment {part.assignment_id!r}: the bill is in {bill.currency}, "
                f"the invoice in {currency}",
            )
        start, end = _local_day(bill.start, f"bills[{i}].start"), _local_day(bill.end, f"bills[{i}].end")
        lines += (_line(part, start, end, item) for item in bill.lines)
        memos += (_line(part, start, end, item) for item in bill.memos)
        usage[part.meter_id] = _add_usage(usage.get(part.meter_id), part.meter_id, bill)
        if bill.usage.peak_demand is not None:
            peaks.append(
                DemandPeak(part.meter_id, start, end, bill.usage.peak_demand, _demand_unit(bill.usage.unit))
            )
    return Combined(tuple(lines), tuple(memos), tuple(usage[m] for m in sorted(usage)), tuple(peaks))


def draft(
    account_id: str,
    customer_id: str,
    period_start: date,
    period_end: date,
    parts: Iterable[BillPart],
    *,
    currency: str,
    computed_at: datetime,
    reason: str | None = None,
) -> Invoice:
    """A draft invoice of [period_start, period_end) from the period's bills (see ``combine``); its id is
    ``invoice_id(account, customer, start, end, "invoice")``. A bill reaching outside the period is
    refused."""
    parts = list(parts)
    for part in parts:
        start, end = _local_day(part.bill.start, "bill.start"), _local_day(part.bill.end, "bill.end")
        if start < period_start or end > period_end:
            raise InvoiceError(
                "period",
                f"meter {part.meter_id!r} assignment {part.assignment_id!r} is billed {start} to {end}, "
                f"outside the invoice's {period_start} to {period_end}",
            )
    combined = combine(parts, currency)
    return Invoice(
        id=invoice_id(account_id, customer_id, period_start, period_end, "invoice"),
        account_id=account_id,
        customer_id=customer_id,
        kind="invoice",
        period_start=period_start,
        period_end=period_end,
        currency=currency,
        lines=combined.lines,
        memos=combined.memos,
        meter_usage=combined.meter_usage,
        demand_history=combined.demand_history,
        computed_at=computed_at,
        reason=reason,
    )


def _line(part: BillPart, start: date, end: date, item: LineItem) -> InvoiceLine:
    return InvoiceLine(
        meter_id=part.meter_id,
        assignment_id=part.assignment_id,
        start=start,
        end=end,
        component=item.component,
        description=item.description,
        quantity=item.quantity,
        unit=item.unit,
        rate=item.rate,
        amount=item.amount,
        tariff_id=part.bill.tariff_id,
        tariff_version=part.bill.tariff_version,
        share=part.share,
        period=item.period,
        tier=item.tier,
        season=item.season,
    )


def _add_usage(so_far: MeterUsage | None, meter_id: str, bill: Bill) -> MeterUsage:
    summary = bill.usage
    if so_far is None:
        return MeterUsage(
            meter_id,
            summary.unit,
            summary.total,
            summary.estimated,
            summary.missing_intervals,
            summary.peak_demand,
        )
    if so_far.unit != summary.unit:
        raise InvoiceError("meter_usage", f"meter {meter_id!r} billed in {so_far.unit} and {summary.unit}")
    peaks = [p for p in (so_far.peak_demand, summary.peak_demand) if p is not None]
    return MeterUsage(
        meter_id,
        so_far.unit,
        so_far.total + summary.total,
        so_far.estimated + summary.estimated,
        so_far.missing_intervals + summary.missing_intervals,
        max(peaks) if peaks else None,
    )


def _demand_unit(energy_unit: str) -> str:
    """kWh -> kW, as the engine's demand lines say it."""
    return energy_unit[:-1] if energy_unit.endswith("h") else f"{energy_unit}/h"


def _local_day(moment: datetime, where: str) -> date:
    if not isinstance(moment.tzinfo, ZoneInfo):
        raise InvoiceError(where, f"{moment.isoformat()} is not on a site's clock (a zoneinfo time zone)")
    return moment.date()


# --- lifecycle ---------------------------------------------------------------------------------------------


def require_draft(invoice: Invoice, action: str) -> Invoice:
    """The invoice itself when it is a draft; InvoiceStateError naming its state and ``action`` otherwise."""
    if invoice.state != "draft":
        raise InvoiceStateError(invoice.id, invoice.state, action)
    return invoice


def issue(invoice: Invoice, number: str, at: datetime) -> Invoice:
    """The draft, issued with ``number`` at ``at``: from now on it never changes."""
    require_draft(invoice, "issue")
    if not number:
        raise InvoiceError("number", "an issued invoice needs a number")
    _aware(at, "at")
    return replace(invoice, state="issued", number=number, issued_at=at)


def is_issued(state: str) -> bool:
    """Issued, with or without its document stored or delivered: numbered and never changed again."""
    return state in ISSUED_STATES


def stored(invoice_id: str, state: str) -> InvoiceState:
    """The state after storing the invoice's document: ``issued`` -> ``stored``; ``stored`` and ``delivered``
    stay as they are (storing the same document again is a retry). InvoiceStateError for a draft or void
    one."""
    if state == "issued":
        return "stored"
    if state in ("stored", "delivered"):
        return state  # type: ignore[return-value]
    raise InvoiceStateError(invoice_id, state, "store its document", "only an issued invoice has one")


def delivered(invoice_id: str, state: str) -> InvoiceState:
    """The state after delivering the stored document: ``stored`` -> ``delivered``; ``delivered`` stays.
    InvoiceStateError for any other (a document is delivered only once it is stored)."""
    if state in ("stored", "delivered"):
        return "delivered"
    raise InvoiceStateError(invoice_id, state, "deliver it", "only a stored document is delivered")


def void(invoice: Invoice) -> Invoice:
    """The draft, void: it will not be issued (an issued invoice is corrected by notes, never voided)."""
    require_draft(invoice, "void")
    return replace(invoice, state="void")


def recompute(current: Invoice, recomputed: Invoice) -> Invoice:
    """A draft replaced by its recomputation (late readings, a changed tariff): only while it is a draft, and
    only by an invoice with the same id."""
    require_draft(current, "recompute")
    if recomputed.id != current.id:
        raise InvoiceError("id", f"{recomputed.id!r} cannot replace {current.id!r}")
    return require_draft(recomputed, "replace a draft with")


# --- demand history ----------------------------------------------------------------------------------------


def demand_history_for(invoices: Iterable[Invoice], meter_id: str, before: date) -> tuple[Decimal, ...]:
    """The meter's monthly peaks, oldest first, from issued invoices before ``before`` (for a tariff ratchet).

    An invoice corrected by issued notes counts with the peaks of its latest note (the re-rated period). Bills
    of one calendar month (split by a tariff version or an assignment) count as one month with the higher
    peak.
    """
    documents = [i for i in invoices if is_issued(i.state)]
    latest_note: dict[str, Invoice] = {}
    for note in sorted((d for d in documents if d.corrects is not None), key=_issue_order):
        latest_note[note.corrects or ""] = note
    by_month: dict[tuple[int, int], Decimal] = {}
    for invoice in documents:
        if invoice.kind != "invoice":
            continue
        source = latest_note.get(invoice.id, invoice)
        for peak in source.demand_history:
            if peak.meter_id == meter_id and peak.start < before:
                month = (peak.start.year, peak.start.month)
                by_month[month] = max(by_month.get(month, peak.peak), peak.peak)
    return tuple(by_month[month] for month in sorted(by_month))


def _issue_order(invoice: Invoice) -> tuple[datetime, str]:
    assert invoice.issued_at is not None
    return invoice.issued_at, invoice.number or ""


# --- JSON helpers ------------------------------------------------------------------------------------------


def _text(value: Decimal) -> str:
    """Plain notation keeping the exponent of a fraction (12.00 -> '12.00'); 1E+3 -> '1000'."""
    return format(value, "f")


def _decimal(value: object, where: str) -> Decimal:
    if not isinstance(value, str):
        raise InvoiceError(where, f"{value!r} is not a decimal written as text")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvoiceError(where, f"{value!r} is not a decimal number") from None
    if not number.is_finite():
        raise InvoiceError(where, f"{value!r} is not a finite number")
    return number


def _date(value: object, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvoiceError(where, f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def _moment(value: object, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvoiceError(where, f"{value!r} is not an ISO 8601 date and time") from None
    return _aware(moment, where)


def _aware(moment: datetime, where: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvoiceError(where, f"naive datetime {moment.isoformat()} where an aware one is required")
    return moment
