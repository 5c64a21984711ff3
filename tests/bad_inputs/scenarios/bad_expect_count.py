# ruff: noqa
"""Bad input: bad expect count."""

MINE = scenario("mine", "X", [write("P", 0, "a")], procs=("P",), expect="H H")
