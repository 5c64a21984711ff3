# ruff: noqa
"""Bad input: child before fork."""

MINE = scenario("mine", "child acts first", [
    write("P", 0, "a"), read("C", 0), fork("P", "C"),
], procs=("P", "C"))
