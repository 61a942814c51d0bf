"""The API's leaf types: how one value of a body is read and written (exact decimals, strict dates and
date-times in the supported calendar, bounded texts, attributes, settings amounts), and the limits they show
in the OpenAPI document. The bodies themselves are in ``api.schemas``."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Final, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictStr,
    WithJsonSchema,
)

from meterbill.domain import (
    MAX_ATTRIBUTE_NAME_LENGTH,
    MAX_ATTRIBUTE_TEXT_LENGTH,
    MAX_ATTRIBUTES,
    MAX_LABEL_LENGTH,
    MAX_NUMBER_MAGNITUDE,
    MAX_SHARE_DECIMALS,
    AttributeKey,
    AttributeValue,
)
from meterbill.domain import Quantity as DomainQuantity
from meterbill.domain import Share as DomainShare
from meterbill.settings import ApiSettings
from meterbill.timeutil import CALENDAR_PATTERN, FIRST_DAY, LAST_DAY, outside_calendar

if TYPE_CHECKING:  # what the answers are made of: the services load with the routes that call them
    pass


Day = TypeVar("Day", date, datetime)
MAX_READINGS: Final[int] = ApiSettings.model_fields["max_readings_per_request"].default
DECIMAL_PATTERN: Final = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DECIMAL_TEXT = re.compile(DECIMAL_PATTERN)
_NON_FINITE_TEXT = re.compile(r"^[+-]?(nan|inf|infinity)$", re.IGNORECASE)
_DATE_TEXT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


# --- value types --------------------------------------------------------------------------------------------


def _iso_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return _in_calendar(value)
    if isinstance(value, str) and _DATE_TEXT.match(value):
        return _in_calendar(date.fromisoformat(value))  # a ValueError (day out of range) names the problem
    raise ValueError(f"{value!r} is not a date written YYYY-MM-DD")


def _in_calendar(moment: Day) -> Day:
    reason = outside_calendar(moment)
    if reason is not None:
        raise ValueError(reason)
    return moment


def _iso_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and "T" in value.upper():
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not an ISO 8601 date-time such as 2026-03-01T00:15:00+01:00")


def _moment(value: object) -> date | datetime:
    """A date (the site's local midnight) or an aware date-time. In a query string an unescaped ``+`` reads as
    a space; a space before the offset is taken for the ``+`` it was."""
    if isinstance(value, str) and _DATE_TEXT.match(value):
        return _iso_date(value)
    if isinstance(value, str) and re.fullmatch(r".+T.+ [0-9]{2}(:?[0-9]{2})?", value):
        value = value.replace(" ", "+")
    moment = _iso_datetime(value)
    if moment.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset; add one (e.g. +01:00 or Z), or give a date")
    return _in_calendar(moment)


def _reading_value(value: object) -> Decimal:
    """A JSON number (parsed as Decimal) or a decimal string, exactly; NaN and infinities pass as such, for
    the ingest service to reject with its own reason."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str) and (
        _DECIMAL_TEXT.match(value.strip()) or _NON_FINITE_TEXT.match(value.strip())
    ):
        return Decimal(value.strip())
    raise ValueError(f"{value!r} is not a number")


def _whole_number(value: object) -> object:
    """Only a JSON integer: not ``true``, not ``15.0``, not ``"15"`` (lax pydantic takes all three for 15)."""
    if type(value) is not int:
        shown = str(value) if isinstance(value, Decimal) else json.dumps(value, default=str)
        raise ValueError(f"{shown} is not an integer")
    return value


def _json_object(value: object) -> object:
    """Only a JSON object (powertools validates with from_attributes, so a model whose fields all have
    defaults would take any Python object, such as the Decimal a JSON number becomes, for an empty one)."""
    if not isinstance(value, dict | BaseModel):
        shown = str(value) if isinstance(value, Decimal) else json.dumps(value, default=str)[:40]
        raise ValueError(f"{shown} is not an object")
    return value


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


