# ruff: noqa
"""Bad input: handle before pin."""

MINE = scenario("mine", "read before pin", [
    write("P", 0, "a"), dma_read("P", "buf"), pin("P", 0, "buf"),
], procs=("P",))
