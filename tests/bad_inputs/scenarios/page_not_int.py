# ruff: noqa
"""Bad input: page not int."""

MINE = scenario("mine", "page a string", [write("P", "0", "a")], procs=("P",))
