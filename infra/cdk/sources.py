"""Where the app finds what it deploys: the repository's folders and files, read at synth time."""

from __future__ import annotations

from pathlib import Path
from typing import Final

REPOSITORY: Final = Path(__file__).resolve().parents[2]
PYPROJECT: Final = REPOSITORY / "pyproject.toml"
# The shared package, shipped in the layer (``/opt/python/meterbill``).
LAYER_PACKAGE: Final = REPOSITORY / "layers" / "common" / "python" / "meterbill"
# The API's two handlers (``ingest_handler``, ``authorizer_handler``), one code asset for both functions.
INGEST_FUNCTIONS: Final = REPOSITORY / "functions" / "ingest"
# The rating pass and its queue worker (``rate_handler``, ``rate_worker_handler``): one asset for both.
RATE_FUNCTIONS: Final = REPOSITORY / "functions" / "rate"
# The invoicing pass and its queue worker (``invoice_schedule_handler``, ``invoice_worker_handler``).
INVOICE_FUNCTIONS: Final = REPOSITORY / "functions" / "invoice"
# The alerts pass and its readings worker (``alerts_schedule_handler``, ``alerts_readings_handler``).
ALERT_FUNCTIONS: Final = REPOSITORY / "functions" / "alerts"
# The hosted API's routes: the committed OpenAPI document the API generates (a unit test keeps them equal).
OPENAPI_DOCUMENT: Final = REPOSITORY / "docs" / "openapi.json"
# Downloaded wheels and installed layer dependencies, keyed by the dependency list (not committed).
LAYER_CACHE: Final = REPOSITORY / ".cache" / "layer-wheels"
CDK_JSON: Final = Path(__file__).resolve().parent / "cdk.json"
DEFAULT_OUTDIR: Final = Path(__file__).resolve().parent / "cdk.out"

# Never part of a code asset.
BUILD_LEFTOVERS: Final = ("__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache", ".ruff_cache")
