"""cfn-lint finds nothing in either stage's template (W3005, redundant DependsOn, is CDK's habit and ignored).

The linter runs in its own process, started when the templates were synthesized (tests/infra/conftest.py);
this file sorts last so the other tests run meanwhile."""

from __future__ import annotations

import json
from typing import Any


def test_cfn_lint_finds_nothing_in_either_template(synthesized: Any) -> None:
    output, errors = synthesized.cfn_lint.communicate(timeout=120)
    matches = [
        f"{m['Rule']['Id']} {m['Filename'].rsplit('/', 1)[-1]}: {m['Message']}"
        for m in json.loads(output or "[]")
    ]
    assert (matches, synthesized.cfn_lint.returncode, errors.strip()) == ([], 0, "")
