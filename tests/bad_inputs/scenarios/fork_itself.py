# ruff: noqa
"""Bad input: fork itself."""

MINE = scenario("mine", "fork into itself", [write("P", 0, "a"), fork("P", "P")],
                procs=("P",))
