# ruff: noqa
"""Bad input: fork unknown child."""

MINE = scenario("mine", "fork of X", [write("P", 0, "a"), fork("P", "X")],
                procs=("P", "C"))
