"""Email subscriptions to the alerts topic: what a request may ask for, the SNS filter policy that admits only
that account's matching alerts, and SNS's matching of a policy against a message's attributes.

The filter policy (``FilterPolicyScope: MessageAttributes``; attributes as ``alerts.messages`` writes them)::

    {"account_id": [A], "severity": [every severity >= min_severity],
     "kind": [kinds] (omitted: every kind), "site_id": [site ids] (omitted: every site)}

``account_id`` is always there: a subscriber of account A never receives account B's alerts. A message
matches when every key of the policy matches (AND); a key matches when the attribute's value is one of the
key's values, and a ``String.Array`` attribute (``kind``, ``state``) when any of its elements is. A grouped
message carries its highest severity and all its kinds, so it reaches everyone whose filter one of its alerts
passes, with the other alerts of that site and moment beside it.

SNS refuses a policy with more than ``MAX_POLICY_KEYS`` keys or whose value arrays multiply to more than
``MAX_POLICY_COMBINATIONS`` (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html);
a request whose policy would is refused here first, naming the field to trim.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from meterbill.alerts.messages import ARRAY_ATTRIBUTES
from meterbill.alerts.model import ALERT_KINDS, SEVERITIES, AlertKind, Severity
from meterbill.domain import MAX_EMAIL_LENGTH, MAX_ID_LENGTH
from meterbill.errors import InvalidInputError

MAX_SITE_IDS: Final = 100
MAX_POLICY_KEYS: Final = 5
MAX_POLICY_COMBINATIONS: Final = 150
DEFAULT_MIN_SEVERITY: Final[Severity] = "warning"
_MAX_LOCAL_PART: Final = 64  # RFC 5321
# Characters that say "a display name, a list or a quoted local part", not one plain address.
_NOT_IN_ADDRESS: Final = frozenset('<>()[],;:"\\')
_ID: Final = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{MAX_ID_LENGTH - 1}}}$")


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """``POST /v1/alert-subscriptions``' body: who gets which alerts. ``kinds`` empty: every kind;
    ``site_ids`` None: every site. Checked on construction (``InvalidInputError`` naming the field)."""

    email: str
    kinds: tuple[AlertKind, ...] = ()
    min_severity: Severity = DEFAULT_MIN_SEVERITY
    site_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # A JSON body gives lists: keep tuples, so requests compare and hash as values.
        object.__setattr__(self, "kinds", tuple(self.kinds))
        if self.site_ids is not None:
            object.__setattr__(self, "site_ids", tuple(self.site_ids))
        check_email(self.email)
        _check_unique("kinds", self.kinds, lambda k: k in ALERT_KINDS, f"one of {', '.join(ALERT_KINDS)}")
        if self.min_severity not in SEVERITIES:
            raise InvalidInputError("min_severity", f"must be one of {', '.join(SEVERITIES)}")
        if self.site_ids is not None:
            if not self.site_ids:
                raise InvalidInputError(
                    "site_ids", "must name at least one site (leave it out for every site)"
                )
            if len(self.site_ids) > MAX_SITE_IDS:
                raise InvalidInputError("site_ids", f"at most {MAX_SITE_IDS} sites")
            _check_unique("site_ids", self.site_ids, lambda s: bool(_ID.match(s)), "a site id")
        _check_size(self.kinds, self.min_severity, self.site_ids)

    def filter_policy(self, account_id: str) -> dict[str, list[str]]:
        return filter_policy(account_id, self.kinds, self.min_severity, self.site_ids)


def check_email(email: str) -> None:
    """A plain address (``name@example.com``): one ``@``, a dot in the domain, no spaces, at most 254
    characters. SNS checks nothing more; the confirmation email proves it is real."""
    if not isinstance(email, str) or not email:
        raise InvalidInputError("email", "must not be empty")
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidInputError("email", f"at most {MAX_EMAIL_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in email):
        raise InvalidInputError("email", "must not contain spaces or control characters")
    if any(c in _NOT_IN_ADDRESS for c in email):
        raise InvalidInputError(
            "email", "must be one plain address (name@example.com), without a display name"
        )
    if email.count("@") != 1:
        raise InvalidInputError("email", "must contain exactly one @")
    local, _, domain = email.partition("@")
    if not local or len(local) > _MAX_LOCAL_PART:
        raise InvalidInputError("email", f"the part before @ must have 1 to {_MAX_LOCAL_PART} characters")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise InvalidInputError("email", "the domain must contain a dot and no empty labels (example.com)")


def _check_unique(field: str, values: Sequence[str], valid: Callable[[str], bool], what: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if not isinstance(value, str) or not valid(value):
            raise InvalidInputError(f"{field}[{index}]", f"must be {what}")
        if value in seen:
            raise InvalidInputError(f"{field}[{index}]", f"{value!r} is listed twice")
        seen.add(value)


def _severities_from(min_severity: Severity) -> list[str]:
    return list(SEVERITIES[SEVERITIES.index(min_severity) :])


def _every_kind(kinds: Sequence[str]) -> bool:
    return not kinds or set(kinds) == set(ALERT_KINDS)


def _check_size(kinds: Sequence[str], min_severity: Severity, site_ids: Sequence[str] | None) -> None:
    kind_values = 1 if _every_kind(kinds) else len(kinds)
    severity_values = len(_severities_from(min_severity))
    site_values = len(site_ids) if site_ids else 1
    combinations = kind_values * severity_values * site_values
    if combinations <= MAX_POLICY_COMBINATIONS:
        return
    most = MAX_POLICY_COMBINATIONS // (kind_values * severity_values)
    raise InvalidInputError(
        "site_ids",
        f"{site_values} sites x {kind_values} kinds x {severity_values} severities make {combinations} "
        f"filter combinations; SNS allows at most {MAX_POLICY_COMBINATIONS}: name at most {most} sites "
        "with these kinds and min_severity (or fewer kinds, a higher min_severity, or every site)",
    )


def filter_policy(
    account_id: str,
    kinds: Sequence[AlertKind],
    min_severity: Severity,
    site_ids: Sequence[str] | None,
) -> dict[str, list[str]]:
    """The SNS filter policy (scope MessageAttributes): the account, the severities from ``min_severity`` up,
    the kinds (left out when empty or every kind) and the sites (left out when None)."""
    if not account_id:
        raise InvalidInputError("account_id", "must not be empty")
    if min_severity not in SEVERITIES:
        raise InvalidInputError("min_severity", f"must be one of {', '.join(SEVERITIES)}")
    _check_size(kinds, min_severity, site_ids)
    policy: dict[str, list[str]] = {
        "account_id": [account_id],
        "severity": _severities_from(min_severity),
    }
    if not _every_kind(kinds):
        policy["kind"] = list(kinds)
    if site_ids is not None:
        policy["site_id"] = list(site_ids)
    return policy


def admits(policy: Mapping[str, Sequence[Any]], attributes: Mapping[str, str]) -> bool:
    """SNS's attribute matching for the policies above: every key of ``policy`` must match; a key matches
    when the message has the attribute and its value is one of the key's strings (exact, case-sensitive),
    or, for a ``String.Array`` attribute (``ARRAY_ATTRIBUTES``, a JSON list), when any element is."""
    for key, allowed in policy.items():
        if key not in attributes:
            return False
        value = attributes[key]
        candidates = _elements(value) if key in ARRAY_ATTRIBUTES else [value]
        if not any(isinstance(c, str) and c in allowed for c in candidates):
            return False
    return True


def _elements(value: str) -> list[Any]:
    try:
        parsed = json.loads(value)
    except ValueError:
        return []
    return parsed if isinstance(parsed, list) else []
