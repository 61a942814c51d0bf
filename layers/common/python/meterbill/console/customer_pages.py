"""The console's customer pages: the rows of the customers' list and a customer's details, meters
(assignments), tariffs, running cost and invoices. Pure: the stores' records come in as values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from meterbill.domain import Assignment, Customer
from meterbill.ports import InvoiceRecord, RunningCost


def money(amount: Decimal, currency: str) -> str:
    """As the console shows money: English (``€1,234.56``)."""
    from meterbill.documents.locale import format_money  # Babel: on first use, not the API's cold start

    return format_money(amount, currency, "en")


def list_rows(
    customers: Iterable[Customer],
    assignments: Sequence[Assignment],
    running: Mapping[str, RunningCost],
    tariffs: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One row per customer, by name then id: meters assigned (distinct), tariffs, month-to-date cost."""
    shown = []
    for customer in sorted(customers, key=lambda c: (c.name.casefold(), c.id)):
        own = [a for a in assignments if a.customer_id == customer.id]
        cost = priced(running.get(customer.id))
        shown.append(
            {
                "id": customer.id,
                "name": customer.name,
                "email": ", ".join(customer.emails),
                "meters": len({a.meter_id for a in own}),
                "tariffs": ", ".join(sorted({tariffs.get(a.tariff_id, a.tariff_id) for a in own})),
                "cost": money(cost.cost, cost.currency) if cost is not None else "—",
            }
        )
    return shown


def assignment_rows(assignments: Iterable[Assignment], tariffs: Mapping[str, str]) -> list[dict[str, Any]]:
    """The customer's assignments, by start then meter: period (end exclusive; open-ended: "open")."""
    return [
        {
            "meter_id": a.meter_id,
            "from": a.effective_from.isoformat(),
            "to": a.effective_to.isoformat() if a.effective_to else "open",
            "tariff_id": a.tariff_id,
            "tariff": tariffs.get(a.tariff_id, a.tariff_id),
            "share": str(a.share),
            "basis": a.basis,
        }
        for a in sorted(assignments, key=lambda a: (a.effective_from, a.meter_id, a.id))
    ]


def priced(running: RunningCost | None) -> RunningCost | None:
    """The running cost if it priced something. The rating pass now stores the tariff's currency even on
    the first day of a bill period; rows stored before that fix have currency "" (nothing rated yet, cost 0),
    and are still shown as not rated yet."""
    return running if running is not None and running.currency else None


def running_view(running: RunningCost | None) -> dict[str, Any] | None:
    running = priced(running)
    if running is None:
        return None
    return {
        "period": f"{running.period_start.isoformat()} – {running.period_end.isoformat()}",
        "as_of": running.as_of.isoformat(),
        "cost": money(running.cost, running.currency),
        "projected": money(running.projected, running.currency),
        "usage": [f"{u.total} {u.unit}" for u in running.usage],
    }


def invoice_rows(records: Iterable[InvoiceRecord]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.invoice_id,
            "number": r.number or "draft",
            "kind": r.kind,
            "period": f"{r.period_start.isoformat()} – {r.period_end.isoformat()}",
            "total": money(Decimal(str(r.body["total"])), str(r.body["currency"])),
            "state": r.state,
        }
        for r in records
    ]


def address_lines(customer: Customer) -> list[str]:
    address = customer.address
    if address is None:
        return []
    city = " ".join(part for part in (address.postal_code, address.city) if part)
    return [*address.lines, city, address.country]
