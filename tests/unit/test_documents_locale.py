"""Numbers, money, dates and periods as English and German customers read them; the labels of both."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterbill.documents.labels import LABELS
from meterbill.documents.locale import (
    format_amount,
    format_date,
    format_money,
    format_percent,
    format_period,
    format_quantity,
    territory_name,
)

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "currency", "language", "expected"),
    [
        ("1234.56", "EUR", "en", "€1,234.56"),
        ("1234.56", "EUR", "de", f"1.234,56{NBSP}€"),
        ("-1132.40", "EUR", "de", f"-1.132,40{NBSP}€"),
        ("1234.5", "USD", "en", "$1,234.50"),
        ("1234", "JPY", "de", f"1.234{NBSP}¥"),  # no minor unit
        ("1.234", "BHD", "de", f"1,234{NBSP}BHD"),  # three digits (meterbill.money)
    ],
)
def test_money_has_the_currency_s_digits_in_the_locale_s_pattern(
    amount: str, currency: str, language: str, expected: str
) -> None:
    assert format_money(Decimal(amount), currency, language) == expected  # type: ignore[arg-type]


def test_amounts_in_a_column_leave_the_currency_to_the_header() -> None:
    assert (format_amount(Decimal("1252.02"), "EUR", "de"), format_amount(Decimal("-3.5"), "EUR", "en")) == (
        "1.252,02",
        "-3.50",
    )


def test_quantities_keep_their_own_digits_unless_told() -> None:
    assert format_quantity(Decimal("2184.375"), "de") == "2.184,375"
    assert format_quantity(Decimal("4620.000"), "en") == "4,620"
    assert format_quantity(Decimal("357.52916"), "de", 1) == "357,5"


def test_percentages_and_dates_and_periods() -> None:
    assert (format_percent(Decimal("0.19"), "en"), format_percent(Decimal("0.075"), "de")) == (
        "19%",
        f"7,5{NBSP}%",
    )
    assert (format_date(date(2026, 12, 3), "en"), format_date(date(2026, 12, 3), "de")) == (
        "Dec 3, 2026",
        "03.12.2026",
    )
    # the period's end is exclusive: the page names its last day
    assert format_period(date(2026, 11, 1), date(2026, 12, 1), "de") == "01.11.2026 – 30.11.2026"
    assert format_period(date(2026, 11, 1), date(2026, 12, 1), "en") == "Nov 1, 2026 – Nov 30, 2026"
    assert format_period(date(2026, 11, 1), date(2026, 11, 2), "en") == "Nov 1, 2026"


def test_countries_are_named_in_the_customer_s_language() -> None:
    assert (territory_name("US", "en"), territory_name("DE", "de"), territory_name("AT", "de")) == (
        "United States",
        "Deutschland",
        "Österreich",
    )


def test_every_language_has_every_label() -> None:
    assert set(LABELS["de"]) == set(LABELS["en"])
