# ruff: noqa
"""Bad input: handle in same race."""

MINE = scenario("mine", "pin races its use", [
    write("P", 0, "a"), race(pin("P", 0, "buf"), dma_write("P.dev", "buf", "b")),
], procs=("P",))
