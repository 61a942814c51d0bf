"""The collector's TOML config: a good file's values, and a bad file refused whole at start with one message
naming every problem (the section or meter, the field, the reason)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from meterbill_collector.config import (
    ApiConfig,
    ConfigError,
    RtuTransport,
    SpoolConfig,
    TcpTransport,
    load_config,
)
from meterbill_collector.profiles import eastron_sdm630, rack_pdu
from meterbill_collector.registers import RegisterSpec

EXAMPLE = Path(__file__).resolve().parents[3] / "collector" / "example.toml"

SITE = """
collector_id = "office-1"

[api]
url = "https://api.example.com"
key = "mb_test"

[transports.line1]
kind = "rtu"
device = "/dev/ttyUSB0"

[transports.gateway]
kind = "tcp"
host = "10.0.0.5"
"""

MAIN = """
[[meters]]
id = "main"
transport = "line1"
unit_id = 1
profile = "eastron-sdm630"
interval_minutes = 15
"""

SHIPPED_NAMES = "eastron-sdm120, eastron-sdm630, pulse-counter-32, pulse-counter-64, on-off-hours, rack-pdu"


def meter(meter_id: str, *lines: str, profile: str = "eastron-sdm120", transport: str = "line1") -> str:
    body = "\n".join(lines)
    return f"""
[[meters]]
id = "{meter_id}"
transport = "{transport}"
unit_id = 2
profile = "{profile}"
interval_minutes = 15
{body}
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "collector.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(folder: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(write(folder, text), environ or {})
    assert str(raised.value) == "\n".join(raised.value.problems)
    return list(raised.value.problems)


# --- a good file --------------------------------------------------------------------------------


def test_the_shipped_example_loads_with_its_meters_transports_and_custom_profile() -> None:
    config = load_config(EXAMPLE, {"METERBILL_INGEST_KEY": "mb_example"})

    assert (config.collector_id, config.site_id, config.timezone) == (
        "office-1",
        "office",
        ZoneInfo("Europe/Berlin"),
    )
    assert config.api == ApiConfig("https://api.example.com", "mb_example", 30.0, 1000)
    assert config.spool == SpoolConfig(EXAMPLE.parent / "spool.sqlite", 512 * 1024 * 1024)
    assert config.transports == {
        "rs485": RtuTransport(
            "rs485", "/dev/ttyUSB0", 9600, "N", 1, 8, timeout_seconds=1.0, retries=1, pause_ms=50
        ),
        "gateway": TcpTransport("gateway", "10.0.0.5", 502, timeout_seconds=2.0, retries=1, pause_ms=0),
    }
    assert [(m.id, m.transport, m.unit_id, m.profile.name, m.interval_minutes) for m in config.meters] == [
        ("main", "rs485", 1, "eastron-sdm630", 15),
        ("kitchen", "rs485", 2, "eastron-sdm120", 15),
        ("gas", "gateway", 10, "pulse-counter-32", 60),
        ("rack-a", "gateway", 20, "rack-pdu", 15),
        ("heat", "gateway", 30, "heat-meter", 60),
    ]
    main, kitchen, gas, rack, heat = config.meters
    assert main.multiplier == Decimal("80") and gas.multiplier == Decimal("0.01")
    assert (gas.timeout_seconds, main.timeout_seconds) == (0.5, None)
    assert main.sent == {"import_kwh": "office-main", "export_kwh": "office-main-export"}
    assert kitchen.sent == {"import_kwh": "kitchen"}
    assert gas.sent == {"pulses": "gas"}
    assert rack.profile == rack_pdu(outlets=8)
    assert rack.sent == {"outlet_1_kwh": "rack-a-1", "outlet_2_kwh": "rack-a-2"}
    assert heat.sent == {"heat_kwh": "heat"}
    assert heat.profile.registers == (
        RegisterSpec("heat_kwh", "holding", 100, "uint32", "CDAB", Decimal("0.1"), "kWh", True),
        RegisterSpec("volume_m3", "holding", 102, "uint32", "CDAB", Decimal("0.01"), "m3", True),
        RegisterSpec("flow", "input", 10, "float32", "ABCD", Decimal(1), "m3/h", False),
    )
    assert (heat.profile.primary, heat.profile.max_read, heat.profile.max_gap) == ("heat_kwh", 60, 0)
    assert config.source == EXAMPLE