CALENDAR: Final = f"from {FIRST_DAY} to {LAST_DAY}"
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": f"{CALENDAR_PATTERN}$",
            "description": f"YYYY-MM-DD, {CALENDAR}",
        }
    ),
]
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]
Moment = Annotated[
    date | datetime,
    PlainValidator(_moment),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"{CALENDAR_PATTERN}(T.+)?$",
            "description": "a date (YYYY-MM-DD: local midnight at the meter's site) or a date-time with a "
            f"UTC offset (2026-03-01T00:00:00+01:00); its date {CALENDAR}",
            "examples": ["2026-03-01", "2026-03-01T00:00:00+01:00"],
        }
    ),
]
ReadingValue = Annotated[
    Decimal,
    PlainValidator(_reading_value),
    WithJsonSchema(
        {"anyOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_PATTERN}], "examples": ["1.250"]}
    ),
]
DecimalText = Annotated[
    Decimal,
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["12.50"]}, mode="serialization"
    ),
]
ShortStr = Annotated[StrictStr, Field(max_length=MAX_LABEL_LENGTH)]
_NUMBER_TEXT: Final = {"type": "string", "pattern": DECIMAL_PATTERN, "maxLength": 40}
Quantity = Annotated[
    DomainQuantity,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": int(MAX_NUMBER_MAGNITUDE)},
                _NUMBER_TEXT,
            ],
            "description": f"more than 0, less than {MAX_NUMBER_MAGNITUDE:.0e}; at most 38 digits",
        }
    ),
]
Share = Annotated[
    DomainShare,
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 1}, _NUMBER_TEXT],
            "description": f"more than 0, at most 1, with at most {MAX_SHARE_DECIMALS} decimals",
        }
    ),
]
Attributes = Annotated[
    dict[AttributeKey, AttributeValue],
    Field(max_length=MAX_ATTRIBUTES),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_ATTRIBUTES,
            "propertyNames": {
                "pattern": f"^[A-Za-z][A-Za-z0-9_]{{0,{MAX_ATTRIBUTE_NAME_LENGTH - 1}}}$",
            },
            "additionalProperties": {
                "anyOf": [
                    {
                        "type": "number",
                        "exclusiveMinimum": -int(MAX_NUMBER_MAGNITUDE),
                        "exclusiveMaximum": int(MAX_NUMBER_MAGNITUDE),
                    },
                    {"type": "boolean"},
                    {"type": "string", "maxLength": MAX_ATTRIBUTE_TEXT_LENGTH},
                ]
            },
            "description": "the customer's values for tariff formulas: a number (at most 38 digits, less "
            f"than {MAX_NUMBER_MAGNITUDE:.0e} in size), true/false, or a text; names are identifiers",
        }
    ),
]
IntervalMinutes = Annotated[Literal[1, 5, 15, 30, 60], BeforeValidator(_whole_number)]


def _aware_datetime(value: object) -> datetime:
    moment = _iso_datetime(value)
    if moment.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset; add one (e.g. +01:00 or Z)")
    return _in_calendar(moment)


AwareDateTime = Annotated[
    datetime,
    BeforeValidator(_aware_datetime),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": f"{CALENDAR_PATTERN}T.+$",
            "description": f"a date-time with a UTC offset (2026-03-01T12:07:00+01:00); its date {CALENDAR}",
        }
    ),
]
_MAGNITUDE: Final = f"less than {MAX_NUMBER_MAGNITUDE:.0e}; at most 38 digits"
SettingAmount = Annotated[
    Decimal,
    Field(ge=0, lt=MAX_NUMBER_MAGNITUDE, max_digits=38, allow_inf_nan=False),
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": int(MAX_NUMBER_MAGNITUDE)},
                _NUMBER_TEXT,
            ],
            "description": f"at least 0, {_MAGNITUDE}",
        }
    ),
]
SettingQuantity = Annotated[
    DomainQuantity,
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": int(MAX_NUMBER_MAGNITUDE)},
                _NUMBER_TEXT,
            ],
            "description": f"more than 0, {_MAGNITUDE}",
        }
    ),
]
