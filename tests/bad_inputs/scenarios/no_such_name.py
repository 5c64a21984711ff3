# ruff: noqa
"""Bad input: no such name."""

OTHER = scenario("other", "x", [write("P", 0, "a")], procs=("P",))
