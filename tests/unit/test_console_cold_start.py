"""The console shares the API's function: its template engine and Babel's locale data must load on the
console's first page, never on the cold start of a collector pushing readings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_building_the_api_imports_neither_jinja2_nor_babel() -> None:
    script = (
        "import json, sys; import meterbill.api.app; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'jinja2', 'babel'})))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(REPO / "layers/common/python")},
        capture_output=True,
        text=True,
        check=True,
    )

    assert json.loads(run.stdout) == []
