# ruff: noqa
"""Bad input: not a policy."""

MINE = 42
