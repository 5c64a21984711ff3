# ruff: noqa
"""Bad input: empty race."""

MINE = scenario("mine", "race()", [write("P", 0, "a"), race()], procs=("P",))
