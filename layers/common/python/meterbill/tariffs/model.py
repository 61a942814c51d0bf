"""The native tariff document: every component a tariff can combine, as validated pydantic models.

Any numeric operand may be a decimal or a formula over the customer's attributes (see formulas.py); operands
are resolved to decimals per bill by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from meterbill.money import MINOR_UNITS
from meterbill.tariffs.formulas import MAX_FORMULA_LENGTH, Formula, FormulaError, parse_formula
from meterbill.units import METER_UNITS

Component = Literal[
    "fixed", "energy", "demand", "minimum", "package", "discount", "surcharge", "tax", "savings", "shared"
]
CHARGE_COMPONENTS: tuple[Component, ...] = ("fixed", "energy", "demand", "package", "shared")
HOURS_PER_DAY = 24
MONTHS = 12


# Every tariff number stays within these, so a stored tariff can always be rated: a number has no more digits
# than Decimal's default context computes exactly, and its product with a month's usage still rounds to money.
MAX_NUMBER = Decimal(10) ** 9
MAX_DIGITS = 28
MAX_PLACES = 40
MAX_VERSION = 999_999  # the catalog stores versions as 6 digits
TARIFF_UNITS = METER_UNITS
_UNIT_BY_KEY = {unit.lower(): unit for unit in TARIFF_UNITS}


@dataclass(frozen=True, slots=True)
class Bounds:
    """The values an operand may take, whether written as a number or produced by a formula."""

    low: Decimal = -MAX_NUMBER
    high: Decimal = MAX_NUMBER
    low_open: bool = False  # the lowest value itself is not allowed (a positive number, a share above 0)

    def reason(self, value: Decimal) -> str | None:
        """Why ``value`` is out of bounds, or None."""
        if value < self.low or value > self.high or (self.low_open and value == self.low):
            return f"must be {self}"
        return None

    def __str__(self) -> str:
        if self.low_open:
            return f"more than {self.low:,} and at most {self.high:,}"
        return f"from {self.low:,} to {self.high:,}"


ANY = Bounds()
NON_NEGATIVE = Bounds(low=Decimal(0))
POSITIVE = Bounds(low=Decimal(0), low_open=True)
PERCENT = Bounds(low=Decimal(0), high=Decimal(100))
SHARE_PERCENT = Bounds(low=Decimal(0), high=Decimal(100), low_open=True)


@dataclass(frozen=True)
class TariffFormula(Formula):
    """A formula operand with the bounds its value must keep, checked by the engine on every evaluation."""

    bounds: Bounds = ANY


def _to_operand(value: Any, bounds: Bounds) -> Decimal | Formula:
    if isinstance(value, bool):
        raise ValueError("expected a number or a formula, got a boolean")
    if isinstance(value, Formula):
        return TariffFormula(value.source, value.names, bounds)
    if isinstance(value, Decimal):
        operand = value
    elif isinstance(value, int):
        operand = Decimal(value)
    elif isinstance(value, float):
        # JSON numbers arrive as floats; their shortest repr is the text that was written.
        operand = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            operand = Decimal(value.strip())
        except ArithmeticError:
            try:
                formula = parse_formula(value)
            except FormulaError as err:
                raise ValueError(f"formula {value!r}: {err}") from None
            return TariffFormula(formula.source, formula.names, bounds)
    else:
        raise ValueError(f"expected a number or a formula, got {type(value).__name__}")
    return _checked_number(operand, bounds)


def _checked_number(number: Decimal, bounds: Bounds) -> Decimal:
    if not number.is_finite():
        raise ValueError(f"{number} is not a finite number")
    digits, exponent = len(number.as_tuple().digits), number.as_tuple().exponent
    assert isinstance(exponent, int)
    shown = str(number) if len(str(number)) <= MAX_PLACES else f"{number:.6g}"
    if reason := bounds.reason(number):
        raise ValueError(f"{shown} {reason}")
    if digits > MAX_DIGITS:
        raise ValueError(f"{shown} has {digits} significant digits, at most {MAX_DIGITS} are allowed")
    if -exponent > MAX_PLACES:
        raise ValueError(f"{shown} has {-exponent} decimal places, at most {MAX_PLACES} are allowed")
    return number


def _operand_to_json(value: Decimal | Formula) -> str:
    return value.source if isinstance(value, Formula) else str(value)


def _validator(bounds: Bounds) -> PlainValidator:
    return PlainValidator(lambda value: _to_operand(value, bounds))


def _schema(bounds: Bounds) -> WithJsonSchema:
    number: dict[str, Any] = {"type": "number", "maximum": int(bounds.high)}
    number["exclusiveMinimum" if bounds.low_open else "minimum"] = int(bounds.low)
    text = {
        "type": "string",
        "maxLength": MAX_FORMULA_LENGTH,
        "description": f"decimal or formula; its value {bounds}, "
        f"at most {MAX_DIGITS} significant digits and {MAX_PLACES} decimal places",
    }
    return WithJsonSchema({"anyOf": [number, text]})


_TO_JSON = PlainSerializer(_operand_to_json, return_type=str)
# A decimal within its bounds, or a formula whose value the engine holds to the same bounds.
Operand = Annotated[Decimal | Formula, _validator(ANY), _TO_JSON, _schema(ANY)]
NonNegativeOperand = Annotated[Decimal | Formula, _validator(NON_NEGATIVE), _TO_JSON, _schema(NON_NEGATIVE)]
PositiveOperand = Annotated[Decimal | Formula, _validator(POSITIVE), _TO_JSON, _schema(POSITIVE)]
PercentOperand = Annotated[Decimal | Formula, _validator(PERCENT), _TO_JSON, _schema(PERCENT)]
SharePercentOperand = Annotated[
    Decimal | Formula, _validator(SHARE_PERCENT), _TO_JSON, _schema(SHARE_PERCENT)
]
Schedule = list[list[int]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Model):
    """A block of usage: ``size`` units (None = unbounded, only for the last tier) at ``rate`` per unit."""

    size: NonNegativeOperand | None = None
    rate: Operand


class Period(_Model):
    """A TOU period (or the single period of a flat tariff) with its tiers."""

    name: str
    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _only_last_tier_unbounded(self) -> Period:
        for i, tier in enumerate(self.tiers[:-1]):
            if tier.size is None:
                raise ValueError(f"tiers[{i}].size: only the last tier may be unbounded")
        return self


def _check_schedule(name: str, schedule: Schedule | None, periods: int) -> None:
    if schedule is None:
        return
    if len(schedule) != MONTHS or any(len(row) != HOURS_PER_DAY for row in schedule):
        raise ValueError(f"{name}: must be 12 rows (months) of 24 periods (hours)")
    for m, row in enumerate(schedule):
        for h, p in enumerate(row):
            if not 0 <= p < periods:
                raise ValueError(f"{name}[{m}][{h}]: period {p} does not exist (there are {periods})")


class TimeOfUse(_Model):
    """Month x hour schedules of 0-based period indexes; public holidays use the weekend schedule."""

    weekday_schedule: Schedule
    weekend_schedule: Schedule

    @cached_property
    def months_by_period(self) -> dict[int, frozenset[int]]:
        """The calendar months (1-12) in which each period occurs."""
        months: dict[int, set[int]] = {}
        for schedule in (self.weekday_schedule, self.weekend_schedule):
            for m, row in enumerate(schedule):
                for p in row:
                    months.setdefault(p, set()).add(m + 1)
        return {p: frozenset(ms) for p, ms in months.items()}


class EnergyCharge(_Model):
    """Energy (or volume, or time) per unit: flat is one period with one tier, a ladder one with tiers."""

    periods: list[Period] = Field(min_length=1)
    time_of_use: TimeOfUse | None = None
    tier_mode: Literal["graduated", "volume"] = "graduated"
    # "period": each TOU period climbs its own tiers. "total_pro_rata": tier limits apply to the bill's total
    # usage and each period takes its pro-rata share of every tier (NREL SAM's reading of URDB tariffs).
    tier_scope: Literal["period", "total_pro_rata"] = "period"
    # Tier sizes are per month: a partial bill period shrinks them by its share of the month's days.
    prorate_tiers: bool = True

    @model_validator(mode="after")
    def _schedules_fit(self) -> EnergyCharge:
        if self.time_of_use is None:
            if len(self.periods) != 1:
                raise ValueError("periods: more than one period needs a time_of_use schedule")
        else:
            _check_schedule(
                "time_of_use.weekday_schedule", self.time_of_use.weekday_schedule, len(self.periods)
            )
            _check_schedule(
                "time_of_use.weekend_schedule", self.time_of_use.weekend_schedule, len(self.periods)
            )
        return self


class Ratchet(_Model):
    """Billing demand is at least ``percent`` % of the highest demand of the previous ``months`` months."""

    percent: SharePercentOperand
    months: int = Field(default=11, ge=1, le=36)


class FlatDemandCharge(_Model):
    """The bill period's peak demand; ``months`` picks the period (season) for each calendar month."""

    periods: list[Period] = Field(min_length=1)
    months: list[int] = Field(default_factory=lambda: [0] * MONTHS)
    ratchet: Ratchet | None = None

    @model_validator(mode="after")
    def _months_fit(self) -> FlatDemandCharge:
        if len(self.months) != MONTHS:
            raise ValueError("months: must list a period for each of the 12 months")
        for m, p in enumerate(self.months):
            if not 0 <= p < len(self.periods):
                raise ValueError(f"months[{m}]: period {p} does not exist (there are {len(self.periods)})")
        return self


