"""An account's alert rules: every detector's thresholds and the lifecycle's timings, with site and meter
overrides.

The rules are kept as one JSON document (``PUT /v1/alert-rules``); ``AlertRules.from_document`` checks it
whole and names the field of the first problem (``sites.s-1.energy_evasion.min_percent: must be ...``),
so a bad document changes nothing. Absent sections and fields take the detectors' defaults.

Resolution: a meter's rules are the account's, overridden field by field by its site's section, then by the
meter's own (``for_meter``); a site's rules (evasion and phase sums judge a site's meters together) are the
account's overridden by the site's (``for_site``). Bill shock has no default threshold: a customer is judged
only when the document names a threshold for it (``bill_shock.customers``). The lifecycle's timings are per
account only.

Document shape (every section and field optional; numbers as JSON numbers or strings, Decimals exact)::

    {"communication": {"missed_intervals": 3, "heartbeat_allowance_minutes": 15},
     "registers": {"rollover_margin": "0.1", "reset_share": "0.01"},
     "energy_evasion": {"window_hours": 24, "min_percent": "5", "min_absolute": "10", "loss_percent": "0",
                        "severity": "warning"},
     "phase_sum": {"tolerance_percent": "2", "severity": "warning"},
     "abnormal_usage": {"factor": "3", "weeks": 4, "min_weeks": 3, "min_excess": "0", "severity": "warning"},
     "flat_line": {"hours": 6, "severity": "warning"},
     "estimated_data": {"max_percent": "10", "lead_time_hours": 72, "severity": "warning"},
     "bill_shock": {"min_elapsed_hours": 72, "severity": "warning",
                    "customers": {"c-1": {"threshold": "500.00", "currency": "EUR"}}},
     "lifecycle": {"for_minutes": {"communication": 15}, "repeat_interval_minutes": 240,
                   "group_wait_seconds": 30},
     "sites": {"site-1": {"energy_evasion": {"min_percent": "8"}}},
     "meters": {"m-1": {"abnormal_usage": {"factor": "4"}}}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from meterbill.alerts.communication import CommunicationRules
from meterbill.alerts.energy import EvasionRule, PhaseSumRule
from meterbill.alerts.lifecycle import LifecycleRules
from meterbill.alerts.model import ALERT_KINDS, SEVERITIES
from meterbill.alerts.registers import RegisterRules
from meterbill.alerts.usage import AbnormalUsageRule, BillShockRule, EstimatedDataRule, FlatLineRule
from meterbill.errors import InvalidInputError

MAX_OVERRIDES: Final = 10_000  # sites plus meters named in one document (it is one DynamoDB item)


def _integer(low: int, high: int) -> Callable[[str, Any], int]:
    def parse(path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InvalidInputError(path, "must be a whole number")
        try:
            number = int(value)
        except ValueError:
            raise InvalidInputError(path, "must be a whole number") from None
        if not low <= number <= high:
            raise InvalidInputError(path, f"must be between {low} and {high}")
        return number

    return parse


def _decimal(low: Decimal, high: Decimal) -> Callable[[str, Any], Decimal]:
    def parse(path: str, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidInputError(path, "must be a number")
        try:
            number = Decimal(str(value))  # str() of a float is its shortest exact text: 0.1 -> "0.1"
        except InvalidOperation:
            raise InvalidInputError(path, "must be a number") from None
        if not number.is_finite() or not low <= number <= high:
            raise InvalidInputError(path, f"must be between {low} and {high}")
        return number

    return parse


def _severity(path: str, value: Any) -> str:
    if value not in SEVERITIES:
        raise InvalidInputError(path, f"must be one of {', '.join(SEVERITIES)}")
    return str(value)


_PERCENT = _decimal(Decimal(0), Decimal(100))
_SCALARS: Final[dict[str, dict[str, Callable[[str, Any], Any]]]] = {
    "communication": {
        "missed_intervals": _integer(1, 10_000),
        "heartbeat_allowance_minutes": _integer(1, 7 * 24 * 60),
    },
    "registers": {
        "rollover_margin": _decimal(Decimal("0.000001"), Decimal("0.499999")),
        "reset_share": _decimal(Decimal(0), Decimal("0.999999")),
    },
    "energy_evasion": {
        "window_hours": _integer(1, 31 * 24),
        "min_percent": _PERCENT,
        "min_absolute": _decimal(Decimal(0), Decimal("1e15")),
        "loss_percent": _decimal(Decimal(0), Decimal("99.99")),
        "severity": _severity,
    },
    "phase_sum": {"tolerance_percent": _PERCENT, "severity": _severity},
    "abnormal_usage": {
        "factor": _decimal(Decimal("0.01"), Decimal(1000)),
        "weeks": _integer(1, 52),
        "min_weeks": _integer(1, 52),
        "min_excess": _decimal(Decimal(0), Decimal("1e15")),
        "severity": _severity,
    },
    "flat_line": {"hours": _integer(1, 31 * 24), "severity": _severity},
    "estimated_data": {
        "max_percent": _decimal(Decimal(0), Decimal("99.99")),
        "lead_time_hours": _integer(1, 31 * 24),
        "severity": _severity,
    },
}
OVERRIDABLE: Final = tuple(_SCALARS)  # the sections a site or a meter may override
_BILL_SHOCK: Final[dict[str, Callable[[str, Any], Any]]] = {
    "min_elapsed_hours": _integer(1, 31 * 24),
    "severity": _severity,
}
_LIFECYCLE: Final[dict[str, Callable[[str, Any], Any]]] = {
    "repeat_interval_minutes": _integer(1, 7 * 24 * 60),
    "group_wait_seconds": _integer(0, 3600),
}
_MINUTES_FOR = _integer(0, 7 * 24 * 60)
_THRESHOLD = _decimal(Decimal(0), Decimal("1e15"))


def _object(path: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(path, "must be an object")
    return value


def _fields(path: str, value: Any, parsers: Mapping[str, Callable[[str, Any], Any]]) -> dict[str, Any]:
    section = _object(path, value)
    parsed: dict[str, Any] = {}
    for name, raw in section.items():
        parser = parsers.get(name)
        if parser is None:
            raise InvalidInputError(f"{path}.{name}", f"unknown field; known: {', '.join(parsers)}")
        parsed[name] = parser(f"{path}.{name}", raw)
    return parsed


def _sections(path: str, value: Any, allowed: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The detector sections of the top level, a site or a meter."""
    document = _object(path, value) if path else value
    parsed = {}
    for name in allowed:
        if name in document:
            parsed[name] = _fields(f"{path}.{name}" if path else name, document[name], _SCALARS[name])
    return parsed


