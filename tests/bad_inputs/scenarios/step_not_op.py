# ruff: noqa
"""Bad input: step not op."""

MINE = scenario("mine", "a string", [write("P", 0, "a"), "fork"], procs=("P",))
