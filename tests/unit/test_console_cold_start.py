"""The console shares the API's function: its template engine, Babel's locale data and the alert services
must load on the console's first page, never on the cold start of a collector pushing readings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


FIRST_USE_ONLY = ("jinja2", "babel", "meterbill.services.alert_admin", "meterbill.services.alert_inputs")


def test_building_the_api_imports_no_template_engine_locale_data_or_alert_services() -> None:
    script = (
        "import json, sys; import meterbill.api.app; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({FIRST_USE_ONLY!r}))))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(REPO / "layers/common/python")},
        capture_output=True,
        text=True,
        check=True,
    )

    assert json.loads(run.stdout) == []
