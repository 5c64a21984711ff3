# ruff: noqa
"""Bad input: exits."""

import sys

sys.exit(0)