def test_a_minimal_file_takes_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SITE + MAIN), {})

    assert (config.site_id, config.timezone, config.heartbeat_minutes) == (None, ZoneInfo("UTC"), 5)
    assert config.api == ApiConfig("https://api.example.com", "mb_test", 30.0, 1000)
    assert config.spool == SpoolConfig(tmp_path / "spool.sqlite", 512 * 1024 * 1024)
    assert config.transports["line1"] == RtuTransport("line1", "/dev/ttyUSB0")
    assert config.transports["gateway"] == TcpTransport("gateway", "10.0.0.5", 502)
    (main,) = config.meters
    assert (main.profile, main.multiplier, main.send, main.sent) == (
        eastron_sdm630(),
        Decimal(1),
        {},
        {"import_kwh": "main"},
    )


def test_the_spool_path_is_relative_to_the_config_files_folder_and_an_absolute_one_is_kept(
    tmp_path: Path,
) -> None:
    (tmp_path / "site").mkdir()
    relative = load_config(write(tmp_path / "site", SITE + '[spool]\npath = "data/spool.db"\n' + MAIN), {})
    absolute = load_config(
        write(tmp_path, SITE + '[spool]\npath = "/var/lib/mb/spool.db"\nquota_mb = 64\n' + MAIN), {}
    )

    assert relative.spool.path == tmp_path / "site" / "data" / "spool.db"
    assert absolute.spool == SpoolConfig(Path("/var/lib/mb/spool.db"), 64 * 1024 * 1024)


def test_the_key_comes_from_the_variable_key_env_names(tmp_path: Path) -> None:
    text = SITE.replace('key = "mb_test"', 'key_env = "MB_KEY"') + MAIN

    assert load_config(write(tmp_path, text), {"MB_KEY": "mb_from_env"}).api.key == "mb_from_env"


def test_a_multiplier_is_an_exact_decimal_from_a_string_or_an_integer(tmp_path: Path) -> None:
    text = (
        SITE
        + meter("a", 'multiplier = "0.1"')
        + meter("b", "multiplier = 40").replace("unit_id = 2", "unit_id = 3")
    )

    assert [m.multiplier for m in load_config(write(tmp_path, text), {}).meters] == [
        Decimal("0.1"),
        Decimal(40),
    ]


def test_http_is_accepted_for_a_local_api_and_a_trailing_slash_dropped(tmp_path: Path) -> None:
    text = SITE.replace("https://api.example.com", "http://127.0.0.1:8080/") + MAIN

    assert load_config(write(tmp_path, text), {}).api.url == "http://127.0.0.1:8080"


# --- every problem, named --------------------------------------------------------------------------------


def test_an_unknown_profile_names_the_meter_and_lists_the_shipped_ones(tmp_path: Path) -> None:
    assert problems(tmp_path, SITE + meter("gas-1", profile="sdm999")) == [
        f"meters[0] 'gas-1': profile: unknown profile 'sdm999' (shipped: {SHIPPED_NAMES})"
    ]


def test_a_custom_register_past_the_last_address_or_negative_is_refused(tmp_path: Path) -> None:
    text = (
        SITE
        + """
[profiles.heat]
registers = [
  { name = "heat_kwh", table = "holding", address = 65535, type = "uint32" },
  { name = "water", table = "holding", address = 65532, type = "uint64" },
  { name = "low", table = "input", address = -1, type = "uint16" },
]
"""
        + meter("h", profile="heat")
    )

    assert problems(tmp_path, text) == [
        "profiles.heat: registers[0] 'heat_kwh': address: 65535 + 2 registers of uint32 ends at 65536, "
        "past 65535",
        "profiles.heat: registers[2] 'low': address: -1 is negative (addresses run 0..65535)",
    ]


def test_a_missing_key_says_how_to_set_it(tmp_path: Path) -> None:
    neither = SITE.replace('key = "mb_test"\n', "") + MAIN
    unset = SITE.replace('key = "mb_test"', 'key_env = "METERBILL_KEY"') + MAIN
    both = SITE.replace('key = "mb_test"', 'key = "mb_test"\nkey_env = "METERBILL_KEY"') + MAIN

    assert problems(tmp_path, neither) == ["api: key: missing (set key or key_env)"]
    assert problems(tmp_path, unset, {"OTHER": "x"}) == [
        "api: key: missing (set key or key_env; the variable METERBILL_KEY is not set)"
    ]
    assert problems(tmp_path, unset, {"METERBILL_KEY": " "}) == [
        "api: key: missing (set key or key_env; the variable METERBILL_KEY is empty)"
    ]
    assert problems(tmp_path, both, {"METERBILL_KEY": "mb_x"}) == ["api: key: set key or key_env, not both"]


