# ruff: noqa
"""Bad input: zero pages."""

MINE = scenario("mine", "no page", [write("P", 0, "a")], procs=("P",), pages=0)
