"""Money: exact decimals rounded half-up to the currency's minor unit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

# ISO 4217 minor units of the currencies we bill in; anything else must be added here deliberately.
MINOR_UNITS: dict[str, int] = {
    "AUD": 2,
    "BHD": 3,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "INR": 2,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "TND": 3,
    "USD": 2,
    "ZAR": 2,
}


class UnknownCurrencyError(ValueError):
    pass


def minor_unit(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrencyError(
            f"unknown currency {currency!r}; known: {', '.join(sorted(MINOR_UNITS))}"
        ) from None


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


# Rounding to the minor unit must never fail for want of digits: the default context's 28 would refuse any
# amount from 10^26 up (InvalidOperation), which bounded tariffs times bounded readings can still reach.
_ROUNDING = Context(prec=80, rounding=ROUND_HALF_UP)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the minor unit: 29.085 USD -> 29.09, -0.125 EUR -> -0.13 (away from zero)."""
    return amount.quantize(quantum(currency), context=_ROUNDING)
