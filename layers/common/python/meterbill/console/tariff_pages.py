"""The console's tariff pages: the tariffs' list, a tariff's versions as readable charges and what changed
from one version to the next, and the "what would this bill be" preview (its form's query, its lines and
totals beside what the customer pays now). Pure: catalog values and preview bills come in as values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from itertools import groupby, zip_longest
from typing import TYPE_CHECKING, Any, Final

from meterbill.domain import Assignment
from meterbill.errors import InvalidInputError
from meterbill.money import round_money
from meterbill.tariffs.formulas import Formula
from meterbill.tariffs.model import CHARGE_COMPONENTS, Adjustment, Period, Tariff, TimeOfUse, UsagePackage
from meterbill.timeutil import next_month

if TYPE_CHECKING:
    from meterbill.services.catalog import CatalogEntry
    from meterbill.services.preview import PreviewBill, TariffComparison

MONTH_NAMES: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ALL_TAXED: Final = frozenset((*CHARGE_COMPONENTS, "minimum", "discount", "surcharge"))
ALL_ADJUSTED: Final = frozenset((*CHARGE_COMPONENTS, "minimum"))
MAX_ID: Final = 64


def money(amount: Decimal, currency: str) -> str:
    """As the console shows money: English (``€1,234.56``)."""
    from meterbill.console.customer_pages import money as shown  # Babel: on first use

    return shown(amount, currency)


# --- the list -----------------------------------------------------------------------------------------------


def list_rows(
    latest: Iterable[Tariff], assignments: Sequence[Assignment], today: date
) -> list[dict[str, Any]]:
    """One row per tariff (its latest version), by name then id: currency, unit, latest version and its
    start, and how many distinct customers have an assignment on it active ``today``."""
    rows = []
    for tariff in sorted(latest, key=lambda t: (t.name.casefold(), t.id)):
        users = {
            a.customer_id
            for a in assignments
            if a.tariff_id == tariff.id and a.active_days(today, today + _DAY) is not None
        }
        rows.append(
            {
                "id": tariff.id,
                "name": tariff.name,
                "currency": tariff.currency,
                "unit": tariff.unit,
                "version": tariff.version,
                "effective_from": tariff.effective_from.isoformat() if tariff.effective_from else "always",
                "customers": len(users),
            }
        )
    return rows


# --- a version's charges, readable --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    lines: tuple[str, ...]


def operand(value: Decimal | Formula) -> str:
    """A number as written, or a formula shown as its source."""
    return f"(formula: {value.source})" if isinstance(value, Formula) else str(value)


def summary(tariff: Tariff) -> list[Section]:
    """A version's charges as the sections the tariff page shows, each a list of readable lines (formula
    operands shown with their formula), in the order the engine bills them."""
    cur, unit = tariff.currency, tariff.unit
    sections: list[Section] = []

    def add(heading: str, lines: Iterable[str]) -> None:
        found = tuple(lines)
        if found:
            sections.append(Section(heading, found))

    add("Validity", _validity(tariff))
    add("Seasons", (f"{s.name}: {_months(s.months)}" for s in tariff.seasons))
    add("Variables", (f"{name} = {operand(value)}" for name, value in tariff.variables.items()))
    add("Fixed", (f"{f.description}: {operand(f.amount)} {cur} per {f.per}" for f in tariff.fixed))
    if tariff.energy is not None:
        energy = tariff.energy
        notes = []
        if energy.tier_mode == "volume" and _tiered(energy.periods):
            notes.append("Volume tiers: the whole usage at the rate of the highest tier reached")
        if energy.tier_scope == "total_pro_rata" and _tiered(energy.periods):
            notes.append("Tier sizes apply to the total usage, each period taking its pro-rata share")
        if _tiered(energy.periods):
            notes.append(
                "Tier sizes are per month, shrunk for a partial month"
                if energy.prorate_tiers
                else "Tier sizes are per bill period, not shrunk for a partial month"
            )
        lines = [
            line
            for i, period in enumerate(energy.periods)
            for line in _period_lines(period, i, energy.time_of_use, f"{cur}/{unit}", unit, tariff)
        ]
        add("Energy", [*lines, *notes])
    if tariff.demand is not None:
        add("Demand", _demand_lines(tariff))
    add("Packages", (_package_line(p, cur) for p in tariff.packages))
    if tariff.shared is not None:
        add("Shared usage", [f"{tariff.shared.description}: {operand(tariff.shared.rate)} {cur}/{unit}"])
    if tariff.minimum is not None:
        add("Minimum", [f"At least {operand(tariff.minimum.amount)} {cur} per {tariff.minimum.per}"])
    if tariff.savings is not None:
        s = tariff.savings
        add(
            "Savings",
            [
                f"{s.description}: off-time hours × {operand(s.power_rating_w)} W × "
                f"{operand(s.price_per_kwh)} {cur}/kWh / 1000, "
                + ("credited" if s.credit else "shown as a memo")
            ],
        )
    add("Discounts and surcharges", (_adjustment_line(a, cur) for a in tariff.adjustments))
    add(
        "Taxes",
        (
            f"{t.name}: {operand(t.percent)}%"
            + ("" if set(t.applies_to) == ALL_TAXED else f" of {', '.join(t.applies_to)}")
            for t in tariff.taxes
        ),
    )
    return sections


def _validity(tariff: Tariff) -> list[str]:
    lines = [f"Prices {tariff.unit} in {tariff.currency}"]
    if tariff.effective_to is not None:
        lines.append(f"Ends on {tariff.effective_to.isoformat()} (exclusive)")
    return lines


def _tiered(periods: Sequence[Period]) -> bool:
    return any(len(p.tiers) > 1 for p in periods)


def _period_lines(
    period: Period, index: int, tou: TimeOfUse | None, price_unit: str, unit: str, tariff: Tariff
) -> list[str]:
    """A period's hours (TOU only) and its tiers, each line led by the period's name."""
    lines = []
    if tou is not None:
        lines.append(f"{period.name}: {hours_of(tou, index, tariff.holidays_as_weekends)}")
    return lines + [f"{period.name}: {text}" for text in _tier_texts(period, unit, price_unit)]


def _tier_texts(period: Period, unit: str, price_unit: str, whole: str = "all {unit} at ") -> list[str]:
    """``whole`` and the price for one unbounded tier ("all kWh at 0.20 EUR/kWh"); else "tier 1: the first
    100 kWh at 0.30 EUR/kWh", "tier 2: the next 200 kWh at ...", "tier 3: the rest at ..."."""
    if len(period.tiers) == 1 and period.tiers[0].size is None:
        return [f"{whole.format(unit=unit)}{operand(period.tiers[0].rate)} {price_unit}"]
    texts = []
    for t, tier in enumerate(period.tiers):
        if tier.size is None:
            amount = "the rest"
        else:
            amount = f"{'the first' if t == 0 else 'the next'} {operand(tier.size)} {unit}"
        texts.append(f"tier {t + 1}: {amount} at {operand(tier.rate)} {price_unit}")
    return texts


