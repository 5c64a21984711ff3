# ruff: noqa
"""Bad input: zero frames."""

MINE = scenario("mine", "no frame", [write("P", 0, "a")], procs=("P",), frames=0)
