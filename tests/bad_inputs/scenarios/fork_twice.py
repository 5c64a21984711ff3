# ruff: noqa
"""Bad input: fork twice."""

MINE = scenario("mine", "two forks", [
    write("P", 0, "a"), fork("P", "C"), fork("P", "C"),
], procs=("P", "C"))
