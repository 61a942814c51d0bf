"""The 12-month consumption chart of an invoice: which bars, drawn as vector rectangles with fpdf2.

``history_bars`` decides what the chart shows (pure values); ``draw_history`` draws it into a box of the page.
Heights are geometry, so floats are fine here; the labels are the exact quantities, formatted for the locale.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from fpdf import FPDF

from meterbill.billing.invoice import Invoice
from meterbill.documents.locale import format_month, format_quantity
from meterbill.documents.model import HistoryMonth
from meterbill.domain import Language

MAX_BARS: Final = 13  # 12 earlier months and this period
BAR_COLOUR: Final = (163, 184, 199)
CURRENT_COLOUR: Final = (0, 84, 122)
AXIS_COLOUR: Final = (150, 150, 150)
TEXT_COLOUR: Final = (90, 90, 90)


@dataclass(frozen=True, slots=True)
class Bar:
    month: date
    quantity: Decimal
    current: bool = False


def chart_unit(invoice: Invoice, history: Sequence[HistoryMonth]) -> str | None:
    """The unit the chart shows: the unit most of this period's meters (else the history) measure in."""
    units = Counter(usage.unit for usage in invoice.meter_usage) or Counter(h.unit for h in history)
    return units.most_common(1)[0][0] if units else None


def history_bars(invoice: Invoice, history: Sequence[HistoryMonth], unit: str) -> list[Bar]:
    """Up to 12 earlier months in ``unit`` (oldest first; months after the period's start are ignored) and
    this period's consumption in that unit as the last bar."""
    start = invoice.period_start.replace(day=1)
    earlier = sorted((h for h in history if h.unit == unit and h.month < start), key=lambda h: h.month)
    bars = [Bar(h.month, h.quantity) for h in earlier[-(MAX_BARS - 1) :]]
    current = sum((u.total for u in invoice.meter_usage if u.unit == unit), Decimal(0))
    bars.append(Bar(invoice.period_start, current, current=True))
    return bars


def draw_history(
    pdf: FPDF, bars: Sequence[Bar], *, x: float, y: float, w: float, h: float, language: Language
) -> None:
    """Bars in [x, x+w] × [y, y+h]: values above the bars, month names below, this period in the accent."""
    label_h = 4.0
    top, bottom = y + label_h, y + h - label_h
    peak = max((bar.quantity for bar in bars), default=Decimal(0))
    slot = w / MAX_BARS
    bar_w = slot * 0.62
    pdf.set_draw_color(*AXIS_COLOUR)
    pdf.set_line_width(0.2)
    pdf.line(x, bottom, x + w, bottom)
    for i, bar in enumerate(bars):
        left = x + slot * (MAX_BARS - len(bars) + i) + (slot - bar_w) / 2
        height = 0.0 if peak <= 0 else float(max(bar.quantity, Decimal(0)) / peak) * (bottom - top)
        pdf.set_fill_color(*(CURRENT_COLOUR if bar.current else BAR_COLOUR))
        if height > 0:
            pdf.rect(left, bottom - height, bar_w, height, style="F")
        pdf.set_text_color(*TEXT_COLOUR)
        pdf.set_font(size=5.5, style="B" if bar.current else "")
        pdf.set_xy(left - (slot - bar_w) / 2, bottom - height - 3.4)
        pdf.cell(slot, 3, format_quantity(bar.quantity, language, 0), align="C")
        pdf.set_font(size=6, style="B" if bar.current else "")
        pdf.set_xy(left - (slot - bar_w) / 2, bottom + 0.6)
        pdf.cell(slot, 3, format_month(bar.month, language), align="C")
    pdf.set_text_color(0, 0, 0)
