"""Shared costs: the common part split among customers, exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterbill.billing.allocation import AllocationError, AllocationMethod, allocate, common_usage

D = Decimal
CENT = D("0.01")
WH = D("0.001")


def test_the_common_part_is_the_main_meter_minus_its_sub_meters() -> None:
    assert common_usage(D("1000.000"), [D("400.250"), D("350.5")]) == D("1000") - D("400.25") - D("350.5")


def test_sub_meters_above_the_main_meter_leave_nothing_to_share() -> None:
    assert common_usage(D("100"), [D("60"), D("50")]) == 0


def test_fixed_shares_split_by_contract_and_the_rest_stays_with_the_account() -> None:
    parts = allocate(D("100.00"), {"a": D("0.5"), "b": D("0.3")}, AllocationMethod.FIXED_SHARES, CENT)
    assert parts == {"a": D("50.00"), "b": D("30.00")}


def test_fixed_shares_above_one_are_rejected() -> None:
    with pytest.raises(AllocationError, match=r"fixed shares add up to 1\.1, more than 1"):
        allocate(D("1"), {"a": D("0.6"), "b": D("0.5")}, AllocationMethod.FIXED_SHARES, CENT)


def test_area_shares_add_up_to_the_whole_to_the_cent() -> None:
    # 100 / 3 each: 33.33 x 3 = 99.99, the leftover cent goes to the largest remainder (ties: first listed).
    parts = allocate(D("100.00"), {"a": D("80"), "b": D("80"), "c": D("80")}, AllocationMethod.AREA, CENT)
    assert parts == {"a": D("33.34"), "b": D("33.33"), "c": D("33.33")}
    assert sum(parts.values()) == D("100.00")


def test_usage_shares_follow_each_customers_own_usage() -> None:
    parts = allocate(D("12.000"), {"a": D("300"), "b": D("100")}, AllocationMethod.USAGE, WH)
    assert parts == {"a": D("9.000"), "b": D("3.000")}


def test_the_largest_remainder_gets_the_leftover_unit() -> None:
    parts = allocate(D("10.00"), {"a": D("1"), "b": D("2"), "c": D("4")}, AllocationMethod.AREA, CENT)
    # exact 1.428571.., 2.857142.., 5.714285..; floors 1.42 + 2.85 + 5.71 = 9.98; remainders .857 .714 .528
    assert parts == {"a": D("1.43"), "b": D("2.86"), "c": D("5.71")}


def test_negative_or_all_zero_weights_are_rejected_naming_the_customer() -> None:
    with pytest.raises(AllocationError, match=r"weights\.b: must be a finite number >= 0"):
        allocate(D("1"), {"a": D("1"), "b": D("-1")}, AllocationMethod.AREA, CENT)
    with pytest.raises(AllocationError, match="all area weights are zero"):
        allocate(D("1"), {"a": D("0")}, AllocationMethod.AREA, CENT)
    with pytest.raises(AllocationError, match="no customers"):
        allocate(D("1"), {}, AllocationMethod.USAGE, CENT)
