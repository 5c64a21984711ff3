"""``python -m mcheck``: the same as the ``mcheck`` command."""

import sys

from mcheck.cli.main import main

sys.exit(main())
