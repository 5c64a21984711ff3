# ruff: noqa
"""Bad input: returns class."""

from mcheck import Model, invariant


class M(Model):
    name = "bad"

    def initial_states(self):
        return [0]

    def actions(self, s):
        return [("T", 1)] if s < 3 else []

    def step(self, s, a):
        return s + 1

    def properties(self):
        return [invariant("small", lambda s: s < 10)]


def mcheck_models(options):
    return [M]
