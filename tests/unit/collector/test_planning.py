"""Reads merged into as few Modbus requests as a meter allows (max_read, max_gap), and each register's words
split back out of an answer."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from meterbill_collector.decoding import DecodeError, decode, encode
from meterbill_collector.planning import PlanError, plan_reads, split
from meterbill_collector.profiles import eastron_sdm120, eastron_sdm630, on_off_hours, rack_pdu
from meterbill_collector.registers import Profile, ReadRequest, RegisterSpec


def spans(requests: tuple[ReadRequest, ...]) -> list[tuple[str, int, int, list[str]]]:
    return [(r.table, r.address, r.count, [s.name for s in r.specs]) for r in requests]


def test_the_sdm630_is_read_in_six_requests_of_adjacent_float_registers() -> None:
    assert spans(plan_reads(eastron_sdm630())) == [
        ("input", 0x0000, 3 * 2, ["voltage_l1", "voltage_l2", "voltage_l3"]),
        ("input", 0x000C, 3 * 2, ["power_l1", "power_l2", "power_l3"]),
        ("input", 0x0034, 2, ["power"]),
        ("input", 0x0048, 2 * 2, ["import_kwh", "export_kwh"]),
        ("input", 0x0156, 2, ["total_kwh"]),
        ("input", 0x015A, 3 * 2, ["import_kwh_l1", "import_kwh_l2", "import_kwh_l3"]),
    ]


def test_the_sdm120_is_read_in_five_requests() -> None:
    assert [(r.address, r.count) for r in plan_reads(eastron_sdm120())] == [
        (0x0000, 2),
        (0x0006, 2),
        (0x000C, 2),
        (0x0048, 4),
        (0x0156, 2),
    ]


def test_a_meter_that_answers_unmapped_addresses_is_read_across_gaps_up_to_max_gap() -> None:
    profile = replace(eastron_sdm630(), max_gap=6)

    # 6..11 unmapped (6 <= max_gap): one request 0..17; 18..51 and 54..71 too wide; 344..345 spanned
    assert [(r.address, r.count, len(r.specs)) for r in plan_reads(profile)] == [
        (0x0000, 0x0012 - 0x0000, 6),
        (0x0034, 2, 1),
        (0x0048, 4, 2),
        (0x0156, 0x0160 - 0x0156, 4),
    ]


def test_a_long_run_of_registers_is_split_at_max_read_never_inside_a_register() -> None:
    pdu = replace(rack_pdu(outlets=48), max_read=40)  # 48 outlets x 2 registers = 96 registers from 0x0100

    assert [(r.address, r.count, len(r.specs)) for r in plan_reads(pdu)] == [
        (0x0100, 40, 20),
        (0x0100 + 40, 40, 20),
        (0x0100 + 80, 16, 8),
    ]
    odd = replace(rack_pdu(outlets=3), max_read=5)  # two uint32 fit in 5 registers, three do not
    assert [(r.address, r.count) for r in plan_reads(odd)] == [(0x0100, 4), (0x0104, 2)]


def test_all_48_outlets_of_a_rack_pdu_fit_one_request() -> None:
    assert [(r.address, r.count, len(r.specs)) for r in plan_reads(rack_pdu(outlets=48))] == [
        (0x0100, 96, 48)
    ]


def coils(*addresses: int, max_gap: int = 0, max_read: int = 125) -> Profile:
    registers = tuple(RegisterSpec(f"c{a}", "coil", a, "bool", cumulative=False) for a in addresses)
    return Profile("coils", "", registers, "c0", max_read=max_read, max_gap=max_gap)


def test_coils_are_counted_in_bits_and_merged_like_registers() -> None:
    assert [(r.table, r.address, r.count) for r in plan_reads(coils(0, 1, 2, 5))] == [
        ("coil", 0, 3),
        ("coil", 5, 1),
    ]
    assert [(r.address, r.count) for r in plan_reads(coils(0, 1, 2, 5, max_gap=2))] == [(0, 6)]
    assert [(r.address, r.count) for r in plan_reads(coils(0, 1, 2, 3, max_read=2))] == [(0, 2), (2, 2)]


def test_each_table_is_read_by_its_own_requests_coils_first() -> None:
    assert [(r.table, r.function_code, r.address, r.count) for r in plan_reads(on_off_hours())] == [
        ("coil", 1, 0, 1),
        ("holding", 3, 0, 2),
    ]


def test_registers_given_out_of_order_are_read_in_address_order() -> None:
    profile = replace(eastron_sdm120(), registers=tuple(reversed(eastron_sdm120().registers)))

    assert [(r.address, r.count) for r in plan_reads(profile)] == [
        (r.address, r.count) for r in plan_reads(eastron_sdm120())
    ]


def test_two_quantities_of_one_register_share_its_words() -> None:
    both = (
        RegisterSpec("raw", "holding", 10, "uint32"),
        RegisterSpec("high", "holding", 10, "uint16"),
        RegisterSpec("next", "holding", 12, "uint16"),
    )
    profile = Profile("overlap", "", both, "raw")

    (request,) = plan_reads(profile)
    assert (request.address, request.count) == (10, 3)
    assert split(request, [1, 2, 3]) == {"raw": [1, 2], "high": [1], "next": [3]}


def test_a_register_longer_than_max_read_cannot_be_planned() -> None:
    profile = Profile("small", "", (RegisterSpec("energy", "input", 0, "float64"),), "energy", max_read=3)

    with pytest.raises(
        PlanError, match=r"^register 'energy' \(float64, 4 registers\) is longer than max_read 3$"
    ):
        plan_reads(profile)


def test_split_hands_each_register_its_words_and_they_decode() -> None:
    profile = eastron_sdm630()
    request = plan_reads(profile)[3]  # import_kwh and export_kwh, 0x0048..0x004B
    words = encode(profile.register("import_kwh"), Decimal("12345.67")) + encode(
        profile.register("export_kwh"), Decimal("0.5")
    )

    parts = split(request, words)
    assert parts == {"import_kwh": [0x4640, 0xE6AE], "export_kwh": [0x3F00, 0x0000]}
    assert [decode(profile.register(name), parts[name]) for name in parts] == [
        Decimal("12345.67"),
        Decimal("0.5"),
    ]


def test_an_answer_of_the_wrong_length_is_a_decode_error() -> None:
    request = plan_reads(eastron_sdm630())[3]

    with pytest.raises(DecodeError, match=r"^input 72: 3 registers read, the request asked for 4$"):
        split(request, [0, 0, 0])