@dataclass(frozen=True, slots=True)
class MeterRules:
    """What the detectors judge one meter (or one site's meters) with."""

    communication: CommunicationRules
    registers: RegisterRules
    energy_evasion: EvasionRule
    phase_sum: PhaseSumRule
    abnormal_usage: AbnormalUsageRule
    flat_line: FlatLineRule
    estimated_data: EstimatedDataRule


def _build(path: str, sections: Mapping[str, Mapping[str, Any]]) -> MeterRules:
    """The detectors' rule objects from merged sections; a combination a detector refuses (``min_weeks`` above
    ``weeks``) names its section under ``path``."""

    def part(name: str) -> dict[str, Any]:
        return dict(sections.get(name, {}))

    def make(name: str, build: Callable[[dict[str, Any]], Any]) -> Any:
        try:
            return build(part(name))
        except ValueError as error:
            raise InvalidInputError(f"{path}.{name}" if path else name, str(error)) from None

    def hours(values: dict[str, Any], name: str, default: int) -> timedelta:
        return timedelta(hours=values.pop(name, default))

    return MeterRules(
        communication=make(
            "communication",
            lambda v: CommunicationRules(
                missed_intervals=v.get("missed_intervals", 3),
                heartbeat_allowance=timedelta(minutes=v.get("heartbeat_allowance_minutes", 15)),
            ),
        ),
        registers=make("registers", lambda v: RegisterRules(**v)),
        energy_evasion=make("energy_evasion", lambda v: EvasionRule(hours(v, "window_hours", 24), **v)),
        phase_sum=make("phase_sum", lambda v: PhaseSumRule(**v)),
        abnormal_usage=make("abnormal_usage", lambda v: AbnormalUsageRule(**v)),
        flat_line=make("flat_line", lambda v: FlatLineRule(**v)),
        estimated_data=make(
            "estimated_data", lambda v: EstimatedDataRule(lead_time=hours(v, "lead_time_hours", 72), **v)
        ),
    )


