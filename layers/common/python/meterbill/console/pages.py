"""Rendering the console's pages: the Jinja2 environment, the headers of every HTML answer, the static files
and the alarm zone's order. Jinja2 loads on the first page rendered (the API's JSON routes never pay for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from meterbill.alerts.lifecycle import Alert
from meterbill.console.home import shown_time, site_zone

if TYPE_CHECKING:
    from jinja2 import Environment

HERE: Final = Path(__file__).resolve().parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HTML: Final = "text/html; charset=utf-8"
HTML_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
IMMUTABLE: Final = "public, max-age=31536000, immutable"
STATIC_TYPES: Final[Mapping[str, str]] = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

# The alarm zone: firing before pending, then critical > warning > info, then the oldest first.
_STATE_RANK: Final = {"firing": 0, "pending": 1}
_SEVERITY_RANK: Final = {"critical": 0, "warning": 1, "info": 2}
# Shown in red whatever their severity: a meter or collector that went quiet, energy unaccounted for.
FLAGGED_KINDS: Final = frozenset({"communication", "collector_offline", "energy_evasion"})


@cache
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


def alarm_zone(alerts: Iterable[Alert]) -> list[Alert]:
    """The open (firing or pending) alerts in the order the home page shows them."""
    shown = [alert for alert in alerts if alert.state in _STATE_RANK]
    return sorted(
        shown,
        key=lambda a: (_STATE_RANK[a.state], _SEVERITY_RANK[a.severity], a.fired_at or a.first_seen, a.id),
    )


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    cache_control: str


def static_file(name: str) -> StaticFile | None:
    """The file ``name`` (a path under ``static/``); None for one that does not exist, a directory, or a name
    that leaves ``static/`` (``..``, an absolute path, a backslash). The name is looked up among the files
    that are there, never handed to the file system (which refuses a NUL, a lone surrogate or a name over
    255 bytes with an error, not an answer)."""
    if name not in static_names():
        return None
    path = STATIC / name
    content_type = STATIC_TYPES.get(path.suffix)
    if content_type is None:
        return None
    vendored = PurePosixPath(name).parts[0] == "vendor"
    return StaticFile(path.read_bytes(), content_type, IMMUTABLE if vendored else "no-cache")


@cache
def static_names() -> frozenset[str]:
    """The files under ``static/`` as paths relative to it (``console.css``, ``vendor/htmx.min.js``)."""
    return frozenset(p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file())


def rows(alerts: Sequence[Alert], zones: Mapping[str, ZoneInfo]) -> list[dict[str, Any]]:
    return [row(alert, zones) for alert in alerts]


def row(alert: Alert, zones: Mapping[str, ZoneInfo]) -> dict[str, Any]:
    """The alert as its row shows it; ``since`` on the clock of the alert's site (``zones``), else UTC."""
    since = shown_time(alert.fired_at or alert.first_seen, site_zone(alert.subject.site_id, zones))
    return {
        "id": alert.id,
        "kind": alert.kind,
        "kind_label": alert.kind.replace("_", " "),
        "subject": f"{alert.subject.kind} {alert.subject.id}",
        "severity": alert.severity,
        "state": alert.state,
        "since": since.iso,
        "since_text": since.text,
        "summary": alert.summary,
        "flagged": alert.kind in FLAGGED_KINDS,
        "acknowledged_at": (
            alert.acknowledged_at.isoformat(timespec="minutes") if alert.acknowledged_at else None
        ),
        "acknowledged_by": alert.acknowledged_by,
    }
