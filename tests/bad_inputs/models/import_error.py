# ruff: noqa
"""Bad input: import error."""

import no_such_module_of_mcheck  # noqa: F401
