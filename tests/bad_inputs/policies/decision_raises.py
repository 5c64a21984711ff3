# ruff: noqa
"""Bad input: decision raises."""

def reuse(world, frame):
    return world.frames[frame].no_such_field


MINE = get_policy("E6").replace(name="mine", wp_reuse=reuse)
