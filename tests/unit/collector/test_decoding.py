"""Registers to exact values: every type in every word and byte order, from words written out by hand; a
float32's resolution respected; NaN, infinities and short answers refused; scale applied exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterbill_collector.decoding import DecodeError, decode, encode
from meterbill_collector.registers import DataType, Order, RegisterSpec

# (type, the value, its words in ABCD, CDAB, BADC, DCBA). The big-endian bytes are the ABCD words; CDAB
# reverses the words, BADC swaps the two bytes of each word, DCBA does both.
CASES: list[tuple[DataType, Decimal, dict[Order, list[int]]]] = [
    ("int16", Decimal(-2), {"ABCD": [0xFFFE], "CDAB": [0xFFFE], "BADC": [0xFEFF], "DCBA": [0xFEFF]}),
    ("uint16", Decimal(0x1234), {"ABCD": [0x1234], "CDAB": [0x1234], "BADC": [0x3412], "DCBA": [0x3412]}),
    (
        "int32",
        Decimal(-123456789),  # 0xF8A432EB
        {
            "ABCD": [0xF8A4, 0x32EB],
            "CDAB": [0x32EB, 0xF8A4],
            "BADC": [0xA4F8, 0xEB32],
            "DCBA": [0xEB32, 0xA4F8],
        },
    ),
    (
        "uint32",
        Decimal(0x12345678),
        {
            "ABCD": [0x1234, 0x5678],
            "CDAB": [0x5678, 0x1234],
            "BADC": [0x3412, 0x7856],
            "DCBA": [0x7856, 0x3412],
        },
    ),
    (
        "int64",
        Decimal(-0x0123456789ABCDF0),  # 0xFEDCBA9876543210
        {
            "ABCD": [0xFEDC, 0xBA98, 0x7654, 0x3210],
            "CDAB": [0x3210, 0x7654, 0xBA98, 0xFEDC],
            "BADC": [0xDCFE, 0x98BA, 0x5476, 0x1032],
            "DCBA": [0x1032, 0x5476, 0x98BA, 0xDCFE],
        },
    ),
    (
        "uint64",
        Decimal(0x0123456789ABCDEF),
        {
            "ABCD": [0x0123, 0x4567, 0x89AB, 0xCDEF],
            "CDAB": [0xCDEF, 0x89AB, 0x4567, 0x0123],
            "BADC": [0x2301, 0x6745, 0xAB89, 0xEFCD],
            "DCBA": [0xEFCD, 0xAB89, 0x6745, 0x2301],
        },
    ),
    (
        "float32",
        Decimal("12345.67"),  # 0x4640E6AE holds 12345.669921875
        {
            "ABCD": [0x4640, 0xE6AE],
            "CDAB": [0xE6AE, 0x4640],
            "BADC": [0x4046, 0xAEE6],
            "DCBA": [0xAEE6, 0x4046],
        },
    ),
    (
        "float64",
        Decimal("12345.67"),  # 0x40C81CD5C28F5C29
        {
            "ABCD": [0x40C8, 0x1CD5, 0xC28F, 0x5C29],
            "CDAB": [0x5C29, 0xC28F, 0x1CD5, 0x40C8],
            "BADC": [0xC840, 0xD51C, 0x8FC2, 0x295C],
            "DCBA": [0x295C, 0x8FC2, 0xD51C, 0xC840],
        },
    ),
]
EVERY_ORDER = [
    pytest.param(data_type, order, value, words[order], id=f"{data_type}-{order}")
    for data_type, value, words in CASES
    for order in ("ABCD", "DCBA", "BADC", "CDAB")
]


def spec(data_type: DataType, order: Order = "ABCD", scale: str = "1") -> RegisterSpec:
    return RegisterSpec("energy", "input", 0, data_type, order, Decimal(scale))


@pytest.mark.parametrize(("data_type", "order", "value", "words"), EVERY_ORDER)
def test_every_type_decodes_in_every_word_and_byte_order(
    data_type: DataType, order: Order, value: Decimal, words: list[int]
) -> None:
    assert decode(spec(data_type, order), words) == value


@pytest.mark.parametrize(("data_type", "order", "value", "words"), EVERY_ORDER)
def test_the_simulator_encodes_the_same_words(
    data_type: DataType, order: Order, value: Decimal, words: list[int]
) -> None:
    assert encode(spec(data_type, order), value) == words


def test_a_bool_is_one_or_zero() -> None:
    coil = RegisterSpec("running", "coil", 0, "bool", cumulative=False)

    assert (decode(coil, [1]), decode(coil, [0]), encode(coil, True), encode(coil, 0)) == (
        Decimal(1),
        Decimal(0),
        [1],
        [0],
    )


def test_a_float32_register_is_sent_with_the_digits_the_meter_has() -> None:
    value = decode(spec("float32"), [0x4640, 0xE6AE])  # exactly 12345.669921875 as a float

    assert str(value) == "12345.67"
    assert decode(spec("float32"), [0x3DCC, 0xCCCD]) == Decimal("0.1")  # 0.100000001490116...
    assert str(decode(spec("float32"), [0x4B18, 0x9680])) == "10000000"  # 1e7, not 1E+7
    assert str(decode(spec("float32"), [0x8000, 0x0000])) == "0"  # -0.0


def test_a_float64_register_is_sent_as_its_shortest_decimal() -> None:
    assert decode(spec("float64"), [0x3FB9, 0x9999, 0x9999, 0x999A]) == Decimal("0.1")


@pytest.mark.parametrize(
    ("data_type", "words", "shown"),
    [
        ("float32", [0x7FC0, 0x0000], "nan"),
        ("float32", [0x7F80, 0x0000], "inf"),
        ("float32", [0xFF80, 0x0000], "-inf"),
        ("float64", [0x7FF8, 0, 0, 0], "nan"),
        ("float64", [0x7FF0, 0, 0, 0], "inf"),
    ],
)
def test_a_nan_or_an_infinity_is_a_decode_error(data_type: DataType, words: list[int], shown: str) -> None:
    with pytest.raises(DecodeError, match=rf"^energy: the register holds {shown} \(not a number\)$"):
        decode(spec(data_type), words)


def test_scale_turns_a_wh_counter_into_exact_kwh() -> None:
    wh = spec("uint32", scale="0.001")

    assert decode(wh, [0x0012, 0xD687]) == Decimal(1234567) * Decimal("0.001")  # 1234.567 kWh
    assert str(decode(wh, [0x000F, 0x4240])) == "1000"  # 1,000,000 Wh: not 1E+3
    assert decode(wh, [0x0000, 0x0000]) == Decimal(0)
    assert encode(wh, Decimal("1234.567")) == [0x0012, 0xD687]


def test_scale_applies_to_a_float_register_after_its_resolution() -> None:
    assert decode(spec("float32", scale="0.001"), [0x4640, 0xE6AE]) == Decimal("12.34567")


def test_the_largest_uint64_is_exact() -> None:
    assert decode(spec("uint64"), [0xFFFF] * 4) == Decimal(2**64 - 1)


@pytest.mark.parametrize(
    ("data_type", "words"), [("float32", [0x4640]), ("uint16", [1, 2]), ("uint64", [0, 0, 0])]
)
def test_the_wrong_number_of_registers_is_a_decode_error(data_type: DataType, words: list[int]) -> None:
    needs = {"float32": 2, "uint16": 1, "uint64": 4}[data_type]

    with pytest.raises(
        DecodeError, match=rf"^energy: {len(words)} registers read, {data_type} needs {needs}$"
    ):
        decode(spec(data_type), words)
