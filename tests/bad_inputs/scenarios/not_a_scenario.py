# ruff: noqa
"""Bad input: not a scenario."""

MINE = get_policy("E6")
