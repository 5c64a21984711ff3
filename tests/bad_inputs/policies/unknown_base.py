# ruff: noqa
"""Bad input: unknown base."""

MINE = get_policy("E9").replace(name="mine")