class TouDemandCharge(_Model):
    """Each TOU period's own peak demand in the bill period, at that period's rate."""

    periods: list[Period] = Field(min_length=1)
    time_of_use: TimeOfUse

    @model_validator(mode="after")
    def _schedules_fit(self) -> TouDemandCharge:
        _check_schedule("time_of_use.weekday_schedule", self.time_of_use.weekday_schedule, len(self.periods))
        _check_schedule("time_of_use.weekend_schedule", self.time_of_use.weekend_schedule, len(self.periods))
        return self


class DemandCharge(_Model):
    """Demand: the highest average power over ``window_minutes`` from interval energy, per month."""

    window_minutes: Literal[5, 10, 15, 30, 60] = 15
    flat: FlatDemandCharge | None = None
    time_of_use: TouDemandCharge | None = None

    @model_validator(mode="after")
    def _something_to_charge(self) -> DemandCharge:
        if self.flat is None and self.time_of_use is None:
            raise ValueError("demand: needs a flat or a time_of_use part")
        return self


class FixedCharge(_Model):
    description: str = "Fixed charge"
    amount: Operand
    per: Literal["month", "day"] = "month"


class UsagePackage(_Model):
    """Per session: ``fare`` covers the first ``threshold_seconds``; beyond it every started ``unit_seconds``
    costs ``unit_rate`` (XtremWeb-HEP's indivisible units)."""

    description: str = "Usage package"
    threshold_seconds: NonNegativeOperand
    fare: NonNegativeOperand
    unit_seconds: PositiveOperand
    unit_rate: NonNegativeOperand