def _merged(*layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for name, section in layer.items():
            merged.setdefault(name, {}).update(section)
    return merged


@dataclass(frozen=True, slots=True)
class AlertRules:
    """One account's rules, parsed from its document (``from_document``); ``document`` is what is stored."""

    account: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sites: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    meters: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    bill_shock: Mapping[str, BillShockRule] = field(default_factory=dict)  # customer id -> its rule
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)
    document: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: Any) -> AlertRules:
        """Checks the whole document; ``InvalidInputError`` names the first bad field (dotted path)."""
        root = _object("rules", document)
        known = {*OVERRIDABLE, "bill_shock", "lifecycle", "sites", "meters"}
        for name in root:
            if name not in known:
                raise InvalidInputError(name, f"unknown section; known: {', '.join(sorted(known))}")
        account = _sections("", root, OVERRIDABLE)
        _build("", account)
        scoped: dict[str, dict[str, dict[str, dict[str, Any]]]] = {"sites": {}, "meters": {}}
        for scope in ("sites", "meters"):
            for item_id, overrides in _object(scope, root.get(scope, {})).items():
                path = f"{scope}.{item_id}"
                for name in _object(path, overrides):
                    if name not in OVERRIDABLE:
                        raise InvalidInputError(
                            f"{path}.{name}",
                            f"cannot be set per {scope[:-1]}; known: {', '.join(OVERRIDABLE)}",
                        )
                scoped[scope][item_id] = _sections(path, overrides, OVERRIDABLE)
                _build(path, _merged(account, scoped[scope][item_id]))
        if len(scoped["sites"]) + len(scoped["meters"]) > MAX_OVERRIDES:
            raise InvalidInputError("sites", f"at most {MAX_OVERRIDES} sites and meters may be overridden")
        shock = dict(root.get("bill_shock", {}) if isinstance(root.get("bill_shock", {}), Mapping) else {})
        customers = _object("bill_shock.customers", shock.pop("customers", {}))
        common = _fields("bill_shock", shock, _BILL_SHOCK)
        bill_shock = {}
        for customer_id, value in customers.items():
            path = f"bill_shock.customers.{customer_id}"
            entry = _object(path, value)
            for name in entry:
                if name not in ("threshold", "currency"):
                    raise InvalidInputError(f"{path}.{name}", "unknown field; known: threshold, currency")
            if "threshold" not in entry or "currency" not in entry:
                raise InvalidInputError(path, "needs threshold and currency")
            try:
                bill_shock[customer_id] = BillShockRule(
                    threshold=_THRESHOLD(f"{path}.threshold", entry["threshold"]),
                    currency=str(entry["currency"]),
                    min_elapsed=timedelta(hours=common.get("min_elapsed_hours", 72)),
                    severity=common.get("severity", "warning"),
                )
            except ValueError as error:  # an unknown currency
                raise InvalidInputError(f"{path}.currency", str(error)) from None
        cycle = dict(_object("lifecycle", root.get("lifecycle", {})))
        for_minutes = _object("lifecycle.for_minutes", cycle.pop("for_minutes", {}))
        timings = _fields("lifecycle", cycle, _LIFECYCLE)
        for kind in for_minutes:
            if kind not in ALERT_KINDS:
                raise InvalidInputError(
                    f"lifecycle.for_minutes.{kind}", f"must be one of {', '.join(ALERT_KINDS)}"
                )
        defaults = LifecycleRules()
        lifecycle = LifecycleRules(
            for_by_kind={
                **defaults.for_by_kind,
                **{
                    kind: timedelta(minutes=_MINUTES_FOR(f"lifecycle.for_minutes.{kind}", minutes))  # type: ignore[misc]
                    for kind, minutes in for_minutes.items()
                },
            },
            repeat_interval=timedelta(minutes=timings.get("repeat_interval_minutes", 240)),
            group_wait=timedelta(seconds=timings.get("group_wait_seconds", 30)),
        )
        return cls(account, scoped["sites"], scoped["meters"], bill_shock, lifecycle, dict(root))

    def for_site(self, site_id: str) -> MeterRules:
        return _build(f"sites.{site_id}", _merged(self.account, self.sites.get(site_id, {})))

    def for_meter(self, meter_id: str, site_id: str | None) -> MeterRules:
        site = self.sites.get(site_id, {}) if site_id is not None else {}
        return _build(f"meters.{meter_id}", _merged(self.account, site, self.meters.get(meter_id, {})))
