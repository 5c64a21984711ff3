"""mcheck: an explicit-state model checker (engine half; no kernel words here)."""

from mcheck.explore import Bounds, Path, PropertyResult, Result, Verdict, check
from mcheck.model import Action, Kind, Model, Property, State, invariant, metric, transition

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Bounds",
    "Kind",
    "Model",
    "Path",
    "Property",
    "PropertyResult",
    "Result",
    "State",
    "Verdict",
    "__version__",
    "check",
    "invariant",
    "metric",
    "transition",
]
