# ruff: noqa
"""Bad input: page out of range."""

MINE = scenario("mine", "page 1 of 1", [write("P", 0, "a"), read("P", 1)],
                procs=("P",))
