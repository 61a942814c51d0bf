"""`python -m meterbill.cli …`: the `meterbill` command of this very copy."""

import sys

from meterbill.cli import main

sys.exit(main())
