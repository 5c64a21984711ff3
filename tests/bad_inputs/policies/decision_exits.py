# ruff: noqa
"""Bad input: decision exits."""

import sys


def reuse(world, frame):
    sys.exit(0)


MINE = get_policy("E6").replace(name="mine", wp_reuse=reuse)