def test_two_meters_with_one_id_are_refused(tmp_path: Path) -> None:
    text = SITE + MAIN + meter("main", 'send = { import_kwh = "sub" }')

    assert problems(tmp_path, text) == ["meters[1] 'main': id: 'main' is also the id of meters[0] 'main'"]


def test_one_platform_meter_sent_by_two_meters_or_two_quantities_is_refused(tmp_path: Path) -> None:
    across = SITE + MAIN + meter("sub", 'send = { import_kwh = "main" }')
    within = SITE + meter("sub", 'send = { import_kwh = "x", export_kwh = "x" }')

    assert problems(tmp_path, across) == [
        "meters[1] 'sub': send: platform meter 'main' is also sent by meters[0] 'main' (import_kwh)"
    ]
    assert problems(tmp_path, within) == [
        "meters[0] 'sub': send: platform meter 'x' is also sent by meters[0] 'sub' (import_kwh)"
    ]


def test_a_unit_id_outside_0_to_247_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, SITE + MAIN.replace("unit_id = 1", "unit_id = 248")) == [
        "meters[0] 'main': unit_id: 248 is outside 0..247"
    ]
    assert problems(tmp_path, SITE + MAIN.replace("unit_id = 1", "unit_id = -1")) == [
        "meters[0] 'main': unit_id: -1 is outside 0..247"
    ]


def test_an_interval_other_than_1_5_15_30_60_minutes_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, SITE + MAIN.replace("interval_minutes = 15", "interval_minutes = 10")) == [
        "meters[0] 'main': interval_minutes: 10 is not one of 1, 5, 15, 30, 60"
    ]
    assert problems(tmp_path, SITE + MAIN.replace("interval_minutes = 15", "interval_minutes = 15.0")) == [
        "meters[0] 'main': interval_minutes: expected an integer, got float 15.0"
    ]


def test_an_unknown_transport_kind_or_name_is_refused(tmp_path: Path) -> None:
    kind = SITE.replace('kind = "tcp"', 'kind = "udp"') + MAIN
    name = SITE + MAIN.replace('transport = "line1"', 'transport = "line2"')

    assert problems(tmp_path, kind) == ["transports.gateway: kind: unknown transport 'udp' (tcp or rtu)"]
    assert problems(tmp_path, name) == [
        "meters[0] 'main': transport: unknown transport 'line2' (configured: gateway, line1)"
    ]


def test_a_sent_quantity_must_be_a_cumulative_quantity_of_the_profile(tmp_path: Path) -> None:
    text = SITE + meter("sub", 'send = { imprt_kwh = "a", voltage = "b", import_kwh = "c" }')
    cumulative = "import_kwh, export_kwh, total_kwh"

    assert problems(tmp_path, text) == [
        "meters[0] 'sub': send: imprt_kwh: not a quantity of profile eastron-sdm120 "
        f"(cumulative: {cumulative})",
        "meters[0] 'sub': send: voltage: not cumulative: only register reads are sent "
        f"(cumulative: {cumulative})",
    ]


def test_bool_lives_only_in_coil_and_discrete_tables_and_they_hold_only_bool(tmp_path: Path) -> None:
    text = (
        SITE
        + """
[profiles.machine]
registers = [
  { name = "hours", table = "coil", address = 0, type = "uint32" },
  { name = "running", table = "holding", address = 0, type = "bool" },
  { name = "door", table = "discrete", address = 0, type = "bool", cumulative = true },
]
"""
        + meter("m", profile="machine")
    )

    assert problems(tmp_path, text) == [
        "profiles.machine: registers[0] 'hours': type: a coil holds one bit: its type is bool, not uint32",
        "profiles.machine: registers[1] 'running': type: bool is read from a coil or discrete table, "
        "not from holding",
        "profiles.machine: registers[2] 'door': cumulative: a bool is a status, it cannot be cumulative",
    ]


