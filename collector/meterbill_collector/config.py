"""The collector's configuration: one TOML file, read once at start into these values.

``load_config`` refuses a bad file whole, naming the meter and the field (``meters[2] 'gas-1': profile:
unknown profile 'sdm999' (shipped: ...)``), so a collector never starts half configured."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meterbill_collector.config_fields import Fields, Problems, choices, describe
from meterbill_collector.planning import PlanError, plan_reads
from meterbill_collector.registers import (
    BIT_TABLES,
    DATA_TYPES,
    MAX_ADDRESS,
    ORDERS,
    TABLES,
    WORDS,
    DataType,
    Order,
    Profile,
    RegisterSpec,
    Table,
)

INTERVALS_MINUTES = (1, 5, 15, 30, 60)


class ConfigError(ValueError):
    """The config cannot run; the message names the file's section (the meter) and the field, one problem a
    line (``problems`` holds them one by one)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    url: str  # https://api.example.com (no trailing slash); http only to 127.0.0.1 / localhost
    key: str  # an ingest key, from ``key`` or the variable ``key_env`` names
    timeout_seconds: float = 30.0
    batch_size: int = 1000  # readings per POST /v1/readings (the API takes up to 4,000)


@dataclass(frozen=True, slots=True)
class TcpTransport:
    name: str
    host: str
    port: int = 502
    kind: Literal["tcp"] = "tcp"
    timeout_seconds: float = 2.0
    retries: int = 1
    pause_ms: int = 0  # between two requests on this connection


@dataclass(frozen=True, slots=True)
class RtuTransport:
    """An RS485 line: a serial device (``/dev/ttyUSB0``) or a pyserial URL (``socket://host:port``, an
    RTU-over-TCP gateway or the simulator)."""

    name: str
    device: str
    baudrate: int = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    kind: Literal["rtu"] = "rtu"
    timeout_seconds: float = 1.0
    retries: int = 1
    pause_ms: int = 50  # a serial line needs a gap between one answer and the next request


Transport = TcpTransport | RtuTransport


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """One device on a transport. ``send`` maps the profile's cumulative quantities to the platform's meter
    ids (one device can feed several platform meters: import and export, a PDU's outlets); without it, the
    profile's primary quantity is sent under ``id``."""

    id: str  # the device's name in this collector (logs, ``check``, ``status``)
    transport: str  # a key of CollectorConfig.transports
    unit_id: int  # 0..247 (0 only where the gateway wants it)
    profile: Profile
    interval_minutes: int  # one of INTERVALS_MINUTES
    multiplier: Decimal = Decimal(1)  # CT/VT ratio, litres per pulse: applied after the profile's scale
    send: dict[str, str] = field(default_factory=dict)  # quantity name -> platform meter id
    timeout_seconds: float | None = None  # overrides the transport's
    retries: int | None = None

    @property
    def sent(self) -> dict[str, str]:
        """Quantity -> platform meter id, with the default (the primary quantity under ``id``) filled in."""
        return dict(self.send) if self.send else {self.profile.primary: self.id}


@dataclass(frozen=True, slots=True)
class SpoolConfig:
    path: Path  # the SQLite file; relative to the config file's folder
    quota_bytes: int = 512 * 1024 * 1024  # past it, the oldest unsent reads are thinned to hourly


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    collector_id: str  # as the API's heartbeat route names it: POST /v1/collectors/{collector_id}/heartbeats
    site_id: str | None  # the platform's site it serves, sent in heartbeats
    timezone: ZoneInfo  # the site's clock: an hourly poll happens on the local hour (Lord Howe, India too)
    api: ApiConfig
    spool: SpoolConfig
    transports: dict[str, Transport]
    meters: tuple[MeterConfig, ...]
    heartbeat_minutes: int = 5
    source: Path | None = None  # the file it was read from


# --- reading the TOML file ----------------------------------------------------------------------------------

