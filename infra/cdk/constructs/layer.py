"""The ``meterbill`` layer: the shared package and its runtime dependencies, for Python 3.12 on arm64.

Bundled locally, never in Docker: ``PipLayerBundling.try_bundle`` writes what ``infra.cdk.layer_build``
prepared (pip-installed wheels for the Lambda platform, cached under ``.cache/layer-wheels/``) plus the
package. The asset hash is the contents' fingerprint, so CDK re-bundles only when a dependency or a file of
``meterbill`` changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.cdk.layer_build import LayerContents

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """Writes the layer's ``python/`` folder into CDK's bundling output directory."""

    def __init__(self, contents: LayerContents) -> None:
        self.contents = contents

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        self.contents.write(Path(output_dir))
        return True


class MeterbillLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, contents: LayerContents) -> None:
        super().__init__(scope, construct_id)
        self.contents = contents
        self.layer_version = lambda_.LayerVersion(
            self,
            "LayerVersion",
            code=lambda_.Code.from_asset(
                str(contents.package.parent),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=contents.fingerprint(),
                bundling=BundlingOptions(
                    # Never pulled: local bundling always succeeds or raises. It names the platform built for.
                    image=RUNTIME.bundling_image,
                    # jsii.implements makes it an ILocalBundling; mypy cannot see that.
                    local=cast(ILocalBundling, PipLayerBundling(contents)),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="meterbill and its runtime dependencies (Python 3.12, arm64)",
        )