def hours_of(tou: TimeOfUse, period: int, holidays_as_weekends: bool = True) -> str:
    """When a TOU period applies: "weekdays 08:00–20:00; weekends and holidays never", with the months
    spelled out when they differ ("weekdays 08:00–20:00 in Jun–Sep, 10:00–18:00 in Jan–May, Oct–Dec")."""
    weekend = "weekends and holidays" if holidays_as_weekends else "weekends"
    return (
        f"weekdays {_schedule_hours(tou.weekday_schedule, period)}; "
        f"{weekend} {_schedule_hours(tou.weekend_schedule, period)}"
    )


def _schedule_hours(schedule: Sequence[Sequence[int]], period: int) -> str:
    by_month = [tuple(h for h, p in enumerate(row) if p == period) for row in schedule]
    groups: dict[tuple[int, ...], list[int]] = {}
    for month, hours in enumerate(by_month, start=1):
        groups.setdefault(hours, []).append(month)
    if len(groups) == 1:
        return _hour_ranges(by_month[0])
    parts = [f"{_hour_ranges(hours)} in {_months(months)}" for hours, months in groups.items() if hours]
    return ", ".join(parts) if parts else "never"


def _hour_ranges(hours: Sequence[int]) -> str:
    if not hours:
        return "never"
    if len(hours) == 24:  # hours a day
        return "all day"
    ranges = []
    for _, run in groupby(enumerate(hours), key=lambda pair: pair[1] - pair[0]):
        found = [h for _, h in run]
        ranges.append(f"{found[0]:02d}:00–{found[-1] + 1:02d}:00")
    return ", ".join(ranges)


def _months(months: Sequence[int]) -> str:
    if sorted(months) == list(range(1, 13)):
        return "all year"
    ranges = []
    for _, run in groupby(enumerate(sorted(months)), key=lambda pair: pair[1] - pair[0]):
        found = [m for _, m in run]
        first, last = MONTH_NAMES[found[0] - 1], MONTH_NAMES[found[-1] - 1]
        ranges.append(first if first == last else f"{first}–{last}")
    return ", ".join(ranges)


