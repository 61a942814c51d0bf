"""Silences: maintenance windows that mute matching alerts between two moments, then expire by themselves.

Like Alertmanager's, a silence is a set of equality matchers, all of which must hold (AND); an alert that
matches every one of them between ``starts_at`` (inclusive) and ``ends_at`` (exclusive) is silenced: it stays
visible with ``silenced`` set and the silences' ids, but no notification goes out for it. Nothing needs to
delete an expired silence: past ``ends_at`` it simply matches nothing.

Matcher names: ``kind`` (the alert kind), ``subject_kind``, ``subject_id``, ``site_id`` and ``severity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from meterbill.alerts.model import Subject
from meterbill.errors import InvalidInputError

MatcherName = Literal["kind", "subject_kind", "subject_id", "site_id", "severity"]
MATCHER_NAMES: Final[tuple[MatcherName, ...]] = get_args(MatcherName)


@dataclass(frozen=True, slots=True)
class Matcher:
    """``name`` equals ``value`` (exact, case-sensitive)."""

    name: MatcherName
    value: str

    def __post_init__(self) -> None:
        if self.name not in MATCHER_NAMES:
            raise InvalidInputError("matchers.name", f"must be one of {', '.join(MATCHER_NAMES)}")
        if not self.value:
            raise InvalidInputError("matchers.value", "must not be empty")


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes the alerts every matcher matches from ``starts_at`` (inclusive) to ``ends_at`` (exclusive)."""

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    comment: str
    id: str = ""
    created_by: str = ""

    def __post_init__(self) -> None:
        if not self.matchers:
            raise InvalidInputError(
                "matchers", "at least one matcher is required (a silence must not mute all)"
            )
        names = [m.name for m in self.matchers]
        if len(set(names)) != len(names):
            raise InvalidInputError("matchers", "each name at most once (equality matchers are ANDed)")
        for name, moment in (("starts_at", self.starts_at), ("ends_at", self.ends_at)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise InvalidInputError(name, "must carry a time zone offset")
        if self.ends_at <= self.starts_at:
            raise InvalidInputError("ends_at", "must be after starts_at")
        if not self.comment.strip():
            raise InvalidInputError("comment", "must say why (a maintenance window, a known outage)")

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, kind: str, subject: Subject, severity: str) -> bool:
        labels = {
            "kind": kind,
            "subject_kind": subject.kind,
            "subject_id": subject.id,
            "site_id": subject.site_id or "",
            "severity": severity,
        }
        return all(labels[m.name] == m.value for m in self.matchers)

    def mutes(self, kind: str, subject: Subject, severity: str, now: datetime) -> bool:
        return self.active_at(now) and self.matches(kind, subject, severity)
