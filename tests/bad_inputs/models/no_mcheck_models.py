# ruff: noqa
"""Bad input: no mcheck models."""

X = 1
