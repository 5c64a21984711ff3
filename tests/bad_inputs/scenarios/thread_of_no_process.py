# ruff: noqa
"""Bad input: thread of no process."""

MINE = scenario("mine", "who is Q", [write("Q", 0, "a")], procs=("P",))