_COLLECTOR_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_MODBUS_MAX_READ = 125  # registers a read may ask for (function codes 3 and 4)
_TOP_KEYS = (
    "collector_id", "site_id", "timezone", "heartbeat_minutes", "api", "spool", "transports", "profiles",
    "meters",
)  # fmt: skip
_API_KEYS = ("url", "key", "key_env", "timeout_seconds", "batch_size")
_SPOOL_KEYS = ("path", "quota_mb")
_TCP_KEYS = ("kind", "host", "port", "timeout_seconds", "retries", "pause_ms")
_RTU_KEYS = (
    "kind", "device", "baudrate", "parity", "stopbits", "bytesize", "timeout_seconds", "retries", "pause_ms",
)  # fmt: skip
_PROFILE_KEYS = ("description", "primary", "max_read", "max_gap", "registers")
_REGISTER_KEYS = ("name", "table", "address", "type", "order", "scale", "unit", "cumulative")
_METER_KEYS = (
    "id", "transport", "unit_id", "profile", "profile_options", "interval_minutes", "multiplier", "send",
    "timeout_seconds", "retries",
)  # fmt: skip


def load_config(path: Path, environ: Mapping[str, str]) -> CollectorConfig:
    """The collector's config from the TOML file at ``path``; ``environ`` holds the variable ``api.key_env``
    names. Raises one ``ConfigError`` listing every problem of the file, one a line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the file: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    problems = Problems()
    config = _Loader(path, environ, problems).collector(data)
    if problems.lines:
        raise ConfigError("\n".join(problems.lines), problems.lines)
    return config


class _Loader:
    def __init__(self, path: Path, environ: Mapping[str, str], problems: Problems) -> None:
        self.path, self.environ, self.problems = path, environ, problems
        self.transport_names: set[str] = set()  # every [transports.X], usable or not
        self.profile_names: set[str] = set()  # every [profiles.X], usable or not

    def collector(self, data: Mapping[str, object]) -> CollectorConfig:
        top = Fields("", data, _TOP_KEYS, self.problems)
        collector_id = top.text("collector_id", required=True)
        if top.has("collector_id") and collector_id and not _COLLECTOR_ID.fullmatch(collector_id):
            top.problem("collector_id", f"{collector_id!r} must be 1 to 64 of A-Z a-z 0-9 . _ -")
        site_id = top.text("site_id", max_length=64) if top.has("site_id") else None
        zone = self.timezone(top)
        heartbeat = top.integer("heartbeat_minutes", 5, 1, 60)
        api = self.api(top.table("api", required=True))
        spool = self.spool(top.table("spool"))
        transports = self.transports(top.table("transports", required=True))
        profiles = self.profiles(top.table("profiles") or {})
        meters = self.meters(top.tables("meters", required=True, form="[[meters]]"), transports, profiles)
        return CollectorConfig(
            collector_id, site_id, zone, api, spool, transports, meters, heartbeat, source=self.path
        )

    def timezone(self, top: Fields) -> ZoneInfo:
        name = top.text("timezone", "UTC")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            top.problem("timezone", f"unknown time zone {name!r} (an IANA name: Europe/Berlin, UTC)")
            return ZoneInfo("UTC")

    def api(self, data: dict[str, object] | None) -> ApiConfig:
        fields = Fields("api", data or {}, _API_KEYS, self.problems)
        url = fields.text("url", required=data is not None, max_length=2048).rstrip("/")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                fields.problem("url", f"{url!r} is not an https:// URL")
            elif parts.query or parts.fragment:
                fields.problem("url", f"{url!r}: the API's base URL takes no query or fragment")
            elif parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
                fields.problem(
                    "url",
                    f"http:// is only for 127.0.0.1 or localhost (the key travels in it): use https://"
                    f"{parts.netloc}",
                )
        key = self.key(fields) if data is not None else ""
        timeout = fields.seconds("timeout_seconds", 30.0)
        batch_size = fields.integer("batch_size", 1000, 1, 4000)
        return ApiConfig(url, key, timeout, batch_size)

    def key(self, fields: Fields) -> str:
        if fields.has("key") and fields.has("key_env"):
            fields.problem("key", "set key or key_env, not both")
            return ""
        if fields.has("key"):
            return fields.text("key")
        if not fields.has("key_env"):
            fields.problem("key", "missing (set key or key_env)")
            return ""
        variable = fields.text("key_env")
        if not variable:
            return ""
        value = self.environ.get(variable)
        if value is None:
            fields.problem("key", f"missing (set key or key_env; the variable {variable} is not set)")
            return ""
        if not value.strip():
            fields.problem("key", f"missing (set key or key_env; the variable {variable} is empty)")
            return ""
        return value.strip()

    def spool(self, data: dict[str, object] | None) -> SpoolConfig:
        fields = Fields("spool", data or {}, _SPOOL_KEYS, self.problems)
        path = Path(fields.text("path", "spool.sqlite")).expanduser()
        quota_mb = fields.integer("quota_mb", 512, 1)
        return SpoolConfig(self.path.absolute().parent / path, quota_mb * 1024 * 1024)

    # --- transports ---

    def transports(self, data: dict[str, object] | None) -> dict[str, Transport]:
        transports: dict[str, Transport] = {}
        for name, value in (data or {}).items():
            self.transport_names.add(name)
            label = f"transports.{name}"
            if not isinstance(value, dict):
                self.problems.add(label, "", f"expected a table ([transports.{name}]), got {describe(value)}")
                continue
            kind = value.get("kind")
            if kind == "tcp":
                transport: Transport | None = self.tcp(name, Fields(label, value, _TCP_KEYS, self.problems))
            elif kind == "rtu":
                transport = self.rtu(name, Fields(label, value, _RTU_KEYS, self.problems))
            elif kind is None:
                self.problems.add(label, "kind", "missing (tcp or rtu)")
                transport = None
            else:
                self.problems.add(label, "kind", f"unknown transport {kind!r} (tcp or rtu)")
                transport = None
            if transport is not None:
                transports[name] = transport
        return transports

    def tcp(self, name: str, fields: Fields) -> TcpTransport:
        return TcpTransport(
            name,
            host=fields.text("host", required=True),
            port=fields.integer("port", 502, 1, 65535),
            timeout_seconds=fields.seconds("timeout_seconds", 2.0),
            retries=fields.integer("retries", 1, 0, 10),
            pause_ms=fields.integer("pause_ms", 0, 0, 10_000),
        )

    def rtu(self, name: str, fields: Fields) -> RtuTransport:
        return RtuTransport(
            name,
            device=fields.text("device", required=True),
            baudrate=fields.integer("baudrate", 9600, 300, 921_600),
            parity=fields.choice("parity", ("N", "E", "O"), "N", what="parity"),
            stopbits=fields.choice("stopbits", (1, 2), 1, what="stop bits"),
            bytesize=fields.choice("bytesize", (7, 8), 8, what="byte size"),
            timeout_seconds=fields.seconds("timeout_seconds", 1.0),
            retries=fields.integer("retries", 1, 0, 10),
            pause_ms=fields.integer("pause_ms", 50, 0, 10_000),
        )

    # --- custom profiles ---

    def profiles(self, data: dict[str, object]) -> dict[str, Profile]:
        from meterbill_collector.profiles import SHIPPED

        profiles: dict[str, Profile] = {}
        for name, value in data.items():
            self.profile_names.add(name)
            label = f"profiles.{name}"
            if name in SHIPPED:
                self.problems.add(label, "", "a shipped profile has this name: choose another")
                continue
            if not isinstance(value, dict):
                self.problems.add(label, "", f"expected a table ([profiles.{name}]), got {describe(value)}")
                continue
            profile = self.profile(name, Fields(label, value, _PROFILE_KEYS, self.problems))
            if profile is not None:
                profiles[name] = profile
        return profiles

    def profile(self, name: str, fields: Fields) -> Profile | None:
        before = len(self.problems.lines)
        description = fields.text("description")
        max_read = fields.integer("max_read", _MODBUS_MAX_READ, 1, _MODBUS_MAX_READ)
        max_gap = fields.integer("max_gap", 0, 0, _MODBUS_MAX_READ - 1)
        entries = fields.tables("registers", required=True, form="registers = [{ name = ..., ... }]") or []
        if fields.has("registers") and not entries and isinstance(fields.data["registers"], list):
            fields.problem("registers", "empty: a profile needs at least one register")
        specs: list[RegisterSpec] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            spec = self.register(fields.label, index, entry, seen)
            if spec is not None:
                specs.append(spec)
        cumulative = [spec.name for spec in specs if spec.cumulative]
        primary = fields.text("primary", cumulative[0] if cumulative else "")
        if fields.has("primary") and primary and specs and len(specs) == len(entries):
            if primary not in seen:
                fields.problem("primary", f"unknown quantity {primary!r} (registers: {choices(seen)})")
            elif primary not in cumulative:
                fields.problem(
                    "primary", f"{primary!r} is not cumulative (cumulative: {choices(cumulative)})"
                )
        elif not primary and specs and len(specs) == len(entries):
            fields.problem("primary", "missing: no register is cumulative, so there is nothing to send")
        if len(self.problems.lines) > before:
            return None
        profile = Profile(name, description, tuple(specs), primary, max_read, max_gap)
        try:
            plan_reads(profile)
        except PlanError as error:
            fields.problem("max_read", str(error))
            return None
        return profile

    def register(
        self, label: str, index: int, entry: dict[str, object], seen: dict[str, int]
    ) -> RegisterSpec | None:
        name_value = entry.get("name")
        where = f"{label}: registers[{index}]" + (f" {name_value!r}" if isinstance(name_value, str) else "")
        fields = Fields(where, entry, _REGISTER_KEYS, self.problems)
        before = len(self.problems.lines)
        name = fields.text("name", required=True, max_length=64)
        if name in seen:
            fields.problem("name", f"{name!r} is also registers[{seen[name]}]")
        elif name:
            seen[name] = index
        table: Table = fields.choice("table", TABLES, "holding", what="table", required=True)
        data_type: DataType = fields.choice("type", DATA_TYPES, "uint16", what="type", required=True)
        order: Order = fields.choice("order", ORDERS, "ABCD", what="order")
        address = fields.integer("address", 0, -(2**63), required=True)
        words = WORDS[data_type]
        if fields.has("address") and address < 0:
            fields.problem("address", f"{address} is negative (addresses run 0..{MAX_ADDRESS})")
        elif address + words - 1 > MAX_ADDRESS:
            fields.problem(
                "address",
                f"{address} + {words} registers of {data_type} ends at {address + words - 1}, "
                f"past {MAX_ADDRESS}",
            )
        if entry.get("table") in TABLES and entry.get("type") in DATA_TYPES:
            if table in BIT_TABLES and data_type != "bool":
                fields.problem("type", f"a {table} holds one bit: its type is bool, not {data_type}")
            elif data_type == "bool" and table not in BIT_TABLES:
                fields.problem("type", f"bool is read from a coil or discrete table, not from {table}")
        scale = fields.decimal("scale", Decimal(1))
        unit = fields.text("unit", max_length=32)
        cumulative = fields.boolean("cumulative", data_type != "bool")
        if data_type == "bool" and cumulative:
            fields.problem("cumulative", "a bool is a status, it cannot be cumulative")
        if len(self.problems.lines) > before:
            return None
        return RegisterSpec(name, table, address, data_type, order, scale, unit, cumulative)

    # --- meters ---

    def meters(
        self,
        entries: list[dict[str, object]] | None,
        transports: Mapping[str, Transport],
        profiles: Mapping[str, Profile],
    ) -> tuple[MeterConfig, ...]:
        if entries is not None and not entries:
            self.problems.add("meters", "", "none configured (add a [[meters]] table)")
        meters: list[MeterConfig] = []
        ids: dict[str, str] = {}  # meter id -> the label of the meter that has it
        platform_ids: dict[str, str] = {}  # platform meter id -> "meters[0] 'main' (import_kwh)"
        for index, entry in enumerate(entries or []):
            meter = self.meter(index, entry, transports, profiles, ids, platform_ids)
            if meter is not None:
                meters.append(meter)
        return tuple(meters)

    def meter(
        self,
        index: int,
        entry: dict[str, object],
        transports: Mapping[str, Transport],
        profiles: Mapping[str, Profile],
        ids: dict[str, str],
        platform_ids: dict[str, str],
    ) -> MeterConfig | None:
        id_value = entry.get("id")
        label = f"meters[{index}]" + (f" {id_value!r}" if isinstance(id_value, str) else "")
        fields = Fields(label, entry, _METER_KEYS, self.problems)
        before = len(self.problems.lines)
        meter_id = fields.text("id", required=True, max_length=64)
        if meter_id in ids:
            fields.problem("id", f"{meter_id!r} is also the id of {ids[meter_id]}")
        elif meter_id:
            ids[meter_id] = label
        transport = fields.text("transport", required=True)
        if transport and transport not in self.transport_names:
            configured = choices(sorted(self.transport_names)) or "none: add a [transports.NAME] table"
            fields.problem("transport", f"unknown transport {transport!r} (configured: {configured})")
        unit_id = fields.integer("unit_id", 1, 0, 247, required=True)
        interval = fields.integer("interval_minutes", 15, -(2**63), required=True)
        if (
            fields.has("interval_minutes")
            and interval not in INTERVALS_MINUTES
            and isinstance(entry["interval_minutes"], int)
        ):
            fields.problem("interval_minutes", f"{interval} is not one of {choices(INTERVALS_MINUTES)}")
        multiplier = fields.decimal("multiplier", Decimal(1))
        timeout = fields.seconds("timeout_seconds", 1.0) if fields.has("timeout_seconds") else None
        retries = fields.integer("retries", 1, 0, 10) if fields.has("retries") else None
        profile = self.meter_profile(fields, profiles)
        send = self.send(fields, profile)
        if len(self.problems.lines) > before or profile is None:
            return None
        meter = MeterConfig(
            meter_id, transport, unit_id, profile, interval, multiplier, send, timeout, retries
        )
        for quantity, platform_id in meter.sent.items():
            where = f"{label} ({quantity})"
            if platform_id in platform_ids:
                fields.problem(
                    "send" if send else "id",
                    f"platform meter {platform_id!r} is also sent by {platform_ids[platform_id]}",
                )
            else:
                platform_ids[platform_id] = where
        return meter

    def meter_profile(self, fields: Fields, profiles: Mapping[str, Profile]) -> Profile | None:
        from meterbill_collector.profiles import SHIPPED, SHIPPED_OPTIONS

        name = fields.text("profile", required=True)
        options = fields.table("profile_options") or {}
        if not name:
            return None
        if name in profiles or (name in self.profile_names and name not in SHIPPED):
            if options:
                fields.problem("profile_options", f"profile {name!r} takes no options")
            return profiles.get(name)
        if name not in SHIPPED:
            fields.problem(
                "profile",
                f"unknown profile {name!r} (shipped: {choices(SHIPPED)}"
                + (f"; in this file: {choices(sorted(self.profile_names))})" if self.profile_names else ")"),
            )
            return None
        takes = SHIPPED_OPTIONS.get(name, ())
        if options and not takes:
            fields.problem("profile_options", f"profile {name!r} takes no options")
            return None
        values: dict[str, int] = {}
        option_fields = Fields(f"{fields.label}: profile_options", options, takes, self.problems)
        before = len(self.problems.lines)
        for option in takes:
            if option_fields.has(option):
                values[option] = option_fields.integer(option, 0, 1, _option_limit(name, option))
        if len(self.problems.lines) > before:
            return None
        return SHIPPED[name](**values)

    def send(self, fields: Fields, profile: Profile | None) -> dict[str, str]:
        table = fields.table("send")
        if table is None:
            return {}
        if not table:
            fields.problem("send", "empty (leave it out to send the primary quantity under the meter's id)")
            return {}
        send: dict[str, str] = {}
        send_fields = Fields(f"{fields.label}: send", table, tuple(table), self.problems)
        cumulative = [spec.name for spec in profile.registers if spec.cumulative] if profile else []
        for quantity in table:
            platform_id = send_fields.text(quantity, max_length=64)
            if profile is None:
                continue
            if quantity not in {spec.name for spec in profile.registers}:
                send_fields.problem(
                    quantity, f"not a quantity of profile {profile.name} (cumulative: {choices(cumulative)})"
                )
            elif quantity not in cumulative:
                send_fields.problem(
                    quantity,
                    f"not cumulative: only register reads are sent (cumulative: {choices(cumulative)})",
                )
            elif platform_id:
                send[quantity] = platform_id
        return send


def _option_limit(profile: str, option: str) -> int:
    from meterbill_collector.profiles import PDU_MAX_OUTLETS

    return PDU_MAX_OUTLETS if (profile, option) == ("rack-pdu", "outlets") else 2**31
