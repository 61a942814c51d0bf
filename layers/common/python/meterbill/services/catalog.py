"""The catalog of an account: customers, sites, meters, assignments and tariffs.

Bodies arrive as the request's JSON object without ``account_id``: the account always comes from the
authenticated key and is set here, never read from the body. Each body is validated by its domain model
(unknown fields rejected) and by the references between objects:

- a meter's site exists, and so does its parent (a sub meter's main meter), without forming a loop; a meter's
  ``external_id`` (its id in import files) is unique in the account;
- an assignment's meter, customer and tariff exist, the tariff prices what the meter measures, and the
  meter's assignments never add up to more than the whole of its usage on any day;
- nothing is deleted while another object still refers to it.

Every failure is an InvalidInputError naming the field and the reason. An id of another account is simply not
found (NotFoundError), exactly like an id that does not exist.

Tariffs are versioned: ``create_tariff`` stores version 1 and ``new_tariff_version`` version n+1 effective
from a date; old versions stay, so a past period can be billed again as it was. A version is stored as the
catalog kind "tariff" with the id ``<tariff id>@<version, 6 digits>``; its body is the tariff and, beside it,
``changed_by`` (the id of the API key that stored the version) when the caller named one.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final, Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from meterbill.domain import Assignment, Customer, Meter, Site, assignments_for
from meterbill.errors import AlreadyExistsError, InvalidInputError, NotFoundError, PreconditionFailedError
from meterbill.metersettings import ExchangeSettings
from meterbill.ports import CatalogKind, CatalogStore, MeteringStore, Page, ReadingStore, Stored
from meterbill.services.common import (
    all_items,
    check_document_bounds,
    check_page_size,
    invalid_input,
    require_in_calendar,
)
from meterbill.services.metering import check_limits, rates_differ, resettled_days
from meterbill.tariffs.loading import TariffFileError, tariff_from_json
from meterbill.tariffs.model import Tariff
from meterbill.tariffs.urdb import is_urdb_rate

T = TypeVar("T")
Value = TypeVar("Value", bound=BaseModel)
CatalogModel = TypeVar("CatalogModel", Customer, Site, Meter, Assignment)

KIND_OF: Final[Mapping[type[Customer | Site | Meter | Assignment], CatalogKind]] = {
    Customer: "customer",
    Site: "site",
    Meter: "meter",
    Assignment: "assignment",
}
ID_PREFIX: Final[Mapping[CatalogKind, str]] = {
    "customer": "cus",
    "site": "site",
    "meter": "mtr",
    "assignment": "asg",
}
VERSION_DIGITS: Final = 6
MAX_VERSION: Final = 10**VERSION_DIGITS - 1
MAX_PARENT_DEPTH: Final = 32
EXCHANGE_ATTEMPTS: Final = 5  # without If-Match, an exchange is appended again to a meter changed meanwhile
_SERVER_FIELDS: Final = ("account_id",)


@dataclass(frozen=True, slots=True)
class CatalogEntry(Generic[T]):
    """A catalog object with its ETag (for If-Match) and when it was created and last changed; a tariff
    version also who stored it (``changed_by``: the API key's id, when the version recorded one)."""

    value: T
    etag: str
    created_at: datetime
    updated_at: datetime
    changed_by: str | None = None


# --- customers, sites, meters, assignments ------------------------------------------------------------------


def create(
    account: str, model: type[CatalogModel], body: Mapping[str, Any], catalog: CatalogStore
) -> CatalogEntry[CatalogModel]:
    """Store a new object; its id is the body's ``id``, or generated (``cus_``, ``site_``, ``mtr_``, ``asg_``
    and 16 hex digits). Raises AlreadyExistsError when the id is taken in this account."""
    kind = KIND_OF[model]
    item_id = body.get("id")
    if item_id is None:
        item_id = f"{ID_PREFIX[kind]}_{secrets.token_hex(8)}"
    value = _validated(account, model, body, item_id)
    _check_references(account, value, catalog)
    return _entry(model, catalog.create(account, kind, value.id, value.model_dump(mode="json")))


def get(
    account: str, model: type[CatalogModel], item_id: str, catalog: CatalogStore
) -> CatalogEntry[CatalogModel]:
    """Raises NotFoundError."""
    return _entry(model, catalog.get(account, KIND_OF[model], item_id))


def list_page(
    account: str,
    model: type[CatalogModel],
    catalog: CatalogStore,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[CatalogEntry[CatalogModel]]:
    """A page of objects in id order; pass the page's cursor to get the next one (None: this was the last)."""
    page = catalog.list(account, KIND_OF[model], limit=check_page_size(limit), cursor=cursor)
    return Page(items=[_entry(model, stored) for stored in page.items], cursor=page.cursor)


def replace(
    account: str,
    model: type[CatalogModel],
    item_id: str,
    body: Mapping[str, Any],
    catalog: CatalogStore,
    *,
    if_match: str | None,
) -> CatalogEntry[CatalogModel]:
    """Replace an object as a whole. The body's ``id``, if given (not null), must be ``item_id``. Raises
    NotFoundError, or PreconditionFailedError when ``if_match`` is not the current ETag."""
    current, value = _replacement(account, model, item_id, body, catalog, if_match=if_match)
    stored = catalog.replace(
        account, KIND_OF[model], item_id, value.model_dump(mode="json"), if_match=current.etag
    )
    return _entry(model, stored)


def replace_meter(
    account: str,
    meter_id: str,
    body: Mapping[str, Any],
    catalog: CatalogStore,
    readings: ReadingStore,
    metering: MeteringStore,
    *,
    if_match: str | None,
) -> CatalogEntry[Meter]:
    """``replace`` for a meter, marking for the rating run the UTC days its new validation settings change
    (``services.metering.resettled_days``: a CT ratio change from its effective date on, limits on every day
    already rated, ...), so the next pass rates them again and records re-rating candidates on the issued
    invoices they touch. Marked before the meter is written (a crash after the write still leaves them) and
    again after (a pass running in between rated them with the old settings): 2 WRU a day marked."""
    current, value = _replacement(account, Meter, meter_id, body, catalog, if_match=if_match)
    old = Meter.model_validate(current.body)
    days = (
        resettled_days(old, value, metering.rated_span(account, meter_id)) if rates_differ(old, value) else []
    )
    if days:
        readings.mark_for_rating(account, meter_id, *days)
    stored = catalog.replace(account, "meter", meter_id, value.model_dump(mode="json"), if_match=current.etag)
    if days:
        readings.mark_for_rating(account, meter_id, *days)
    return _entry(Meter, stored)


def _replacement(
    account: str,
    model: type[CatalogModel],
    item_id: str,
    body: Mapping[str, Any],
    catalog: CatalogStore,
    *,
    if_match: str | None,
) -> tuple[Stored, CatalogModel]:
    """The object as stored and the body validated to replace it."""
    kind = KIND_OF[model]
    if body.get("id") not in (None, item_id):
        raise InvalidInputError("id", f"{body['id']!r} is not the id of the object replaced ({item_id!r})")
    current = catalog.get(account, kind, item_id)  # not found before any reference is looked at
    if if_match is not None and if_match != current.etag:
        raise PreconditionFailedError(kind, item_id, if_match, current.etag)
    value = _validated(account, model, body, item_id)
    _check_references(account, value, catalog)
    return current, value


def delete(
    account: str, model: type[CatalogModel], item_id: str, catalog: CatalogStore, *, if_match: str | None
) -> None:
    """Raises NotFoundError, PreconditionFailedError, or InvalidInputError while something refers to it."""
    kind = KIND_OF[model]
    current = catalog.get(account, kind, item_id)
    if if_match is not None and if_match != current.etag:
        raise PreconditionFailedError(kind, item_id, if_match, current.etag)
    _check_unreferenced(account, kind, item_id, catalog)
    catalog.delete(account, kind, item_id, if_match=current.etag)


def record_exchange(
    account: str,
    meter_id: str,
    body: Mapping[str, Any],
    catalog: CatalogStore,
    readings: ReadingStore,
    *,
    if_match: str | None,
) -> CatalogEntry[Meter]:
    """Append a device exchange to a meter's ``exchanges`` (a DCMS operator swapping a PDU): the old
    device's final read and the new one's initial read at ``timestamp``, after the meter's last exchange.
    ``old_serial`` defaults to the meter's ``serial``; a ``new_serial`` becomes its ``serial``.

    Raises NotFoundError; PreconditionFailedError when ``if_match`` is not the current ETag; InvalidInputError
    naming the field. Without ``if_match``, an exchange that loses a race with another change of the meter is
    appended again to the meter as it is now. The exchange's UTC day is marked for the rating run (before the
    meter is written: a mark without a change only rates the day again), so rated usage follows."""
    try:
        exchange = ExchangeSettings.model_validate(body)
    except ValidationError as err:
        raise invalid_input(err) from None
    for attempt in range(1, EXCHANGE_ATTEMPTS + 1):
        current = catalog.get(account, "meter", meter_id)
        if if_match is not None and if_match != current.etag:
            raise PreconditionFailedError("meter", meter_id, if_match, current.etag)
        meter = Meter.model_validate(current.body)
        updated = _with_exchange(meter, exchange)
        readings.mark_for_rating(account, meter_id, exchange.timestamp.astimezone(UTC).date())
        try:
            stored = catalog.replace(
                account, "meter", meter_id, updated.model_dump(mode="json"), if_match=current.etag
            )
        except PreconditionFailedError:
            if if_match is not None or attempt == EXCHANGE_ATTEMPTS:
                raise
            continue  # another change won the race: append to the meter as it is now
        return _entry(Meter, stored)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _with_exchange(meter: Meter, exchange: ExchangeSettings) -> Meter:
    if meter.exchanges and exchange.timestamp <= meter.exchanges[-1].timestamp:
        last = meter.exchanges[-1].timestamp.isoformat()
        raise InvalidInputError(
            "timestamp",
            f"{exchange.timestamp.isoformat()} is not after the meter's last exchange, at {last}",
        )
    _check_exchange_reads(meter, exchange)
    if exchange.old_serial is None and meter.serial is not None:
        exchange = exchange.model_copy(update={"old_serial": meter.serial})
    fields = meter.model_dump()
    fields["exchanges"] = (*meter.exchanges, exchange)
    if exchange.new_serial is not None:
        fields["serial"] = exchange.new_serial
    try:
        return Meter.model_validate(fields)
    except ValidationError as err:
        raise invalid_input(err) from None


def _check_exchange_reads(meter: Meter, exchange: ExchangeSettings, under: str = "") -> None:
    """An exchange's reads are register values: none above the register's maximum."""
    for name in ("old_final", "new_initial"):
        value = getattr(exchange, name)
        if meter.register_max is not None and value > meter.register_max:
            reason = f"{value} is above the meter's register_max, {meter.register_max}"
            raise InvalidInputError(f"{under}{name}", reason)


def assignments_of(
    account: str, catalog: CatalogStore, *, customer_id: str | None = None, meter_id: str | None = None
) -> list[CatalogEntry[Assignment]]:
    """The assignments of one customer, or of one meter (exactly one given), in id order: one read of the
    customer's (meter's) own collection, whatever the size of the account."""
    stored = catalog.assignments_of(account, customer_id=customer_id, meter_id=meter_id)
    return [_entry(Assignment, item) for item in stored]


def all_of(account: str, model: type[CatalogModel], catalog: CatalogStore) -> Iterator[CatalogModel]:
    """Every object of a kind in the account, in id order (for the services that need them all)."""
    for stored in all_items(account, KIND_OF[model], catalog):
        yield model.model_validate(stored.body)


def _validated(
    account: str, model: type[CatalogModel], body: Mapping[str, Any], item_id: str
) -> CatalogModel:
    for name in _SERVER_FIELDS:
        if name in body:  # the handler's request model rejects it already; never trust a body with it
            raise InvalidInputError(name, "unknown field")
    try:
        return model.model_validate({**body, "id": item_id, "account_id": account})
    except ValidationError as err:
        raise invalid_input(err) from None


def _entry(model: type[Value], stored: Stored) -> CatalogEntry[Value]:
    value = model.model_validate(stored.body)
    return CatalogEntry(
        value=value, etag=stored.etag, created_at=stored.created_at, updated_at=stored.updated_at
    )


def _exists(account: str, kind: CatalogKind, item_id: str, catalog: CatalogStore) -> Stored | None:
    try:
        return catalog.get(account, kind, item_id)
    except NotFoundError:
        return None


def _check_references(
    account: str, value: Customer | Site | Meter | Assignment, catalog: CatalogStore
) -> None:
    if isinstance(value, Meter):
        _check_meter(account, value, catalog)
    elif isinstance(value, Assignment):
        _check_assignment(account, value, catalog)


def _check_meter(account: str, meter: Meter, catalog: CatalogStore) -> None:
    check_limits(meter.limits, under="limits")  # refused when written, not when its readings are validated
    for index, exchange in enumerate(meter.exchanges):
        _check_exchange_reads(meter, exchange, under=f"exchanges[{index}].")
    if _exists(account, "site", meter.site_id, catalog) is None:
        raise InvalidInputError("site_id", f"no site {meter.site_id!r}")
    parent_id = meter.parent_id
    depth = 0
    while parent_id is not None:
        parent = _exists(account, "meter", parent_id, catalog)
        if parent is None:
            if depth == 0:
                raise InvalidInputError("parent_id", f"no meter {parent_id!r}")
            break  # a dangling link further up is not this meter's fault
        parent_id = parent.body.get("parent_id")
        depth += 1
        if parent_id == meter.id:
            raise InvalidInputError("parent_id", f"meter {meter.parent_id!r} is below {meter.id!r} already")
        if depth > MAX_PARENT_DEPTH:
            raise InvalidInputError("parent_id", f"more than {MAX_PARENT_DEPTH} levels of parent meters")
    if meter.external_id is not None:
        holder = catalog.meters_by_external_id(account, [meter.external_id]).get(meter.external_id)
        if holder is not None and holder != meter.id:
            raise InvalidInputError("external_id", f"{meter.external_id!r} is meter {holder!r}'s already")


def _check_assignment(account: str, assignment: Assignment, catalog: CatalogStore) -> None:
    meter_stored = _exists(account, "meter", assignment.meter_id, catalog)
    if meter_stored is None:
        raise InvalidInputError("meter_id", f"no meter {assignment.meter_id!r}")
    if _exists(account, "customer", assignment.customer_id, catalog) is None:
        raise InvalidInputError("customer_id", f"no customer {assignment.customer_id!r}")
    try:
        latest = _latest_version(account, assignment.tariff_id, catalog)
    except NotFoundError:
        raise InvalidInputError("tariff_id", f"no tariff {assignment.tariff_id!r}") from None
    meter = Meter.model_validate(meter_stored.body)
    if latest.value.unit != meter.unit:
        raise InvalidInputError(
            "tariff_id",
            f"tariff {latest.value.id!r} prices {latest.value.unit!r} "
            f"but meter {meter.id!r} measures {meter.unit!r}",
        )
    if assignment.basis == "residual":
        _check_residual_meter(account, meter, catalog)
    # The shares and splits to check are the meter's: its own assignments (one Query, not the account's).
    others = [
        entry.value
        for entry in assignments_of(account, catalog, meter_id=assignment.meter_id)
        if entry.value.id != assignment.id
    ]
    start = assignment.effective_from
    end = assignment.effective_to or date.max
    try:
        assignments_for([*others, assignment], assignment.meter_id, start, end)
    except ValueError as err:
        raise InvalidInputError("share", str(err)) from None
    if assignment.basis == "residual":
        for other in others:
            if (
                other.meter_id == assignment.meter_id
                and other.basis == "residual"
                and other.allocation != assignment.allocation
                and other.overlaps(start, end)
            ):
                raise InvalidInputError(
                    "allocation",
                    f"meter {meter.id!r}'s residual is split by {other.allocation} in assignment "
                    f"{other.id!r} at the same time; the customers sharing it need one way to split it",
                )


def _check_residual_meter(account: str, meter: Meter, catalog: CatalogStore) -> None:
    """A residual (main minus sub-meters) needs a main meter with at least one sub-meter."""
    if meter.kind != "main":
        raise InvalidInputError("basis", f"residual needs a main meter; meter {meter.id!r} is {meter.kind!r}")
    if not any(m.parent_id == meter.id for m in all_of(account, Meter, catalog)):
        raise InvalidInputError("basis", f"residual needs sub-meters; no meter has parent_id {meter.id!r}")


def _check_unreferenced(account: str, kind: CatalogKind, item_id: str, catalog: CatalogStore) -> None:
    if kind == "site":
        _refuse_if_used(account, "meter", "site_id", item_id, f"site {item_id!r}", catalog)
    elif kind == "meter":
        _refuse_if_used(account, "meter", "parent_id", item_id, f"meter {item_id!r}", catalog)
        _refuse_if_assigned(assignments_of(account, catalog, meter_id=item_id), f"meter {item_id!r}")
    elif kind == "customer":
        _refuse_if_assigned(assignments_of(account, catalog, customer_id=item_id), f"customer {item_id!r}")
    elif kind == "tariff":
        _refuse_if_used(account, "assignment", "tariff_id", item_id, f"tariff {item_id!r}", catalog)


def _refuse_if_assigned(assigned: list[CatalogEntry[Assignment]], what: str) -> None:
    if assigned:
        raise InvalidInputError(
            "id", f"{what} is still used by assignment {assigned[0].value.id!r}; change that first"
        )


def _refuse_if_used(
    account: str, kind: CatalogKind, field: str, item_id: str, what: str, catalog: CatalogStore
) -> None:
    for stored in all_items(account, kind, catalog):
        if stored.body.get(field) == item_id:
            raise InvalidInputError(
                "id", f"{what} is still used by {kind} {stored.item_id!r}; change that first"
            )


# --- tariffs ------------------------------------------------------------------------------------------------


def version_id(tariff_id: str, version: int) -> str:
    """The catalog id of a tariff version: ``<tariff id>@<version, 6 digits>`` (versions list in order)."""
    return f"{tariff_id}@{version:0{VERSION_DIGITS}d}"


def create_tariff(
    account: str,
    document: Mapping[str, Any],
    catalog: CatalogStore,
    *,
    tariff_id: str | None = None,
    accept_urdb_fields: Collection[str] = (),
    changed_by: str | None = None,
) -> CatalogEntry[Tariff]:
    """Version 1 of a new tariff from a native tariff document or a URDB rate object (its label is the id).

    ``tariff_id`` (the API's choice, e.g. for a URDB rate) replaces the document's id. A document's
    ``version``, if given, must be 1. ``accept_urdb_fields`` names URDB charges to leave out knowingly, as
    the refusal named them; the tariff records them. ``changed_by``: who stores it (an API key's id), kept
    with the version. Raises AlreadyExistsError when the tariff exists.
    """
    tariff = _tariff(
        document, tariff_id=tariff_id, version=1, effective_from=None, accept_urdb_fields=accept_urdb_fields
    )
    if catalog.list(account, "tariff", limit=1, prefix=tariff.id + "@").items:
        raise AlreadyExistsError("tariff", tariff.id)
    try:
        stored = catalog.create(account, "tariff", version_id(tariff.id, 1), _tariff_body(tariff, changed_by))
    except AlreadyExistsError:
        raise AlreadyExistsError("tariff", tariff.id) from None
    return _tariff_entry(stored)


def new_tariff_version(
    account: str,
    tariff_id: str,
    document: Mapping[str, Any],
    catalog: CatalogStore,
    *,
    effective_from: date | None = None,
    if_match: str | None = None,
    accept_urdb_fields: Collection[str] = (),
    changed_by: str | None = None,
) -> CatalogEntry[Tariff]:
    """Version n+1 of a tariff, in force from ``effective_from`` (or the document's), which must be after the
    latest version's start. Earlier versions stay as they are. ``accept_urdb_fields``, ``changed_by``: as for
    create_tariff.

    ``if_match`` is the ETag of the latest version (what GET of the tariff answered). Raises NotFoundError,
    PreconditionFailedError, or AlreadyExistsError when another new version was stored at the same time.
    """
    latest = _latest_version(account, tariff_id, catalog)
    if if_match is not None and if_match != latest.etag:
        raise PreconditionFailedError("tariff", tariff_id, if_match, latest.etag)
    number = latest.value.version + 1
    if number > MAX_VERSION:
        raise InvalidInputError("version", f"tariff {tariff_id!r} has the most versions there can be")
    tariff = _tariff(
        document,
        tariff_id=tariff_id,
        version=number,
        effective_from=effective_from,
        accept_urdb_fields=accept_urdb_fields,
    )
    if tariff.effective_from is None:
        raise InvalidInputError("effective_from", "a new version needs the date it takes effect")
    previous_start = latest.value.effective_from
    if previous_start is not None and tariff.effective_from <= previous_start:
        raise InvalidInputError(
            "effective_from",
            f"{tariff.effective_from} is not after {previous_start}, "
            f"when version {latest.value.version} took effect",
        )
    try:
        stored = catalog.create(
            account, "tariff", version_id(tariff_id, number), _tariff_body(tariff, changed_by)
        )
    except AlreadyExistsError:
        raise AlreadyExistsError("tariff version", version_id(tariff_id, number)) from None
    return _tariff_entry(stored)


def get_tariff(
    account: str, tariff_id: str, catalog: CatalogStore, *, version: int | None = None
) -> CatalogEntry[Tariff]:
    """The latest version, or the one asked for. Raises NotFoundError."""
    if version is None:
        return _latest_version(account, tariff_id, catalog)
    if not 1 <= version <= MAX_VERSION:
        raise NotFoundError("tariff version", f"{tariff_id}@{version}")
    try:
        return _tariff_entry(catalog.get(account, "tariff", version_id(tariff_id, version)))
    except NotFoundError:
        raise NotFoundError("tariff version", f"{tariff_id}@{version}") from None


def tariff_versions(account: str, tariff_id: str, catalog: CatalogStore) -> list[CatalogEntry[Tariff]]:
    """Every version of a tariff, oldest first. Raises NotFoundError when there is none."""
    versions = [
        _tariff_entry(stored) for stored in all_items(account, "tariff", catalog, prefix=tariff_id + "@")
    ]
    if not versions:
        raise NotFoundError("tariff", tariff_id)
    return versions


def list_tariffs(
    account: str, catalog: CatalogStore, *, limit: int = 50, cursor: str | None = None
) -> Page[CatalogEntry[Tariff]]:
    """A page of tariffs, each as its latest version, in the order of their stored ids ``<id>@<version>``
    (which is id order but for ids that continue with a character before "@": "a-b" lists before "a")."""
    limit = check_page_size(limit)
    store_cursor, after = _decode_tariff_cursor(cursor)
    tariffs: list[CatalogEntry[Tariff]] = []
    page_cursor = store_cursor
    while True:
        page = catalog.list(account, "tariff", limit=limit, cursor=page_cursor)
        for stored in page.items:
            if after is not None and stored.item_id <= version_id(after, MAX_VERSION):
                continue
            tariff_id = stored.item_id.rpartition("@")[0]
            if tariffs and tariffs[-1].value.id == tariff_id:
                tariffs[-1] = _tariff_entry(stored)  # a later version of the same tariff
            elif len(tariffs) == limit:
                # One tariff more than the page holds: the next page starts with it, from this store page.
                return Page(items=tariffs, cursor=_encode_tariff_cursor(page_cursor, tariffs[-1].value.id))
            else:
                tariffs.append(_tariff_entry(stored))
        if page.cursor is None:
            return Page(items=tariffs, cursor=None)
        page_cursor = page.cursor


def latest_tariffs(account: str, catalog: CatalogStore) -> dict[str, Tariff]:
    """Every tariff of the account as its latest version, by id (all pages: for pages that name them)."""
    latest: dict[str, Tariff] = {}
    for stored in all_items(account, "tariff", catalog):
        found = tariff_of(stored.body)
        if found.id not in latest or found.version > latest[found.id].version:
            latest[found.id] = found
    return latest


def delete_tariff(account: str, tariff_id: str, catalog: CatalogStore, *, if_match: str | None) -> None:
    """Delete every version of a tariff no assignment uses; ``if_match`` is the latest version's ETag."""
    versions = tariff_versions(account, tariff_id, catalog)
    latest = versions[-1]
    if if_match is not None and if_match != latest.etag:
        raise PreconditionFailedError("tariff", tariff_id, if_match, latest.etag)
    _check_unreferenced(account, "tariff", tariff_id, catalog)
    for entry in versions:
        catalog.delete(account, "tariff", version_id(tariff_id, entry.value.version), if_match=entry.etag)


CHANGED_BY: Final = "changed_by"  # beside the tariff in a version's stored body


def _tariff_body(tariff: Tariff, changed_by: str | None) -> dict[str, Any]:
    body = tariff.model_dump(mode="json")
    if changed_by is not None:
        body[CHANGED_BY] = changed_by
    return body


def tariff_of(body: Mapping[str, Any]) -> Tariff:
    """The tariff of a version's stored body (without what is kept beside it)."""
    return Tariff.model_validate({k: v for k, v in body.items() if k != CHANGED_BY})


def _tariff_entry(stored: Stored) -> CatalogEntry[Tariff]:
    changed_by = stored.body.get(CHANGED_BY)
    return CatalogEntry(
        value=tariff_of(stored.body),
        etag=stored.etag,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        changed_by=changed_by if isinstance(changed_by, str) else None,
    )


def _latest_version(account: str, tariff_id: str, catalog: CatalogStore) -> CatalogEntry[Tariff]:
    return tariff_versions(account, tariff_id, catalog)[-1]


def _tariff(
    document: Mapping[str, Any],
    *,
    tariff_id: str | None,
    version: int,
    effective_from: date | None,
    accept_urdb_fields: Collection[str],
) -> Tariff:
    if not isinstance(document, Mapping):
        raise InvalidInputError("body", "expected a JSON object: a tariff or a URDB rate")
    check_document_bounds(document)
    native = dict(document)
    given_version = native.pop("version", None)
    if given_version is not None and given_version != version:
        raise InvalidInputError(
            "version", f"versions are numbered by meterbill: this would be version {version}"
        )
    # A native document takes the id it is stored under; a URDB rate's label is replaced below.
    if tariff_id is not None and not is_urdb_rate(native) and native.setdefault("id", tariff_id) != tariff_id:
        raise InvalidInputError("id", f"{native['id']!r} is not the id of this tariff ({tariff_id!r})")
    try:
        tariff = tariff_from_json(native, "body", accept_urdb_fields=accept_urdb_fields)
    except TariffFileError as err:
        raise InvalidInputError(err.field or "body", err.reason) from None
    changes: dict[str, Any] = {"version": version}
    if tariff_id is not None:
        changes["id"] = tariff_id
    if effective_from is not None:
        if tariff.effective_from is not None and tariff.effective_from != effective_from:
            raise InvalidInputError(
                "effective_from", f"the document says {tariff.effective_from}, the request {effective_from}"
            )
        changes["effective_from"] = effective_from
    try:  # validated again: the id must match its pattern, effective_to must stay after effective_from
        tariff = Tariff.model_validate({**tariff.model_dump(), **changes})
    except ValidationError as err:
        raise invalid_input(err) from None
    for name in ("effective_from", "effective_to"):
        day = getattr(tariff, name)
        if day is not None:
            require_in_calendar(day, name)
    return tariff


def _encode_tariff_cursor(store_cursor: str | None, last_tariff_id: str) -> str:
    text = json.dumps({"store": store_cursor, "after": last_tariff_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_tariff_cursor(cursor: str | None) -> tuple[str | None, str | None]:
    if cursor is None:
        return None, None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        store, after = data["store"], data["after"]
        if (store is None or isinstance(store, str)) and isinstance(after, str):
            return store, after
    except (binascii.Error, ValueError, TypeError, KeyError):
        pass
    raise InvalidInputError("cursor", "not a cursor of this listing")


@dataclass(frozen=True, slots=True)
class CustomerClock:
    """A customer's name and the zone its bills are on (None: no meter assigned, shown in UTC)."""

    customer_id: str
    name: str
    zone: ZoneInfo | None


def customer_clock(account: str, customer_id: str, catalog: CatalogStore) -> CustomerClock:
    """The customer's name and clock: the site of the meter of its first assignment (by start, then meter),
    the zone ``services.invoicing.customer_calendar`` bills it on. Raises NotFoundError for a customer that
    is not the account's. Reads the customer, its assignments, one meter and one site."""
    customer = get(account, Customer, customer_id, catalog).value
    mine = [e.value for e in assignments_of(account, catalog, customer_id=customer_id)]
    if not mine:
        return CustomerClock(customer.id, customer.name, None)
    first = min(mine, key=lambda a: (a.effective_from, a.meter_id))
    meter = get(account, Meter, first.meter_id, catalog).value
    site = get(account, Site, meter.site_id, catalog).value
    return CustomerClock(customer.id, customer.name, site.zone())
