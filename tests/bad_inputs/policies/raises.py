# ruff: noqa
"""Bad input: raises."""

raise RuntimeError("policy file broken")
