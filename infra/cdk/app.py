"""The CDK app: ``python -m infra.cdk.app`` (``make synth``) or, to deploy, the CDK CLI through
``infra/cdk/cdk.json``. Synthesizes the stage the context names (``-c stage=dev``), or both stages.

Offline: no AWS call, no Docker. Without credentials (``make synth``) the stacks are environment-agnostic;
the CLI passes the account and region it deploys to (CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from aws_cdk import App, Environment

from infra.cdk.layer_build import LayerContents
from infra.cdk.nag import check_on_synth
from infra.cdk.sources import CDK_JSON, DEFAULT_OUTDIR
from infra.cdk.stack import MeterbillStack
from infra.cdk.stages import stages_from_context

CONTEXT_KEYS: Final = ("stage", "invoice_retention_days", "operations_email")


def build_app(
    *,
    outdir: Path | None = None,
    context: Mapping[str, Any] | None = None,
    env: Environment | None = None,
    checks: bool = True,
    builtin_validation: bool = True,
    layer_contents: LayerContents | None = None,
) -> tuple[App, list[MeterbillStack]]:
    """The app with one stack per stage; ``checks``: synth fails on unacknowledged cdk-nag findings;
    ``builtin_validation``: CDK's own CloudFormation validator runs on synth (a WASM engine that takes ~5 s
    to start; the tests turn it off and run cfn-lint instead).

    Its context starts from ``cdk.json``'s (the feature flags), so tests and ``make synth`` build what the CLI
    builds; ``context`` and the CLI's ``-c`` values come on top."""
    app = App(
        outdir=str(outdir) if outdir is not None else None,
        context={**cdk_json_context(), **(context or {})},
        builtin_cloud_formation_validation=builtin_validation,
    )
    chosen = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    contents = layer_contents or LayerContents.prepare()
    stacks = [
        MeterbillStack(app, stage.stack_name, stage=stage, layer_contents=contents, env=env)
        for stage in stages_from_context({k: v for k, v in chosen.items() if v is not None})
    ]
    if checks:
        check_on_synth(app)
    return app, stacks


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context


def environment_from_cli() -> Environment | None:
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    return Environment(account=account, region=region) if account and region else None


def main() -> None:
    started = time.perf_counter()
    # The CLI names the output directory (CDK_OUTDIR, which App reads itself); alone, write next to cdk.json.
    outdir = None if os.environ.get("CDK_OUTDIR") else DEFAULT_OUTDIR
    app, stacks = build_app(outdir=outdir, env=environment_from_cli())
    assembly = app.synth()
    names = ", ".join(stack.stack_name for stack in stacks)
    elapsed = time.perf_counter() - started
    print(f"synthesized {names} into {assembly.directory} in {elapsed:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
