"""Tariff files: a native tariff document or a URDB rate object, as JSON, read into a validated Tariff."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from meterbill import fielderrors
from meterbill.tariffs.model import Tariff
from meterbill.tariffs.urdb import UrdbError, from_urdb, is_urdb_rate


class TariffFileError(ValueError):
    """A tariff file that cannot be read or does not validate; ``field`` is the path at fault, if any."""

    def __init__(self, source: str, field: str | None, reason: str) -> None:
        super().__init__(f"{source}: {reason}" if field is None else f"{source}: {field}: {reason}")
        self.source = source
        self.field = field
        self.reason = reason


def load_tariff(path: str | Path) -> Tariff:
    """Numbers are read as exact decimals; a URDB rate object is converted, anything else is native."""
    source = str(path)
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file, parse_float=Decimal)
    except OSError as err:
        raise TariffFileError(source, None, f"cannot read the file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise TariffFileError(source, None, f"not UTF-8 text: {err.reason} at byte {err.start}") from None
    except json.JSONDecodeError as err:
        reason = f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        raise TariffFileError(source, None, reason) from None
    return tariff_from_json(document, source)


def tariff_from_json(document: Any, source: str) -> Tariff:
    """A URDB rate object (or API answer holding one) is converted; anything else must be a native tariff."""
    if not isinstance(document, dict):
        raise TariffFileError(source, None, f"expected a JSON object, got {_json_type(document)}")
    try:
        return from_urdb(document) if is_urdb_rate(document) else Tariff.model_validate(document)
    except UrdbError as err:
        raise TariffFileError(source, err.field, err.reason) from None
    except ValidationError as err:
        problems = err.errors(include_url=False)
        reason = fielderrors.reason(problems[0])
        if len(problems) > 1:
            reason += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        raise TariffFileError(source, fielderrors.field_path(problems[0]["loc"]) or None, reason) from None


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
