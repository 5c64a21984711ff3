# ruff: noqa
"""Bad input: direct zero frames."""

MINE = Scenario("mine", "built by hand", ("P",), (("P", 0),),
                (((Op("write", "P", (0, "a")),)),), (), ("a",), 1, 0, 1)
