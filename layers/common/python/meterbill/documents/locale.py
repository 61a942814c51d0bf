"""Numbers, money, dates and periods as a customer of the given language reads them (Babel, CLDR data).

English follows CLDR's ``en`` (``€1,234.56``, ``Dec 3, 2026``), German ``de`` (``1.234,56 €``,
``03.12.2026``). Amounts keep exactly the digits of the currency's minor unit; quantities keep their own
digits unless ``digits`` fixes them. Babel's non-breaking spaces stay (``1.234,56\\u00a0€`` does not wrap).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Final

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.numbers import format_currency, format_decimal, get_currency_symbol

from meterbill.domain import Language
from meterbill.money import minor_unit

LOCALES: Final[dict[Language, str]] = {"en": "en", "de": "de_DE"}
PERIOD_DASH: Final = " \u2013 "  # an en dash between spaces: "01.11.2026 – 30.11.2026"


@cache
def _locale(language: Language) -> Locale:
    return Locale.parse(LOCALES[language])


def _pattern(digits: int) -> str:
    return "#,##0" + ("." + "0" * digits if digits else "")


def format_money(amount: Decimal, currency: str, language: Language) -> str:
    """``1234.56 EUR`` → ``€1,234.56`` (en) or ``1.234,56 €`` (de), with the currency's minor-unit digits
    (``meterbill.money``), in the locale's own currency pattern."""
    locale = _locale(language)
    standard = locale.currency_formats["standard"].pattern.split(";")[0]
    pattern = standard.replace("#,##0.00", _pattern(minor_unit(currency)))
    return str(format_currency(amount, currency, format=pattern, locale=locale, currency_digits=False))


def format_amount(amount: Decimal, currency: str, language: Language) -> str:
    """An amount without its currency (a table column whose header names it): ``1.234,56``."""
    return format_decimal(amount, format=_pattern(minor_unit(currency)), locale=_locale(language))


def currency_symbol(currency: str, language: Language) -> str:
    return str(get_currency_symbol(currency, locale=_locale(language)))


def format_quantity(value: Decimal, language: Language, digits: int | None = None) -> str:
    """``1234.5`` → ``1,234.5`` (en) / ``1.234,5`` (de); ``digits`` fixes the decimals (rounded half-even as
    Babel does), else the value's own digits are kept without trailing zeros."""
    if digits is None:
        exponent = value.normalize().as_tuple().exponent
        digits = max(0, -exponent) if isinstance(exponent, int) else 0
    return format_decimal(value, format=_pattern(digits), locale=_locale(language), decimal_quantization=True)


def format_percent(fraction: Decimal, language: Language) -> str:
    """``0.19`` → ``19%`` (en) / ``19 %`` (de); ``0.075`` → ``7.5%``."""
    percent = fraction * 100
    text = format_quantity(percent, language)
    return f"{text}%" if language == "en" else f"{text}\u00a0%"


def format_date(day: date, language: Language) -> str:
    """``Dec 3, 2026`` (en) / ``03.12.2026`` (de)."""
    return str(_babel_date(day, format="medium", locale=_locale(language)))


def format_month(month: date, language: Language) -> str:
    """A month's short name and year for a chart: ``Nov 25`` (en) / ``Nov. 25`` (de)."""
    return str(_babel_date(month, format="MMM yy", locale=_locale(language)))


def format_period(start: date, end_exclusive: date, language: Language) -> str:
    """The calendar days [start, end_exclusive) as their first and last day: ``Nov 1, 2026 – Nov 30, 2026``
    (en) / ``01.11.2026 – 30.11.2026`` (de); one day alone when the period is one day."""
    last = end_exclusive - timedelta(days=1)
    if last <= start:
        return format_date(start, language)
    return format_date(start, language) + PERIOD_DASH + format_date(last, language)


def territory_name(code: str, language: Language) -> str:
    """A country's name from its ISO 3166 code: ``DE`` → ``Germany`` / ``Deutschland``."""
    return str(_locale(language).territories.get(code, code))
