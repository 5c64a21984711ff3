# ruff: noqa
"""Bad input: bad expect letter."""

MINE = scenario("mine", "X", [write("P", 0, "a")], procs=("P",),
                expect="H H H H H H X")