def _demand_lines(tariff: Tariff) -> list[str]:
    demand = tariff.demand
    assert demand is not None
    power = _power_unit(tariff.unit)
    price_unit = f"{tariff.currency}/{power}"
    lines = [f"Billed on the highest {demand.window_minutes}-minute average power"]
    if demand.flat is not None:
        flat = demand.flat
        for i, period in enumerate(flat.periods):
            months = [m + 1 for m, p in enumerate(flat.months) if p == i]
            when = f" ({period.name}: {_months(months)})" if len(flat.periods) > 1 else ""
            lines += [
                f"The month's peak{when}: {text}" for text in _tier_texts(period, power, price_unit, "")
            ]
        if flat.ratchet is not None:
            lines.append(
                f"At least {operand(flat.ratchet.percent)}% of the highest peak of the previous "
                f"{flat.ratchet.months} months"
            )
    if demand.time_of_use is not None:
        tou = demand.time_of_use
        for i, period in enumerate(tou.periods):
            lines.append(
                f"Peak in {period.name}: {hours_of(tou.time_of_use, i, tariff.holidays_as_weekends)}"
            )
            lines += [f"Peak in {period.name}: {text}" for text in _tier_texts(period, power, price_unit, "")]
    return lines


def _power_unit(energy_unit: str) -> str:
    return energy_unit[:-1] if energy_unit.endswith("h") else f"{energy_unit}/h"


def _package_line(package: UsagePackage, currency: str) -> str:
    return (
        f"{package.description}: {operand(package.fare)} {currency} a session covers its first "
        f"{operand(package.threshold_seconds)} s, then {operand(package.unit_rate)} {currency} per started "
        f"{operand(package.unit_seconds)} s"
    )


def _adjustment_line(adjustment: Adjustment, currency: str) -> str:
    kind = "Discount" if adjustment.kind == "discount" else "Surcharge"
    if adjustment.percent is not None:
        base = "" if set(adjustment.applies_to) == ALL_ADJUSTED else f" of {', '.join(adjustment.applies_to)}"
        return f"{kind} {adjustment.description}: {operand(adjustment.percent)}%{base}"
    assert adjustment.amount is not None  # the model holds either a percent or an amount
    return f"{kind} {adjustment.description}: {operand(adjustment.amount)} {currency} per bill"


# --- the versions and what changed --------------------------------------------------------------------------


def version_rows(versions: Sequence[CatalogEntry[Tariff]]) -> list[dict[str, Any]]:
    """The versions, newest first: number, created (UTC: a tariff has no site), effective from, who stored
    it (the API key's id; "not recorded" for a version stored without one), the summary, and what changed
    from the version before."""
    ordered = sorted(versions, key=lambda e: e.value.version)
    rows = []
    for i, entry in enumerate(ordered):
        tariff = entry.value
        before = ordered[i - 1].value if i else None
        created = entry.created_at.astimezone(UTC)
        rows.append(
            {
                "version": tariff.version,
                "created": created.isoformat(timespec="minutes"),
                "created_text": f"{created:%Y-%m-%d %H:%M} UTC",
                "effective_from": tariff.effective_from.isoformat() if tariff.effective_from else "always",
                "changed_by": entry.changed_by or "not recorded",
                "name": tariff.name,
                "sections": summary(tariff),
                "changes": None if before is None else changes(before, tariff),
            }
        )
    return rows[::-1]


@dataclass(frozen=True, slots=True)
class Change:
    section: str
    was: str  # "" for a line added
    now: str  # "" for a line removed


def changes(before: Tariff, after: Tariff) -> list[Change]:
    """What changed from ``before`` to ``after``: the name, the start, and each summary section's lines that
    differ, paired in order (a line whose value changed shows was → now)."""
    found = []
    if before.name != after.name:
        found.append(Change("Name", before.name, after.name))
    if before.effective_from != after.effective_from:
        found.append(Change("Effective from", _day(before.effective_from), _day(after.effective_from)))
    was = {s.heading: s.lines for s in summary(before)}
    now = {s.heading: s.lines for s in summary(after)}
    for heading in [*was, *(h for h in now if h not in was)]:
        old, new = was.get(heading, ()), now.get(heading, ())
        removed = [line for line in old if line not in new]
        added = [line for line in new if line not in old]
        for gone, came in zip_longest(removed, added, fillvalue=""):
            found.append(Change(heading, gone, came))
    return found


def _day(day: date | None) -> str:
    return day.isoformat() if day else "always"


# --- the preview --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreviewAsk:
    """What the preview form asked: the customer and the period [start, end) (a month, or from/to)."""

    customer_id: str
    start: date
    end: date
    month: bool


FORM_FIELDS: Final = ("customer_id", "month", "from", "to")


def form_values(query: Mapping[str, str]) -> dict[str, str]:
    """The form's fields as typed (kept when the page answers an error)."""
    return {name: str(query.get(name) or "")[:100] for name in FORM_FIELDS}


