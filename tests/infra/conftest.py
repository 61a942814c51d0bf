"""The CDK app, synthesized once per test session (both stages, one cloud assembly), offline.

The layer's wheels come from ``.cache/layer-wheels/`` (downloaded on a machine's first run); only when they
cannot be obtained at all are these tests skipped, with pip's reason. cfn-lint (~5 s for both templates)
starts in its own process as soon as the templates exist, and runs while the other tests do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.cdk.layer_build import LayerBuildError, LayerContents
from tests.infra.templates import ACCOUNT, REGION

# The cfn-lint command of this interpreter's environment (the package has no ``__main__``).
CFN_LINT = "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"


@dataclass(frozen=True)
class Synthesized:
    app: Any  # aws_cdk.App
    stacks: dict[str, Any]  # stage name -> MeterbillStack
    templates: dict[str, dict[str, Any]]  # stage name -> CloudFormation template
    outdir: Path
    layer_contents: LayerContents
    cfn_lint: subprocess.Popen[str]  # cfn-lint --format json over both templates


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    try:
        contents = LayerContents.prepare()
    except LayerBuildError as error:
        pytest.skip(f"the layer's wheels cannot be obtained: {error}")
    from aws_cdk import Environment

    from infra.cdk.app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stacks = build_app(
        outdir=outdir,
        env=Environment(account=ACCOUNT, region=REGION),
        checks=False,  # test_checks runs cdk-nag and reports its findings itself
        builtin_validation=False,  # test_templates_lint runs cfn-lint
        layer_contents=contents,
    )
    assembly = app.synth()
    templates = {
        stack.stage.name: json.loads((Path(assembly.directory) / stack.template_file).read_text())
        for stack in stacks
    }
    template_files = [str(Path(assembly.directory) / stack.template_file) for stack in stacks]
    cfn_lint = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CFN_LINT,
            "--format",
            "json",
            "--ignore-checks",
            "W3005",
            "--",
            *template_files,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Synthesized(app, {s.stage.name: s for s in stacks}, templates, outdir, contents, cfn_lint)
    finally:
        if cfn_lint.poll() is None:
            cfn_lint.kill()
            cfn_lint.communicate()


@pytest.fixture(scope="session")
def dev(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.templates["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.templates["prod"]