class MinimumCharge(_Model):
    amount: NonNegativeOperand
    per: Literal["month", "day"] = "month"


class Adjustment(_Model):
    """A discount or a surcharge: a percent of chosen components' lines, or a fixed amount per bill."""

    kind: Literal["discount", "surcharge"]
    description: str
    percent: PercentOperand | None = None
    amount: NonNegativeOperand | None = None  # the kind gives the sign; a discount is capped at its base
    applies_to: list[Component] = Field(default_factory=lambda: [*CHARGE_COMPONENTS, "minimum"])

    @model_validator(mode="after")
    def _percent_or_amount(self) -> Adjustment:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("give either percent or amount")
        return self


class Tax(_Model):
    name: str
    percent: PercentOperand
    applies_to: list[Component] = Field(
        default_factory=lambda: [*CHARGE_COMPONENTS, "minimum", "discount", "surcharge"]
    )

    @model_validator(mode="after")
    def _not_on_taxes(self) -> Tax:
        if "tax" in self.applies_to:
            raise ValueError("applies_to: a tax is not levied on taxes")
        return self


class OffTimeSavings(_Model):
    """Alpiron: savings = off-time hours x power rating W x price per kWh / 1000.

    Off-time is the bill period's hours minus the on-time (sessions, or an hour-counting series). As a credit
    the line lowers the bill; otherwise it is a memo shown beside the bill.
    """

    description: str = "Off-time savings"
    power_rating_w: NonNegativeOperand
    price_per_kwh: NonNegativeOperand
    credit: bool = False