def preview_ask(query: Mapping[str, str]) -> PreviewAsk | None:
    """The preview the query asks for; None when the form was not sent (no field filled). Raises
    InvalidInputError naming the form's field: ``customer_id`` missing or too long, ``month`` not YYYY-MM,
    ``from``/``to`` not dates, or a month beside from/to, or neither."""
    values = form_values(query)
    if not any(values.values()):
        return None
    customer_id = values["customer_id"].strip()
    if not customer_id:
        raise InvalidInputError("customer_id", "choose a customer")
    if len(customer_id) > MAX_ID:
        raise InvalidInputError("customer_id", f"is longer than {MAX_ID} characters")
    month, first, last = values["month"].strip(), values["from"].strip(), values["to"].strip()
    if month and (first or last):
        raise InvalidInputError("month", "give a month or from and to dates, not both")
    if month:
        try:
            start = date.fromisoformat(f"{month}-01")
        except ValueError:
            raise InvalidInputError("month", f"{month!r} is not a month (YYYY-MM)") from None
        end = next_month(start)
        return PreviewAsk(customer_id, start, end, month=True)
    if not first and not last:
        raise InvalidInputError("month", "give a month or from and to dates")
    start, end = _date(first, "from"), _date(last, "to")
    return PreviewAsk(customer_id, start, end, month=False)


def _date(text: str, field: str) -> date:
    if not text:
        raise InvalidInputError(field, "is required with from and to dates (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(field, f"{text!r} is not a date (YYYY-MM-DD)") from None


def form_field(error_field: str, ask: PreviewAsk | None) -> str:
    """The form's field a service error names: for a month, ``from``, ``to`` and ``tariff_id`` (no version in
    force on some day of the period) are the month; for dates, ``tariff_id`` is ``from``."""
    if error_field not in ("from", "to", "tariff_id"):
        return error_field
    if ask is not None and ask.month:
        return "month"
    return "from" if error_field == "tariff_id" else error_field


def preview_view(
    comparison: TariffComparison, tariff_name: str, customer_name: str, tariff_names: Mapping[str, str]
) -> dict[str, Any]:
    """The preview's lines under the tariff, its totals, the customer's current totals for the same
    assignments and usage, and the difference (the tariff's total minus the current one, per currency)."""
    under = _bills_view(comparison.under, tariff_names)
    current = _bills_view(comparison.current, tariff_names)
    difference = []
    for currency in sorted(set(under["totals"]) & set(current["totals"])):
        delta = under["totals"][currency]["total_value"] - current["totals"][currency]["total_value"]
        sign = "+" if delta > 0 else ""
        difference.append({"currency": currency, "text": sign + money(delta, currency), "value": delta})
    return {
        "tariff": tariff_name,
        "customer": customer_name,
        "period": f"{comparison.start.isoformat()} – {comparison.end.isoformat()}",
        "under": under,
        "current": current,
        "current_tariffs": ", ".join(
            sorted({tariff_names.get(b.bill.tariff_id, b.bill.tariff_id) for b in comparison.current})
        ),
        "difference": difference,
        "left_out": list(comparison.left_out),
    }


def _bills_view(bills: Sequence[PreviewBill], tariff_names: Mapping[str, str]) -> dict[str, Any]:
    """Each bill (a meter's month or part of it under one tariff version) with its lines, and the sums of
    the bills' subtotals, taxes and totals per currency."""
    shown = []
    sums: dict[str, dict[str, Decimal]] = {}
    for preview in bills:
        bill = preview.bill
        tariff = f"{tariff_names.get(bill.tariff_id, bill.tariff_id)} v{bill.tariff_version}"
        shown.append(
            {
                "heading": f"{preview.meter_id} · {bill.start.date().isoformat()} – "
                f"{bill.end.date().isoformat()} · {tariff}",
                "lines": [
                    {
                        "component": line.component,
                        "description": line.description,
                        "quantity": f"{line.quantity} {line.unit}",
                        "rate": "" if line.rate is None else str(line.rate),
                        "amount": money(line.amount, bill.currency),
                    }
                    for line in bill.lines
                ],
            }
        )
        total = sums.setdefault(
            bill.currency, {"subtotal": Decimal(0), "taxes": Decimal(0), "total": Decimal(0)}
        )
        total["subtotal"] += bill.subtotal
        total["taxes"] += bill.taxes
        total["total"] += bill.total
    totals = {
        currency: {
            "subtotal": money(round_money(s["subtotal"], currency), currency),
            "taxes": money(round_money(s["taxes"], currency), currency),
            "total": money(round_money(s["total"], currency), currency),
            "total_value": round_money(s["total"], currency),
        }
        for currency, s in sums.items()
    }
    return {"bills": shown, "totals": totals}


_DAY: Final = date(2000, 1, 2) - date(2000, 1, 1)
