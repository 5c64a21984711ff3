# ruff: noqa
"""Bad input: swapout unknown process."""

MINE = scenario("mine", "swap X", [
    write("P", 0, "a"), swapout("reclaim", "X", 0),
], procs=("P",), threads={"reclaim": "P"})