class SharedRate(_Model):
    """The price per unit of usage allocated from a common meter."""

    rate: Operand
    description: str = "Shared usage"


class Season(_Model):
    name: str
    months: list[int] = Field(min_length=1)


class Tariff(_Model):
    """A tariff version; the same id with a later ``effective_from`` supersedes it from that date."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    name: str
    version: int = Field(default=1, ge=1, le=MAX_VERSION)
    effective_from: date | None = None
    effective_to: date | None = None
    currency: str = "EUR"
    unit: str = "kWh"
    seasons: list[Season] = Field(default_factory=list)
    variables: dict[str, Operand] = Field(default_factory=dict)
    holidays_as_weekends: bool = True
    fixed: list[FixedCharge] = Field(default_factory=list)
    energy: EnergyCharge | None = None
    demand: DemandCharge | None = None
    packages: list[UsagePackage] = Field(default_factory=list)
    shared: SharedRate | None = None
    minimum: MinimumCharge | None = None
    savings: OffTimeSavings | None = None
    adjustments: list[Adjustment] = Field(default_factory=list)
    taxes: list[Tax] = Field(default_factory=list)
    source: str | None = None
    # URDB fields (as the import named them) that the importer was told to leave out knowingly.
    accepted_urdb_fields: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=100
    )

    @field_validator("unit", mode="before")
    @classmethod
    def _a_meter_data_unit(cls, value: object) -> object:
        """The unit as meterbill spells it (``KWH`` -> ``kWh``); what meter data cannot be in is refused."""
        if not isinstance(value, str):
            return value
        unit = _UNIT_BY_KEY.get(value.strip().lower())
        if unit is None:
            raise ValueError(f"unknown unit {value[:50]!r}; a tariff prices one of {', '.join(TARIFF_UNITS)}")
        return unit

    @model_validator(mode="after")
    def _consistent(self) -> Tariff:
        if self.currency not in MINOR_UNITS:
            raise ValueError(f"currency: unknown currency {self.currency!r}")
        if self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            raise ValueError("effective_to: must be after effective_from")
        seen: dict[int, str] = {}
        for season in self.seasons:
            for month in season.months:
                if not 1 <= month <= MONTHS:
                    raise ValueError(f"seasons: month {month} of {season.name!r} is not 1-12")
                if month in seen:
                    raise ValueError(f"seasons: month {month} is in both {seen[month]!r} and {season.name!r}")
                seen[month] = season.name
        for name in self.variables:
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"variables: {name!r} is not a valid variable name")
        return self

    @cached_property
    def _season_by_month(self) -> dict[int, str]:
        return {month: season.name for season in self.seasons for month in season.months}

    def season_of(self, month: int) -> str | None:
        return self._season_by_month.get(month)

    def season_of_period(self, time_of_use: TimeOfUse, period: int) -> str | None:
        """The one season a TOU period belongs to, if every month it occurs in lies in that season."""
        seasons = {self.season_of(m) for m in time_of_use.months_by_period.get(period, ())}
        return seasons.pop() if len(seasons) == 1 else None
