# ruff: noqa
"""Bad input: good."""

MINE = get_policy("E6").replace(name="mine", mprotect_upgrade="mapcount")
