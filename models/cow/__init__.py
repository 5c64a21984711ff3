"""mcheck's model of Linux anonymous-memory COW and GUP pinning.

Loaded by path (``mcheck check models/cow ...``).  Flags: ``--policy NAME``
(an era E1..E6, a version such as 5.10, a proposal, a broken control, or
``path.py:NAME`` for your own), ``--scenario NAME`` (or ``path.py:NAME``;
without it every scenario of the catalogue runs), ``--bias N``,
``--spurious-trylock``.

A user policy file defines a ``Policy`` by starting from a named one::

    from models.cow.policy import get_policy
    MINE = get_policy("E6").replace(mprotect_upgrade="mapcount")

and a user scenario file a ``Scenario`` with ``models.cow.scenario.scenario``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(os.path.dirname(_HERE))
if _ROOT not in sys.path:  # so that "models.cow.*" resolves when loaded by path
    sys.path.insert(0, _ROOT)

from models.cow.catalogue import CATALOGUE, SCENARIOS, get_scenario  # noqa: E402
from models.cow.model import CowModel  # noqa: E402
from models.cow.policy import POLICIES, Policy, get_policy  # noqa: E402
from models.cow.scenario import Scenario  # noqa: E402

__all__ = ["CowModel", "Policy", "Scenario", "POLICIES", "SCENARIOS", "CATALOGUE",
           "get_policy", "get_scenario", "resolve_policy", "resolve_scenario",
           "mcheck_arguments", "mcheck_models"]


def _load_object(ref: str, kind: type, what: str) -> Any:
    path, _, name = ref.rpartition(":")
    if not path or not name:
        raise ValueError(f"{what} {ref!r}: write path.py:NAME")
    if not os.path.isfile(path):
        raise ValueError(f"{what} file {path!r} not found; give an existing path.py:NAME")
    mod_name = "_mcheck_cow_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{what} file {path!r} is not a Python file")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ValueError as e:
        raise ValueError(f"{what} file {path}: {e}") from None
    except Exception as e:  # a user's file: report, don't crash
        raise ValueError(f"{what} file {path} failed to load: {type(e).__name__}: {e}"
                         ) from None
    obj = getattr(mod, name, None)
    if obj is None:
        raise ValueError(f"{what} file {path} defines no {name!r}")
    if not isinstance(obj, kind):
        raise ValueError(f"{path}:{name} is a {type(obj).__name__}, not a {kind.__name__}")
    return obj


def resolve_policy(ref: str) -> Policy:
    """A named policy, a version alias, or path.py:NAME."""
    if ":" in ref and ref.split(":")[0].endswith(".py"):
        pol = _load_object(ref, Policy, "policy")
        pol.validate()
        return pol
    return get_policy(ref)


def resolve_scenario(ref: str) -> Scenario:
    if ":" in ref and ref.split(":")[0].endswith(".py"):
        return _load_object(ref, Scenario, "scenario")
    return get_scenario(ref)


def mcheck_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default="E6",
                        help="era (E1 E2 E3t E3 E4 E5 E6), version (5.10), proposal, control,"
                             " or path.py:NAME (default E6)")
    parser.add_argument("--scenario", default=None,
                        help="scenario name or path.py:NAME (default: the whole catalogue)")
    parser.add_argument("--bias", type=int, default=8,
                        help="GUP_PIN_COUNTING_BIAS in the model (default 8)")
    parser.add_argument("--spurious-trylock", action="store_true",
                        help="let trylock_page fail at will, not only under reclaim")


def mcheck_models(options: dict[str, Any]) -> list[CowModel]:
    policy_ref = options.get("policy") or "E6"
    pol = resolve_policy(policy_ref)
    bias = int(options.get("bias") or 8)
    if bias < 2:
        raise ValueError("--bias must be at least 2")
    spurious = bool(options.get("spurious_trylock"))
    sref = options.get("scenario")
    if sref:
        scens = [(resolve_scenario(sref), sref)]
    else:
        scens = [(s, s.name) for s in CATALOGUE]
    return [CowModel(s, pol, bias=bias, spurious_trylock=spurious, policy_ref=policy_ref,
                     scenario_ref=ref) for s, ref in scens]
