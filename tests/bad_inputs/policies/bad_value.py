# ruff: noqa
"""Bad input: bad value."""

MINE = get_policy("E6").replace(name="mine", mprotect_upgrade="sometimes")
