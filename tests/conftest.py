"""Suite-wide settings."""

from __future__ import annotations

import os

from hypothesis import settings

# CI replays the same examples on every run, so a red build is reproducible; locally every run explores anew.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