def test_a_float_multiplier_or_scale_is_refused_asking_for_a_string(tmp_path: Path) -> None:
    text = (
        SITE
        + """
[profiles.heat]
registers = [{ name = "heat_kwh", table = "holding", address = 0, type = "uint32", scale = 0.1 }]
"""
        + meter("h", "multiplier = 0.1", profile="heat")
    )

    assert problems(tmp_path, text) == [
        "profiles.heat: registers[0] 'heat_kwh': scale: 0.1 is a TOML float, which is not exact: "
        'write it as a string, "0.1"',
        "meters[0] 'h': multiplier: 0.1 is a TOML float, which is not exact: write it as a string, \"0.1\"",
    ]


def test_a_multiplier_must_be_a_positive_number(tmp_path: Path) -> None:
    assert problems(tmp_path, SITE + meter("a", 'multiplier = "ten"')) == [
        "meters[0] 'a': multiplier: 'ten' is not a number"
    ]
    assert problems(tmp_path, SITE + meter("a", "multiplier = 0")) == [
        "meters[0] 'a': multiplier: 0 must be a positive number"
    ]


def test_profile_options_only_where_a_profile_takes_them_and_within_range(tmp_path: Path) -> None:
    none_taken = SITE + meter("m", "profile_options = { outlets = 8 }")
    too_many = SITE + meter("pdu", "profile_options = { outlets = 49 }", profile="rack-pdu")
    misspelt = SITE + meter("pdu", "profile_options = { outlet = 4 }", profile="rack-pdu")

    assert problems(tmp_path, none_taken) == [
        "meters[0] 'm': profile_options: profile 'eastron-sdm120' takes no options"
    ]
    assert problems(tmp_path, too_many) == ["meters[0] 'pdu': profile_options: outlets: 49 is outside 1..48"]
    assert problems(tmp_path, misspelt) == [
        "meters[0] 'pdu': profile_options: outlet: unknown key (did you mean outlets?)"
    ]


def test_a_rack_pdu_is_built_with_its_outlets(tmp_path: Path) -> None:
    text = SITE + meter(
        "pdu",
        "profile_options = { outlets = 48 }",
        'send = { outlet_48_kwh = "rack-48" }',
        profile="rack-pdu",
    )

    (pdu,) = load_config(write(tmp_path, text), {}).meters
    assert (len(pdu.profile.registers), pdu.profile.options, pdu.sent) == (
        48,
        {"outlets": 48},
        {"outlet_48_kwh": "rack-48"},
    )


def test_unknown_keys_anywhere_are_refused_with_the_likely_spelling(tmp_path: Path) -> None:
    text = (
        SITE.replace('collector_id = "office-1"', 'collector_id = "office-1"\nheartbeat_minute = 5')
        .replace('key = "mb_test"', 'key = "mb_test"\nbatchsize = 10')
        .replace('host = "10.0.0.5"', 'host = "10.0.0.5"\nbaudrate = 9600')
        + """
[profiles.heat]
max_gaps = 2
registers = [{ name = "heat_kwh", table = "holding", address = 0, type = "uint32", scael = "0.1" }]
"""
        + MAIN.replace("interval_minutes = 15", "intervall_minutes = 15")
    )

    assert problems(tmp_path, text) == [
        "heartbeat_minute: unknown key (did you mean heartbeat_minutes?)",
        "api: batchsize: unknown key (did you mean batch_size?)",
        "transports.gateway: baudrate: unknown key "
        "(known: kind, host, port, timeout_seconds, retries, pause_ms)",
        "profiles.heat: max_gaps: unknown key (did you mean max_gap?)",
        "profiles.heat: registers[0] 'heat_kwh': scael: unknown key (did you mean scale?)",
        "meters[0] 'main': intervall_minutes: unknown key (did you mean interval_minutes?)",
        "meters[0] 'main': interval_minutes: missing",
    ]


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    text = 'timezone = "Europe/Berln"\n' + SITE + MAIN

    assert problems(tmp_path, text) == [
        "timezone: unknown time zone 'Europe/Berln' (an IANA name: Europe/Berlin, UTC)"
    ]


