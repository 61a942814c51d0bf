"""An attributes document for formulas (``meterbill rate --attributes A.json``): the customer's attributes as
a flat object, ``{"senior_citizen": true}``, or the three scopes, ``{"customer": {...}, "site": {...},
"meter": {...}}`` (each optional). Names and values follow the catalog's rules (``domain.Attributes``)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from meterbill.domain import Attributes
from meterbill.tariffs.engine import ScopedAttributes
from meterbill.tariffs.formulas import SCOPES


class _Scoped(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    customer: Attributes = Field(default_factory=dict)
    site: Attributes = Field(default_factory=dict)
    meter: Attributes = Field(default_factory=dict)


_FLAT = TypeAdapter(Attributes)


def scoped_attributes(document: Mapping[str, object]) -> ScopedAttributes:
    """The scoped form when one of ``customer``, ``site``, ``meter`` holds an object (no attribute value is an
    object), then every key must be one of the three; else the customer's attributes.

    Raises pydantic's ValidationError; its ``loc`` is the path at fault (``("site", "floor area", "[key]")``).
    """
    if any(isinstance(document.get(scope), Mapping) for scope in SCOPES):
        scoped = _Scoped.model_validate(document)
        return ScopedAttributes(scoped.customer, scoped.site, scoped.meter)
    return ScopedAttributes(customer=_FLAT.validate_python(document))
