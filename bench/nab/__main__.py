"""``python -m bench.nab``: the same as ``opsrules bench nab``."""

import sys

from bench.nab.cli import main

sys.exit(main())
