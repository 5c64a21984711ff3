# ruff: noqa
"""Bad input: duplicate procs."""

MINE = scenario("mine", "P twice", [write("P", 0, "a")], procs=("P", "P"))
