# ruff: noqa
"""Bad input: handle never pinned."""

MINE = scenario("mine", "unpin unknown", [write("P", 0, "a"), unpin("P", "buf")],
                procs=("P",))