def test_plain_http_to_a_host_that_is_not_local_is_refused(tmp_path: Path) -> None:
    text = SITE.replace("https://api.example.com", "http://api.example.com") + MAIN

    assert problems(tmp_path, text) == [
        "api: url: http:// is only for 127.0.0.1 or localhost (the key travels in it): use https://api.example.com"
    ]


def test_a_file_that_is_not_toml_names_the_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, 'collector_id = "office-1"\nheartbeat_minutes = \n')

    with pytest.raises(ConfigError) as raised:
        load_config(path, {})
    assert str(raised.value) == f"{path}: not valid TOML: Invalid value (at line 2, column 21)"


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "missing.toml", {})
    assert (
        str(raised.value) == f"{tmp_path / 'missing.toml'}: cannot read the file: No such file or directory"
    )


def test_a_custom_profile_may_not_take_a_shipped_profiles_name(tmp_path: Path) -> None:
    text = (
        SITE
        + """
[profiles.eastron-sdm630]
registers = [{ name = "import_kwh", table = "input", address = 72, type = "float32" }]
"""
        + MAIN
    )

    assert problems(tmp_path, text) == [
        "profiles.eastron-sdm630: a shipped profile has this name: choose another"
    ]


def test_a_register_longer_than_max_read_is_refused(tmp_path: Path) -> None:
    text = (
        SITE
        + """
[profiles.small]
max_read = 2
registers = [{ name = "energy", table = "input", address = 0, type = "float64" }]
"""
        + meter("s", profile="small")
    )

    assert problems(tmp_path, text) == [
        "profiles.small: max_read: register 'energy' (float64, 4 registers) is longer than max_read 2"
    ]


def test_a_custom_primary_must_be_a_cumulative_register(tmp_path: Path) -> None:
    text = (
        SITE
        + """
[profiles.flow]
primary = "flow"
registers = [
  { name = "flow", table = "input", address = 0, type = "float32", cumulative = false },
  { name = "volume", table = "input", address = 2, type = "float32" },
]
"""
        + meter("f", profile="flow")
    )

    assert problems(tmp_path, text) == [
        "profiles.flow: primary: 'flow' is not cumulative (cumulative: volume)"
    ]


def test_every_problem_of_a_file_is_listed_at_once(tmp_path: Path) -> None:
    text = (
        'collector_id = "office 1"\nheartbeat_minutes = 0\n'
        + SITE.replace('collector_id = "office-1"', "")
        + MAIN.replace("unit_id = 1", "unit_id = 300")
        + meter("main", profile="sdm999")
    )

    assert problems(tmp_path, text) == [
        "collector_id: 'office 1' must be 1 to 64 of A-Z a-z 0-9 . _ -",
        "heartbeat_minutes: 0 is outside 1..60",
        "meters[0] 'main': unit_id: 300 is outside 0..247",
        "meters[1] 'main': id: 'main' is also the id of meters[0] 'main'",
        f"meters[1] 'main': profile: unknown profile 'sdm999' (shipped: {SHIPPED_NAMES})",
    ]


def test_a_file_without_meters_or_api_is_refused(tmp_path: Path) -> None:
    assert problems(
        tmp_path, 'collector_id = "office-1"\n[transports.gateway]\nkind = "tcp"\nhost = "h"\n'
    ) == [
        "api: missing",
        "meters: missing",
    ]


def test_a_misspelt_table_is_named_once_not_also_as_a_type_mismatch(tmp_path: Path) -> None:
    text = (
        SITE
        + """
[profiles.machine]
registers = [
  { name = "running", table = "coils", address = 0, type = "bool", cumulative = false },
  { name = "hours", table = "holding", address = 0, type = "unit32" },
]
"""
        + meter("m", profile="machine")
    )

    assert problems(tmp_path, text) == [
        "profiles.machine: registers[0] 'running': table: unknown table 'coils' "
        "(coil, discrete, holding, input)",
        "profiles.machine: registers[1] 'hours': type: unknown type 'unit32' "
        "(bool, int16, uint16, int32, uint32, int64, uint64, float32, float64)",
    ]


def test_a_meter_on_a_file_without_transports_is_told_to_add_one(tmp_path: Path) -> None:
    text = SITE.split("[transports.line1]")[0] + "[transports]\n" + MAIN

    assert problems(tmp_path, text) == [
        "meters[0] 'main': transport: unknown transport 'line1' "
        "(configured: none: add a [transports.NAME] table)"
    ]
