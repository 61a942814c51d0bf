"""``python -m meterbill_collector`` is ``meterbill-collector``."""

import sys

from meterbill_collector.cli import main

sys.exit(main())
