# ruff: noqa
"""Bad input: negative slots."""

MINE = scenario("mine", "slots", [write("P", 0, "a")], procs=("P",), slots=-1)
