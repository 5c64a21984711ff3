# ruff: noqa
"""Bad input: raises at import."""

raise RuntimeError("broken at import")
