# ruff: noqa
"""Bad input: models not callable."""

mcheck_models = [1]
