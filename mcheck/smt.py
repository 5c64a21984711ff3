"""The symmetry prover under its former name: see :mod:`mcheck.proof`.

Kept so that ``import mcheck.smt`` and ``from mcheck.smt import certify``
go on working; new code imports :mod:`mcheck.proof`.  Importing it does not
import z3.
"""

from mcheck.proof import *  # noqa: F403 (the whole public API, under the old name)
from mcheck.proof import __all__  # noqa: F401
