"""The native tariff document: every component a tariff can combine, as validated pydantic models.

Any numeric operand may be a decimal or a formula over the customer's attributes (see formulas.py); operands
are resolved to decimals per bill by the engine.
"""

from __future__ import annotations

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
    model_validator,
)

from meterbill.money import MINOR_UNITS
from meterbill.tariffs.formulas import Formula, FormulaError, parse_formula

Component = Literal[
    "fixed", "energy", "demand", "minimum", "package", "discount", "surcharge", "tax", "savings", "shared"
]
CHARGE_COMPONENTS: tuple[Component, ...] = ("fixed", "energy", "demand", "package", "shared")
HOURS_PER_DAY = 24
MONTHS = 12


def _to_operand(value: Any) -> Decimal | Formula:
    if isinstance(value, bool):
        raise ValueError("expected a number or a formula, got a boolean")
    if isinstance(value, Decimal | Formula):
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
                return parse_formula(value)
            except FormulaError as err:
                raise ValueError(f"formula {value!r}: {err}") from None
    else:
        raise ValueError(f"expected a number or a formula, got {type(value).__name__}")
    if isinstance(operand, Decimal) and not operand.is_finite():
        raise ValueError(f"{operand} is not a finite number")
    return operand


def _operand_to_json(value: Decimal | Formula) -> str:
    return value.source if isinstance(value, Formula) else str(value)


Operand = Annotated[
    Decimal | Formula,
    PlainValidator(_to_operand),
    PlainSerializer(_operand_to_json, return_type=str),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "description": "decimal or formula"}]}),
]
Schedule = list[list[int]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Model):
    """A block of usage: ``size`` units (None = unbounded, only for the last tier) at ``rate`` per unit."""

    size: Operand | None = None
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

    percent: Operand
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
    threshold_seconds: Operand
    fare: Operand
    unit_seconds: Operand
    unit_rate: Operand


class MinimumCharge(_Model):
    amount: Operand
    per: Literal["month", "day"] = "month"


class Adjustment(_Model):
    """A discount or a surcharge: a percent of chosen components' lines, or a fixed amount per bill."""

    kind: Literal["discount", "surcharge"]
    description: str
    percent: Operand | None = None
    amount: Operand | None = None
    applies_to: list[Component] = Field(default_factory=lambda: [*CHARGE_COMPONENTS, "minimum"])

    @model_validator(mode="after")
    def _percent_or_amount(self) -> Adjustment:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("give either percent or amount")
        return self


class Tax(_Model):
    name: str
    percent: Operand
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
    power_rating_w: Operand
    price_per_kwh: Operand
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
    version: int = Field(default=1, ge=1)
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
