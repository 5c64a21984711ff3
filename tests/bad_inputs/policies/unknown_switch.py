# ruff: noqa
"""Bad input: unknown switch."""

MINE = get_policy("E6").replace(name="mine", wp_reus="mapcount")
