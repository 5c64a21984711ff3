# ruff: noqa
"""Bad input: page minus one."""

MINE = scenario("mine", "page -1", [write("P", -1, "a")], procs=("P",))
