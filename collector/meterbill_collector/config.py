"""The collector's configuration: one TOML file, read once at start into these values.

``load_config`` refuses a bad file whole, naming the meter and the field (``meters[2] 'gas-1': profile:
unknown profile 'sdm999' (shipped: ...)``), so a collector never starts half configured."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from meterbill_collector.registers import Profile

INTERVALS_MINUTES = (1, 5, 15, 30, 60)


class ConfigError(ValueError):
    """The config cannot run; the message names the file's section (the meter) and the field."""


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
    """One device on a transport. ``send`` maps the profile's cumulative quantities to the platform's meter ids
    (one device can feed several platform meters: import and export, a PDU's outlets); without it, the
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
