# ruff: noqa
"""Bad input: exit at import."""

import sys

sys.exit(0)
