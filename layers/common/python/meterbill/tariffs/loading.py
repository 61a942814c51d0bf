"""Tariff files: a native tariff document or a URDB rate object, as JSON, read into a validated Tariff."""

from __future__ import annotations

import json
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from meterbill import fielderrors
from meterbill.tariffs.model import Tariff
from meterbill.tariffs.urdb import UrdbError, from_urdb, is_urdb_rate

# How the command line (--accept-urdb-field) and the API (?accept_urdb_field=) name the accepted URDB fields.
ACCEPT_URDB_FIELD = "accept_urdb_field"


class TariffFileError(ValueError):
    """A tariff file that cannot be read or does not validate; ``field`` is the path at fault, if any."""

    def __init__(self, source: str, field: str | None, reason: str) -> None:
        super().__init__(f"{source}: {reason}" if field is None else f"{source}: {field}: {reason}")
        self.source = source
        self.field = field
        self.reason = reason


def load_tariff(path: str | Path, *, accept_urdb_fields: Collection[str] = ()) -> Tariff:
    """Numbers are read as exact decimals; a URDB rate object is converted, anything else is native.

    ``accept_urdb_fields`` names the URDB charges to leave out knowingly (see ``from_urdb``)."""
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
    return tariff_from_json(document, source, accept_urdb_fields=accept_urdb_fields)


def tariff_from_json(document: Any, source: str, *, accept_urdb_fields: Collection[str] = ()) -> Tariff:
    """A URDB rate object (or API answer holding one) is converted, leaving out the charges named in
    ``accept_urdb_fields`` (recorded on the tariff); anything else must be a native tariff."""
    if not isinstance(document, dict):
        raise TariffFileError(source, None, f"expected a JSON object, got {_json_type(document)}")
    urdb = is_urdb_rate(document)
    if accept_urdb_fields and not urdb:
        raise TariffFileError(
            source, ACCEPT_URDB_FIELD, "fields can only be accepted for a URDB rate; this is a native tariff"
        )
    try:
        if urdb:
            return from_urdb(document, ignore=accept_urdb_fields)
        return Tariff.model_validate(document)
    except UrdbError as err:
        field = ACCEPT_URDB_FIELD if err.field == "ignore" else err.field
        raise TariffFileError(source, field, err.reason) from None
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
