from decimal import Decimal

import pytest

from meterbill.money import round_money


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("29.085", "USD", "29.09"),
        ("-0.125", "EUR", "-0.13"),
        ("0.0005", "KWD", "0.001"),
        ("1234.5", "JPY", "1235"),
    ],
)
def test_money_rounds_half_up_away_from_zero_to_the_minor_unit(
    amount: str, currency: str, rounded: str
) -> None:
    assert round_money(Decimal(amount), currency) == Decimal(rounded)


def test_an_amount_of_more_than_28_digits_rounds_instead_of_failing() -> None:
    # 3 × 10^18 kWh in a month (4,000-reading batches of values below 10^15) at a rate of 10^9: a preview
    # must answer with the number, not fail in the default context's 28 digits.
    amount = Decimal("123456789012345678901234567.891")
    assert str(round_money(amount, "EUR")) == "123456789012345678901234567.89"
