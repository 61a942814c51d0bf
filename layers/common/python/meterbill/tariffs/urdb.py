"""OpenEI U.S. Utility Rate Database (URDB) rates as native tariffs.

Read URDB JSON with ``json.load(f, parse_float=Decimal)`` so that every price keeps the digits that were
written. Floats are accepted too. They are read through their shortest repr, which is the same text.

How a URDB rate is converted:

- A tier's price is ``rate + adj``. Tier ``max`` values are cumulative per month (kWh, or kW for demand) and
  become block sizes: ``max`` 650 then 1000 gives tiers of 650 and 350. The last tier has no ``max`` and is
  unbounded.
- Energy and demand weekday/weekend schedules (12 months x 24 hours, 0-based periods) become a TimeOfUse.
  Energy with one period, or with schedules that use one period everywhere, has no TimeOfUse.
- A TOU energy charge with tiers uses ``tier_scope="total_pro_rata"``: the tier limits apply to the month's
  total usage and each period takes its pro-rata share of every tier, which is SAM's reading.
- ``flatdemandstructure`` + ``flatdemandmonths`` become the flat (monthly peak) demand charge and
  ``demandratestructure`` + schedules become the TOU demand charge. Both are in kW over ``demandwindow``
  minutes (default 15).
- A ratchet comes from ``demandratchetpercentage`` (12 fractions, all equal: that percent of the highest
  demand in the previous 11 months). It can also come from ``lookbackpercent`` (a fraction) over
  ``lookbackrange`` months when every month counts (``lookbackmonths``). The ratchet applies to the flat
  demand charge.
- ``fixedchargefirstmeter`` in ``$/month`` or ``$/day`` becomes a fixed charge, and so does the old API's
  ``fixedmonthlycharge``. ``mincharge`` in ``$/month`` or ``$/day`` becomes a minimum charge, and so does the
  old ``minmonthlycharge``.
- ``label`` gives the id, ``utility`` + ``name`` give the name and ``startdate`` gives ``effective_from``.
  ``startdate`` is epoch seconds (read as a UTC date: URDB stores a U.S. utility's local midnight) or a
  ``YYYY-MM-DD hh:mm:ss`` string.
- Period names are derived from the schedules (months, weekdays/weekends, hours). When ``energyattrs`` or
  ``demandattrs`` label periods (``{"TOU-summer:Peak": "5"}``, 1-based), those labels name them. When the
  schedules split a U.S. rate's year into exactly two groups of months, they become the seasons "winter" and
  "summer" (the group with July).
- Export is never billed. ``sell`` prices and ``dgrules: "Net Metering"`` have no effect on a bill for
  consumption.

Anything that could change the price and that the engine cannot apply is refused with a UrdbError naming the
field, never dropped. This includes non-kWh energy tiers (``kWh daily``, ``kWh/kW``), a last tier with a
``max`` (usage above it has no price; SAM bills nothing for it), non-kW demand, coincident demand, other
``dgrules``, lookbacks and ratchets that a ratchet cannot express, annual minimums, ``$/year`` fixed charges,
reactive-power charges, fuel adjustments, charges for additional meters, attributes that are not period
labels, missing or inconsistent schedules, and unknown fields. Descriptive fields (``uri``, ``description``,
``sector``, ``peakkwcapacitymin``, ...) are listed in ``METADATA_FIELDS`` and ignored.

Some of these are separate extra charges that the engine cannot compute, for example PG&E's power-factor
adjustment in ``demandattrs``. A caller who has read the rate can leave such a charge out on purpose with
``from_urdb(rate, ignore={"demandattrs[0]"})``, naming the field exactly as the UrdbError named it (on the
command line ``meterbill rate --accept-urdb-field 'demandattrs[0]'``, in the API the query parameter
``accept_urdb_field``). The tariff records the fields left out in ``accepted_urdb_fields``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from meterbill.tariffs.model import (
    HOURS_PER_DAY,
    MONTHS,
    DemandCharge,
    EnergyCharge,
    FixedCharge,
    FlatDemandCharge,
    MinimumCharge,
    Period,
    Ratchet,
    Schedule,
    Season,
    Tariff,
    Tier,
    TimeOfUse,
    TouDemandCharge,
)

CURRENCY = "USD"
ENERGY_UNIT = "kWh"
DEMAND_UNIT = "kW"
DEFAULT_DEMAND_WINDOW_MINUTES = 15
DEMAND_WINDOWS = (5, 10, 15, 30, 60)
RATCHET_MONTHS = 11
MAX_LOOKBACK_MONTHS = 36
HUNDRED = Decimal(100)

# fmt: off
# Fields that describe a rate (who, where, applicability, provenance) and never change its price.
METADATA_FIELDS = frozenset({
    "label", "utility", "name", "uri", "approved", "is_default", "isdefault", "startdate", "enddate",
    "supersedes", "supercedes", "revisions", "latest_update", "eiaid", "country", "sector", "servicetype",
    "description", "source", "sourceparent", "basicinformationcomments", "energycomments",
    "demandcomments", "peakkwcapacitymin", "peakkwcapacitymax", "peakkwcapacityhistory",
    "peakkwhusagemin", "peakkwhusagemax", "peakkwhusagehistory", "voltageminimum", "voltagemaximum",
    "voltagecategory", "phasewiring", "demandunits",
})
# Fields that price something: each is converted, checked to charge nothing, or refused.
PRICE_FIELDS = frozenset({
    "energyratestructure", "energyweekdayschedule", "energyweekendschedule", "energyattrs",
    "fueladjustmentsmonthly", "demandratestructure", "demandweekdayschedule", "demandweekendschedule",
    "demandrateunit", "demandattrs", "flatdemandstructure", "flatdemandmonths", "flatdemandunit",
    "demandwindow", "demandratchetpercentage", "lookbackpercent", "lookbackrange", "lookbackmonths",
    "demandreactivepowercharge", "coincidentratestructure", "coincidentrateschedule",
    "coincidentschedule", "coincidentrateunit", "fixedchargefirstmeter", "fixedchargeunits",
    "fixedchargeeaaddl", "fixedmonthlycharge", "fixedattrs", "mincharge", "minchargeunits",
    "minmonthlycharge", "annualmincharge", "dgrules", "usenetmetering",
})
# fmt: on
# A mapping is a URDB rate when it has one of these (and a label, or a utility and a name).
_RATE_MARKERS = (
    "energyratestructure",
    "demandratestructure",
    "flatdemandstructure",
    "fixedchargefirstmeter",
    "fixedmonthlycharge",
)
_ENERGY_TIER_FIELDS = frozenset({"rate", "adj", "max", "unit", "sell"})
_DEMAND_TIER_FIELDS = frozenset({"rate", "adj", "max", "unit"})
_TARIFF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_DATE_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2})( \d{2}:\d{2}(:\d{2})?)?$")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_JANUARY, _JULY = 1, 7
_ENERGY_UNIT_REASONS = {
    "kwh daily": "tier limits per day of the bill period are not supported",
    "kwh/kw": "tier limits that grow with the peak demand (hours of use) are not supported",
    "kwh/kw daily": "tier limits that grow with the peak demand (hours of use) are not supported",
}
_DEMAND_UNIT_REASON = "only kW demand can be billed (it is measured from interval kWh)"


class UrdbError(ValueError):
    """A URDB rate that cannot be imported. ``field`` is the path in the rate object, e.g.
    ``energyratestructure[0][1].unit``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def is_urdb_rate(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is a URDB rate object, or an API answer ``{"items": [rate]}`` holding exactly one."""
    if not isinstance(obj, Mapping):
        return False
    items = obj.get("items")
    if isinstance(items, list):
        if len(items) != 1 or not isinstance(items[0], Mapping):
            return False
        obj = items[0]
    if not any(key in obj for key in _RATE_MARKERS):
        return False
    return _text(obj.get("label")) or (_text(obj.get("utility")) and _text(obj.get("name")))


def from_urdb(obj: Mapping[str, Any], *, ignore: Collection[str] = ()) -> Tariff:
    """The native tariff for a URDB rate object (or an API answer ``{"items": [rate]}`` holding one rate).

    ``ignore`` names extra charges to leave out on purpose, exactly as a UrdbError named them. Only separable
    extra charges can be named: attribute entries (``demandattrs[0]``), ``coincidentratestructure``,
    ``demandreactivepowercharge``, ``fueladjustmentsmonthly`` and ``fixedchargeeaaddl``.
    """
    return _Import(_unwrap(obj), frozenset(ignore)).tariff()


def _unwrap(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise UrdbError("rate", f"expected a URDB rate object, got {type(obj).__name__}")
    if "items" not in obj:
        return obj
    items = obj["items"]
    if not isinstance(items, list) or len(items) != 1:
        count = len(items) if isinstance(items, list) else "no list"
        raise UrdbError("items", f"an API answer must hold exactly one rate, got {count}")
    if not isinstance(items[0], Mapping):
        raise UrdbError("items[0]", f"expected a URDB rate object, got {type(items[0]).__name__}")
    if set(obj) != {"items"}:
        raise UrdbError(sorted(set(obj) - {"items"})[0], "unexpected beside 'items' in an API answer")
    return items[0]


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _number(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise UrdbError(field, f"expected a number, got {value!r}")
    try:
        if isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = Decimal(value.strip())
        else:
            number = Decimal(value)
    except ArithmeticError:
        raise UrdbError(field, f"expected a number, got {value!r}") from None
    if not number.is_finite():
        raise UrdbError(field, f"{value!r} is not a finite number")
    return number


def _whole(value: object, field: str) -> int:
    number = _number(value, field)
    if number != number.to_integral_value():
        raise UrdbError(field, f"expected a whole number, got {value!r}")
    return int(number)


def _percent(fraction: Decimal) -> Decimal:
    """0.8 -> 80, 0.625 -> 62.5."""
    percent = fraction * HUNDRED
    return percent.quantize(Decimal(1)) if percent == percent.to_integral_value() else percent.normalize()


def _twelve(value: object, field: str) -> list[object]:
    if not isinstance(value, list) or len(value) != MONTHS:
        raise UrdbError(field, "expected a list of 12 values, one per month")
    return value


def _month_ranges(months: Collection[int]) -> str:
    """1-based months as circular ranges: {10, 11, 12, 1, 2} -> "Oct-Feb"; all 12 -> "all year"."""
    if len(months) == MONTHS:
        return "all year"
    runs = []
    for first in sorted(months):
        if (first - 2) % MONTHS + 1 in months:
            continue
        last = first
        while last % MONTHS + 1 in months:
            last = last % MONTHS + 1
        runs.append(_MONTH_NAMES[first - 1] + ("" if last == first else f"-{_MONTH_NAMES[last - 1]}"))
    return ", ".join(runs)


def _hour_ranges(hours: Collection[int]) -> str:
    """Clock hours as circular ranges with exclusive ends: {21, 22, 23, 0, 1} -> "21:00-02:00"."""
    runs = []
    for first in sorted(hours):
        if (first - 1) % HOURS_PER_DAY in hours:
            continue
        end = first + 1
        while end % HOURS_PER_DAY in hours and end % HOURS_PER_DAY != first:
            end += 1
        runs.append(f"{first:02d}:00-{end % HOURS_PER_DAY:02d}:00")
    return ", ".join(runs)


class _Import:
    """One conversion: the rate object, the charges the caller chose to leave out, and the ones left out."""

    def __init__(self, rate: Mapping[str, Any], ignore: frozenset[str]) -> None:
        self.rate = rate
        self.ignore = ignore
        self.ignored: set[str] = set()
        self.seasons: list[Season] = []

    # --- the whole tariff ---------------------------------------------------------------------------------

    def tariff(self) -> Tariff:
        rate = self.rate
        for key in rate:
            if key not in METADATA_FIELDS and key not in PRICE_FIELDS:
                raise UrdbError(
                    str(key), "unknown URDB field: it might change the price, so it is not imported"
                )
        label = rate.get("label")
        if not isinstance(label, str) or not _TARIFF_ID.match(label):
            raise UrdbError(
                "label", f"expected the URDB label (a tariff id of letters and digits), got {label!r}"
            )
        self._refuse_unsupported()
        self.seasons = self._seasons()
        energy = self._energy()
        demand = self._demand()
        fixed = self._fixed()
        minimum = self._minimum()
        unused = self.ignore - self.ignored
        if unused:
            raise UrdbError(
                "ignore", f"{sorted(unused)[0]!r} is not a charge of this rate that can be ignored"
            )
        try:
            return Tariff(
                id=label,
                name=self._name(label),
                effective_from=self._start_date(),
                currency=CURRENCY,
                unit=ENERGY_UNIT,
                seasons=self.seasons,
                fixed=fixed,
                energy=energy,
                demand=demand,
                minimum=minimum,
                source=f"urdb:{label}",
                accepted_urdb_fields=sorted(self.ignored),
            )
        except ValidationError as err:  # a rule of the native model this import does not check itself
            first = err.errors()[0]
            raise UrdbError(".".join(str(part) for part in first["loc"]) or "rate", first["msg"]) from None

    def _name(self, label: str) -> str:
        utility, name = self.rate.get("utility"), self.rate.get("name")
        parts = [part.strip() for part in (utility, name) if isinstance(part, str) and part.strip()]
        return ": ".join(parts) if parts else f"URDB rate {label}"

    def _start_date(self) -> date | None:
        value = self.rate.get("startdate")
        if value is None:
            return None
        if isinstance(value, str) and not value.strip().isdigit():
            match = _DATE_TEXT.match(value.strip())
            if not match:
                raise UrdbError(
                    "startdate", f"expected epoch seconds or 'YYYY-MM-DD hh:mm:ss', got {value!r}"
                )
            try:
                return date.fromisoformat(match.group(1))
            except ValueError:
                raise UrdbError("startdate", f"{value!r} is not a calendar date") from None
        seconds = _whole(value, "startdate")
        try:
            return datetime.fromtimestamp(seconds, UTC).date()
        except (OverflowError, OSError, ValueError):
            raise UrdbError("startdate", f"{value!r} seconds is not a date") from None

    def _may_ignore(self, field: str) -> bool:
        """Whether the caller chose to leave out this separable extra charge."""
        if field in self.ignore:
            self.ignored.add(field)
            return True
        return False

    def _refuse_unsupported(self) -> None:
        rate = self.rate
        dgrules = rate.get("dgrules")
        if dgrules is not None and dgrules != "Net Metering":
            raise UrdbError(
                "dgrules", f"{dgrules!r}: only 'Net Metering' can be billed (export is not billed)"
            )
        if rate.get("usenetmetering") not in (None, True):
            raise UrdbError("usenetmetering", "only net metering can be billed (export is not billed)")
        for field, reason in (
            ("demandreactivepowercharge", "reactive power (kVAR) is not metered"),
            (
                "fueladjustmentsmonthly",
                "monthly fuel adjustments ($/kWh by month) are not supported",
            ),
            ("fixedchargeeaaddl", "a charge for each additional meter: a tariff here bills one meter"),
        ):
            if field in rate and self._charges(rate[field], field) and not self._may_ignore(field):
                raise UrdbError(field, reason)
        if "annualmincharge" in rate and self._charges(rate["annualmincharge"], "annualmincharge"):
            raise UrdbError(
                "annualmincharge", "an annual minimum needs a yearly true-up, which bills do not have"
            )
        if "coincidentratestructure" in rate:
            structure = rate["coincidentratestructure"]
            if self._structure_charges(structure, "coincidentratestructure") and not self._may_ignore(
                "coincidentratestructure"
            ):
                raise UrdbError("coincidentratestructure", "coincident-peak demand charges are not supported")
        self._attributes("fixedattrs", None)

    def _charges(self, value: object, field: str) -> bool:
        """Whether a number, or a list of numbers, is anything but zero."""
        values = value if isinstance(value, list) else [value]
        return any(
            _number(v, f"{field}[{i}]" if isinstance(value, list) else field) != 0
            for i, v in enumerate(values)
            if v is not None
        )

    def _structure_charges(self, structure: object, field: str) -> bool:
        if not isinstance(structure, list):
            raise UrdbError(field, "expected a list of periods, each a list of tiers")
        for p, tiers in enumerate(structure):
            for t, tier in enumerate(tiers if isinstance(tiers, list) else [tiers]):
                if not isinstance(tier, Mapping):
                    raise UrdbError(f"{field}[{p}][{t}]", "expected a tier object")
                if any(
                    _number(tier[k], f"{field}[{p}][{t}].{k}") != 0
                    for k in ("rate", "adj")
                    if tier.get(k) is not None
                ):
                    return True
        return False

    # --- structures, schedules, attributes ----------------------------------------------------------------

    def _structure(self, key: str, *, energy: bool) -> list[list[Tier]]:
        """A rate structure's periods of tiers: energy tiers in kWh (with harmless ``sell`` prices) or demand
        tiers in kW."""
        raw = self.rate[key]
        if not isinstance(raw, list) or not raw:
            raise UrdbError(key, "expected a non-empty list of periods, each a list of tiers")
        periods = []
        for p, tiers in enumerate(raw):
            if not isinstance(tiers, list) or not tiers:
                raise UrdbError(f"{key}[{p}]", "expected a non-empty list of tiers")
            periods.append(self._tiers(f"{key}[{p}]", tiers, energy=energy))
        return periods

    def _tiers(self, field: str, tiers: Sequence[object], *, energy: bool) -> list[Tier]:
        tier_fields = _ENERGY_TIER_FIELDS if energy else _DEMAND_TIER_FIELDS
        converted = []
        reached = Decimal(0)
        for t, tier in enumerate(tiers):
            where = f"{field}[{t}]"
            if not isinstance(tier, Mapping):
                raise UrdbError(where, "expected a tier object")
            unknown = sorted(set(tier) - tier_fields)
            if unknown:
                raise UrdbError(f"{where}.{unknown[0]}", "unknown tier field: it might change the price")
            self._check_tier_unit(where, tier.get("unit"), energy=energy)
            if tier.get("rate") is None:
                raise UrdbError(f"{where}.rate", "missing: every tier needs its price")
            price = _number(tier["rate"], f"{where}.rate")
            if tier.get("adj") is not None:
                price += _number(tier["adj"], f"{where}.adj")
            last = t == len(tiers) - 1
            if last:
                if tier.get("max") is not None:
                    raise UrdbError(
                        f"{where}.max", "the last tier must be unbounded: usage above it has no price"
                    )
                converted.append(Tier(size=None, rate=price))
                continue
            if tier.get("max") is None:
                raise UrdbError(f"{where}.max", "missing: only the last tier may be unbounded")
            top = _number(tier["max"], f"{where}.max")
            if top <= reached:
                raise UrdbError(f"{where}.max", f"{top} must be above the previous tier's max {reached}")
            converted.append(Tier(size=top - reached, rate=price))
            reached = top
        return converted

    @staticmethod
    def _check_tier_unit(where: str, unit: object, *, energy: bool) -> None:
        if unit is None:
            return
        expected = ENERGY_UNIT if energy else DEMAND_UNIT
        if not isinstance(unit, str) or unit.strip().lower() != expected.lower():
            reason = _ENERGY_UNIT_REASONS.get(str(unit).strip().lower()) if energy else _DEMAND_UNIT_REASON
            if reason is None:
                reason = f"only {expected} tiers can be billed"
            raise UrdbError(f"{where}.unit", f"{unit!r}: {reason}")

    def _demand_unit(self, key: str) -> None:
        unit = self.rate.get(key)
        if unit is not None and (not isinstance(unit, str) or unit.strip().lower() != DEMAND_UNIT.lower()):
            raise UrdbError(key, f"{unit!r}: {_DEMAND_UNIT_REASON}")

    def _schedule(self, key: str, structure_key: str, periods: int) -> Schedule:
        if key not in self.rate:
            raise UrdbError(key, f"missing: {structure_key} needs a weekday and a weekend schedule")
        raw = self.rate[key]
        if not isinstance(raw, list) or len(raw) != MONTHS:
            raise UrdbError(key, "expected 12 rows (months) of 24 periods (hours)")
        schedule = []
        for m, row in enumerate(raw):
            if not isinstance(row, list) or len(row) != HOURS_PER_DAY:
                raise UrdbError(f"{key}[{m}]", "expected 24 periods, one per hour")
            schedule.append(
                [self._period_index(f"{key}[{m}][{h}]", p, structure_key, periods) for h, p in enumerate(row)]
            )
        return schedule

    @staticmethod
    def _period_index(field: str, value: object, structure_key: str, periods: int) -> int:
        index = _whole(value, field)
        if not 0 <= index < periods:
            raise UrdbError(field, f"period {index} is not in {structure_key} (it has {periods} periods)")
        return index

    def _attributes(self, key: str, periods: int | None) -> dict[int, list[str]]:
        """Period labels (0-based) from an attribute list; any other entry may be a charge and is refused."""
        raw = self.rate.get(key)
        if raw is None:
            return {}
        if not isinstance(raw, list):
            raise UrdbError(key, "expected a list of {name: value} entries")
        labels: dict[int, list[str]] = {}
        for i, entry in enumerate(raw):
            field = f"{key}[{i}]"
            if not isinstance(entry, Mapping):
                raise UrdbError(field, "expected a {name: value} entry")
            for name, value in entry.items():
                period = self._label_period(name, value, periods)
                if period is not None:
                    labels.setdefault(period, []).append(str(name).strip())
                elif not self._may_ignore(field):
                    raise UrdbError(
                        field,
                        f"{str(name).strip()!r} = {value!r} may be a charge or a condition that cannot "
                        "be applied (only period labels are imported); if it does not apply, leave it out "
                        f"knowingly with --accept-urdb-field {field!r} (API: accept_urdb_field={field})",
                    )
        return labels

    @staticmethod
    def _label_period(name: object, value: object, periods: int | None) -> int | None:
        """The 0-based period an attribute labels: a whole number 1..periods, without money in its name."""
        if periods is None or not isinstance(name, str) or "$" in name:
            return None
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, bool) or not isinstance(text, int | str) or not str(text).isdigit():
            return None
        number = int(text)
        return number - 1 if 1 <= number <= periods else None

    # --- names and seasons --------------------------------------------------------------------------------

    def _seasons(self) -> list[Season]:
        """Winter and summer when the schedules split the months into two groups, one holding July and the
        other January (northern hemisphere: only for U.S. rates)."""
        if self.rate.get("country", "USA") != "USA":
            return []
        parts: list[list[Any]] = [
            self.rate[key]
            for key in (
                "energyweekdayschedule",
                "energyweekendschedule",
                "demandweekdayschedule",
                "demandweekendschedule",
            )
            if isinstance(self.rate.get(key), list) and len(self.rate[key]) == MONTHS
        ]
        flat_months = self.rate.get("flatdemandmonths")
        if isinstance(flat_months, list) and len(flat_months) == MONTHS:
            parts.append(flat_months)
        groups: dict[str, list[int]] = {}
        for m in range(MONTHS):
            groups.setdefault(repr([part[m] for part in parts]), []).append(m + 1)
        if len(groups) != 2:
            return []
        first, second = groups.values()
        winter, summer = (first, second) if _JANUARY in first else (second, first)
        if _JULY not in summer:
            return []
        return [Season(name="winter", months=winter), Season(name="summer", months=summer)]

    def _when(self, months: Collection[int]) -> str:
        for season in self.seasons:
            if set(season.months) == set(months):
                return season.name
        return _month_ranges(months)

    def _period_name(
        self, p: int, weekday: Schedule, weekend: Schedule, labels: Mapping[int, list[str]]
    ) -> str:
        """Where period ``p`` applies, in one phrase: ``period 2: winter, weekdays 14:00-18:00``."""
        if p in labels:
            return f"{' / '.join(labels[p])} (period {p})"
        on_weekdays = [row for row in weekday if p in row]
        on_weekends = [row for row in weekend if p in row]
        months = {m + 1 for m in range(MONTHS) if p in weekday[m] or p in weekend[m]}
        if not months:
            return f"period {p}: not scheduled"
        days = "weekdays" if not on_weekends else "weekends" if not on_weekdays else ""
        hours = ""
        hour_sets = {frozenset(h for h, q in enumerate(row) if q == p) for row in on_weekdays + on_weekends}
        if len(hour_sets) == 1 and len(next(iter(hour_sets))) < HOURS_PER_DAY:
            hours = _hour_ranges(next(iter(hour_sets)))
        when = " ".join(part for part in (days, hours) if part)
        return f"period {p}: {self._when(months)}" + (f", {when}" if when else "")

    # --- charges ------------------------------------------------------------------------------------------

    def _energy(self) -> EnergyCharge | None:
        key = "energyratestructure"
        if key not in self.rate:
            for orphan in ("energyweekdayschedule", "energyweekendschedule"):
                if orphan in self.rate:
                    raise UrdbError(key, f"missing: {orphan} needs it")
            self._attributes("energyattrs", None)  # no periods to label: any entry may be a charge
            return None
        structure = self._structure(key, energy=True)
        weekday = self._schedule("energyweekdayschedule", key, len(structure))
        weekend = self._schedule("energyweekendschedule", key, len(structure))
        labels = self._attributes("energyattrs", len(structure))
        used = {p for schedule in (weekday, weekend) for row in schedule for p in row}
        if len(used) == 1:
            (only,) = used
            return EnergyCharge(periods=[Period(name="all hours", tiers=structure[only])])
        periods = [
            Period(name=self._period_name(p, weekday, weekend, labels), tiers=tiers)
            for p, tiers in enumerate(structure)
        ]
        tiered = any(len(tiers) > 1 for tiers in structure)
        return EnergyCharge(
            periods=periods,
            time_of_use=TimeOfUse(weekday_schedule=weekday, weekend_schedule=weekend),
            tier_scope="total_pro_rata" if tiered else "period",
        )

    def _demand(self) -> DemandCharge | None:
        time_of_use = self._tou_demand()
        flat = self._flat_demand()
        ratchet = self._ratchet()
        window = self._demand_window()
        if ratchet is not None:
            if flat is None:
                raise UrdbError(
                    self._ratchet_field(),
                    "a ratchet needs flatdemandstructure (it ratchets the flat demand charge)",
                )
            flat = flat.model_copy(update={"ratchet": ratchet})
        if flat is None and time_of_use is None:
            return None
        return DemandCharge(window_minutes=window, flat=flat, time_of_use=time_of_use)

    def _tou_demand(self) -> TouDemandCharge | None:
        key = "demandratestructure"
        if key not in self.rate:
            for orphan in ("demandweekdayschedule", "demandweekendschedule"):
                if orphan in self.rate:
                    raise UrdbError(key, f"missing: {orphan} needs it")
            self._attributes("demandattrs", None)  # no periods to label: any entry may be a charge
            return None
        self._demand_unit("demandrateunit")
        structure = self._structure(key, energy=False)
        weekday = self._schedule("demandweekdayschedule", key, len(structure))
        weekend = self._schedule("demandweekendschedule", key, len(structure))
        labels = self._attributes("demandattrs", len(structure))
        periods = [
            Period(name=self._period_name(p, weekday, weekend, labels), tiers=tiers)
            for p, tiers in enumerate(structure)
        ]
        return TouDemandCharge(
            periods=periods, time_of_use=TimeOfUse(weekday_schedule=weekday, weekend_schedule=weekend)
        )

    def _flat_demand(self) -> FlatDemandCharge | None:
        key = "flatdemandstructure"
        if key not in self.rate:
            if "flatdemandmonths" in self.rate:
                raise UrdbError(key, "missing: flatdemandmonths needs it")
            return None
        self._demand_unit("flatdemandunit")
        structure = self._structure(key, energy=False)
        if "flatdemandmonths" not in self.rate:
            raise UrdbError("flatdemandmonths", f"missing: {key} needs a period for each month")
        months = [
            self._period_index(f"flatdemandmonths[{m}]", p, key, len(structure))
            for m, p in enumerate(_twelve(self.rate["flatdemandmonths"], "flatdemandmonths"))
        ]
        periods = []
        for p, tiers in enumerate(structure):
            if p not in months:
                name = f"monthly peak, period {p}: not scheduled"
            else:
                when = self._when({m + 1 for m, q in enumerate(months) if q == p})
                name = "monthly peak" if when == "all year" else f"monthly peak, {when}"
            periods.append(Period(name=name, tiers=tiers))
        return FlatDemandCharge(periods=periods, months=months)

    def _demand_window(self) -> int:
        value = self.rate.get("demandwindow")
        if value is None:
            return DEFAULT_DEMAND_WINDOW_MINUTES
        minutes = _whole(value, "demandwindow")
        if minutes not in DEMAND_WINDOWS:
            raise UrdbError(
                "demandwindow", f"{minutes} minutes; supported: {', '.join(map(str, DEMAND_WINDOWS))}"
            )
        return minutes

    def _ratchet_field(self) -> str:
        return "demandratchetpercentage" if self._monthly_ratchet() is not None else "lookbackpercent"

    def _monthly_ratchet(self) -> Decimal | None:
        """The one percent in ``demandratchetpercentage`` (fractions); None when it is absent or all zero."""
        raw = self.rate.get("demandratchetpercentage")
        if raw is None:
            return None
        fractions = [
            _number(v, f"demandratchetpercentage[{m}]")
            for m, v in enumerate(_twelve(raw, "demandratchetpercentage"))
        ]
        if all(f == 0 for f in fractions):
            return None
        if any(f != fractions[0] for f in fractions):
            raise UrdbError("demandratchetpercentage", "a ratchet that differs by month is not supported")
        if not 0 < fractions[0] <= 1:
            raise UrdbError("demandratchetpercentage[0]", f"{fractions[0]} must be a fraction (0.8 is 80 %)")
        return _percent(fractions[0])

    def _ratchet(self) -> Ratchet | None:
        monthly = self._monthly_ratchet()
        lookback = self._lookback()
        if monthly is not None and lookback is not None:
            raise UrdbError(
                "lookbackpercent", "the rate has demandratchetpercentage too; one ratchet is applied"
            )
        if monthly is not None:
            return Ratchet(percent=monthly, months=RATCHET_MONTHS)
        return lookback

    def _lookback(self) -> Ratchet | None:
        """``lookbackpercent`` of the highest demand in the previous ``lookbackrange`` months, when every
        month counts. Without a percent the other lookback fields change nothing."""
        raw = self.rate.get("lookbackpercent")
        fraction = Decimal(0) if raw is None else _number(raw, "lookbackpercent")
        if fraction == 0:
            return None
        if not 0 < fraction <= 1:
            raise UrdbError("lookbackpercent", f"{fraction} must be a fraction (0.8 is 80 %)")
        counted = self.rate.get("lookbackmonths")
        if counted is not None and not all(m is True for m in _twelve(counted, "lookbackmonths")):
            raise UrdbError("lookbackmonths", "a lookback over some months only is not supported")
        if self.rate.get("lookbackrange") is None:
            raise UrdbError(
                "lookbackrange", "missing: lookbackpercent needs the number of months to look back"
            )
        months = _whole(self.rate["lookbackrange"], "lookbackrange")
        if not 1 <= months <= MAX_LOOKBACK_MONTHS:
            raise UrdbError("lookbackrange", f"{months} months; supported: 1-{MAX_LOOKBACK_MONTHS}")
        return Ratchet(percent=_percent(fraction), months=months)

    def _fixed(self) -> list[FixedCharge]:
        rate = self.rate
        charges = []
        first_meter = rate.get("fixedchargefirstmeter")
        if first_meter is not None and _number(first_meter, "fixedchargefirstmeter") != 0:
            units = rate.get("fixedchargeunits")
            per = {"$/month": "month", "$/day": "day"}.get(units) if isinstance(units, str) else None
            if units is None:
                raise UrdbError("fixedchargeunits", "missing: fixedchargefirstmeter needs its unit")
            if per is None:
                raise UrdbError(
                    "fixedchargeunits", f"{units!r}: only $/month and $/day fixed charges are supported"
                )
            amount = _number(first_meter, "fixedchargefirstmeter")
            charges.append(FixedCharge(amount=amount, per="day" if per == "day" else "month"))
        old = rate.get("fixedmonthlycharge")
        if old is not None and _number(old, "fixedmonthlycharge") != 0:
            amount = _number(old, "fixedmonthlycharge")
            if charges and (charges[0].per, charges[0].amount) != ("month", amount):
                raise UrdbError(
                    "fixedmonthlycharge", "differs from fixedchargefirstmeter; which one applies?"
                )
            if not charges:
                charges.append(FixedCharge(amount=amount, per="month"))
        return charges

    def _minimum(self) -> MinimumCharge | None:
        rate = self.rate
        minimum = None
        value = rate.get("mincharge")
        if value is not None and _number(value, "mincharge") != 0:
            units = rate.get("minchargeunits")
            if units is None:
                raise UrdbError("minchargeunits", "missing: mincharge needs its unit")
            if units == "$/year":
                raise UrdbError(
                    "minchargeunits",
                    "'$/year': an annual minimum needs a yearly true-up, which bills do not have",
                )
            if units not in ("$/month", "$/day"):
                raise UrdbError("minchargeunits", f"{units!r}: only $/month and $/day minimums are supported")
            minimum = MinimumCharge(
                amount=_number(value, "mincharge"), per="day" if units == "$/day" else "month"
            )
        old = rate.get("minmonthlycharge")
        if old is not None and _number(old, "minmonthlycharge") != 0:
            amount = _number(old, "minmonthlycharge")
            if minimum is not None and (minimum.per, minimum.amount) != ("month", amount):
                raise UrdbError("minmonthlycharge", "differs from mincharge; which one applies?")
            minimum = MinimumCharge(amount=amount, per="month")
        return minimum
