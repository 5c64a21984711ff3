# ruff: noqa
"""Bad input: empty program."""

MINE = scenario("mine", "nothing", [], procs=("P",))
