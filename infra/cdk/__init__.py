"""The CDK app that deploys meterbill to AWS: one construct per concern (``constructs/``), composed by
``stack.MeterbillStack`` for a stage (``stages``), synthesized by ``app``.

Run it from the repository root as a module (``python -m infra.cdk.app``): the folder ``constructs/`` here
would shadow the ``constructs`` library if this folder were first on ``sys.path``.
"""

import os

# Node 20 (this project's machines) makes jsii print a large end-of-life banner on every start; the value
# names the version silenced, so a newer Node still shows its own warnings.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
