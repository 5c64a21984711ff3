# ruff: noqa
"""Bad input: a directory without __init__.py."""
