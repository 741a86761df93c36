"""``python -m bench.firehose``."""

import sys

from bench.firehose.cli import main

sys.exit(main())
