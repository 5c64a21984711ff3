# ruff: noqa
"""Bad input: exit 3 at import."""

import sys

sys.exit(3)
