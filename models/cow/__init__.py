"""mcheck's model of Linux anonymous-memory COW and GUP pinning.

Loaded by path (``mcheck check models/cow ...``).  Flags: ``--policy NAME``
(an era E1..E6, a version such as 5.10, a proposal, a broken control, or
``path.py:NAME`` for your own; ``path.py`` alone takes the file's only
Policy), ``--scenario NAME`` (or ``path.py:NAME``; without it every scenario
of the catalogue runs), ``--bias N``,
``--spurious-trylock``.  With ``--budget`` (``mcheck explore``) threads pick
their operations from a budget instead of running a scenario: see open.py.

A user's policy file needs no imports: it finds ``get_policy``, ``Policy``
and the scenario builders (``scenario``, ``write``, ``fork``, ``pin``, ...)
already defined, and starts from a named policy::

    MINE = get_policy("E6").replace(name="mine", mprotect_upgrade="mapcount")

    def my_reuse(world, frame):          # a decision function
        return world.frames[frame].map == 1
    MAPCOUNT_REUSE = get_policy("E4").replace(name="mapcount-reuse", wp_reuse=my_reuse)

A scenario file the same way::

    MINE = scenario("mine", "pin, fork, write", [
        write("P", 0, "a"), pin("P", 0, "buf"), fork("P", "C"), write("P", 0, "b"),
    ], procs=("P", "C"))
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib.util
import os
import sys
from typing import Any

from . import scenario as _dsl
from .catalogue import CATALOGUE, SCENARIOS, get_scenario
from .matrix import mcheck_matrix, mcheck_matrix_arguments
from .model import CowModel
from .open import BUDGET_KINDS, GUP_MODES, OpenCowModel, parse_budget
from .policy import (
    ALIASES,
    GUP_FAST_RO,
    GUP_UNSHARE,
    MPROTECT,
    POLICIES,
    SWAPIN_REUSE,
    SWITCHES,
    WP_REUSE,
    Policy,
    get_policy,
)
from .scenario import Scenario, validate

__all__ = ["CowModel", "OpenCowModel", "Policy", "Scenario", "POLICIES", "SCENARIOS",
           "CATALOGUE", "get_policy", "get_scenario", "resolve_policy", "resolve_scenario",
           "mcheck_arguments", "mcheck_conform", "mcheck_list", "mcheck_matrix",
           "mcheck_matrix_arguments", "mcheck_models", "mcheck_reproduce", "switch_values"]

_USER_NAMES: dict[str, Any] = {
    "get_policy": get_policy, "Policy": Policy, "Scenario": Scenario,
    **{name: getattr(_dsl, name) for name in _dsl.__all__},
}


def _load_object(ref: str, kind: type, what: str) -> Any:
    """The object ``NAME`` of ``path.py:NAME``; for ``path.py`` alone, the file's only ``kind``.

    Objects the file took from the catalogue as they are (``BASE = get_policy("E6")``)
    are not the file's own and do not count.
    """
    if ref.endswith(".py"):
        path, name = ref, ""
    else:
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
    mod.__dict__.update(_USER_NAMES)
    try:
        spec.loader.exec_module(mod)
    except SystemExit as e:
        call = "sys.exit()" if e.code is None else f"sys.exit({e.code!r})"
        raise ValueError(f"{what} file {path} called {call} while loading; a {what} file "
                         "must not exit: raise an exception instead") from None
    except ValueError as e:
        raise ValueError(f"{what} file {path}: {e}") from None
    except Exception as e:  # a user's file: report, don't crash
        raise ValueError(f"{what} file {path} failed to load: {type(e).__name__}: {e}"
                         ) from None
    if not name:
        known = {id(v) for v in (*POLICIES.values(), *SCENARIOS.values())}
        own = sorted(k for k, v in vars(mod).items()
                     if isinstance(v, kind) and id(v) not in known and not k.startswith("_"))
        if len(own) != 1:
            found = f"{len(own)} ({', '.join(own)})" if own else "none"
            raise ValueError(f"{what} file {path} defines {found} {kind.__name__} objects of "
                             f"its own; name one: {path}:NAME")
        name = own[0]
    obj = getattr(mod, name, None)
    if obj is None:
        raise ValueError(f"{what} file {path} defines no {name!r}")
    if not isinstance(obj, kind):
        raise ValueError(f"{path}:{name} is a {type(obj).__name__}, not a {kind.__name__}")
    return obj


def _is_path_ref(ref: str) -> bool:
    return ref.endswith(".py") or (":" in ref and ref.rpartition(":")[0].endswith(".py"))


def _did_you_mean(ref: str, names: list[str]) -> str:
    """`` (did you mean 'E6'?)`` for a name that differs in case or a little; else ''."""
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(ref.lower(), list(by_lower), n=1, cutoff=0.75)
    if ref.lower() in by_lower:
        close = [ref.lower()]
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def resolve_policy(ref: str) -> Policy:
    """A named policy, a version alias, path.py:NAME, or path.py with one Policy of its own."""
    if _is_path_ref(ref):
        pol = _load_object(ref, Policy, "policy")
        pol.validate()
        return pol
    try:
        return get_policy(ref)
    except ValueError as e:
        hint = _did_you_mean(ref, [*POLICIES, *ALIASES])
        if not hint:
            raise
        raise ValueError(str(e).replace(f"{ref!r};", f"{ref!r}{hint};", 1)) from None


def resolve_scenario(ref: str) -> Scenario:
    """A catalogue scenario, path.py:NAME, or path.py with one Scenario of its own."""
    if _is_path_ref(ref):
        s = _load_object(ref, Scenario, "scenario")
        validate(s)
        return s
    try:
        return get_scenario(ref)
    except ValueError as e:
        hint = _did_you_mean(ref, list(SCENARIOS))
        if not hint:
            raise
        raise ValueError(str(e).replace(f"{ref!r};", f"{ref!r}{hint};", 1)) from None


def switch_values() -> dict[str, tuple[str, ...]]:
    """Each policy switch and the values it allows (``a function`` where one is allowed)."""
    choices = {"wp_reuse": WP_REUSE, "swapin_reuse": SWAPIN_REUSE, "gup_unshare": GUP_UNSHARE,
               "gup_fast_ro": GUP_FAST_RO, "mprotect_upgrade": MPROTECT}
    types = {f.name: str(f.type) for f in dataclasses.fields(Policy)}
    out: dict[str, tuple[str, ...]] = {}
    for name in SWITCHES:
        if name in choices:
            fn = ("a function",) if "Callable" in types[name] else ()
            out[name] = (*choices[name], *fn)
        elif types[name] == "bool":
            out[name] = ("True", "False")
        else:  # pragma: no cover - a new kind of switch must say its values here
            raise AssertionError(f"switch {name} has no list of values")
    return out


def mcheck_list(argv: list[str], prog: str) -> int:
    """``mcheck list models/cow``: policies, scenarios, switches, budget kinds and GUP modes."""
    parser = argparse.ArgumentParser(prog=prog, add_help=False, allow_abbrev=False,
                                     description="List the COW model's named policies with "
                                                 "their kernels, its scenarios with their "
                                                 "titles, the policy switches with their "
                                                 "allowed values, and the budget kinds.")
    parser.add_argument("-h", "--help", action="store_true", help="show this help")
    args, rest = parser.parse_known_args(argv)
    if rest:
        raise ValueError(f"unknown argument {rest[0]!r}: `mcheck list models/cow` takes none")
    w = sys.stdout.write
    if args.help:
        w(parser.format_help())
        return 0
    width = max(len(n) for n in POLICIES)
    kwidth = 16  # the few longer kernel ranges overflow the column
    w("policies (--policy NAME, a version, or path.py[:NAME]):\n")
    for name, pol in POLICIES.items():
        w(f"  {name.ljust(width)}  {pol.kernels.ljust(kwidth)}  {pol.summary}\n")
    versions: dict[str, list[str]] = {}
    for version, name in ALIASES.items():
        versions.setdefault(name, []).append(version)
    w("versions (--policy VERSION): " + "; ".join(
        f"{', '.join(vs)} = {name}" for name, vs in versions.items()) + "\n")
    swidth = max(len(n) for n in SCENARIOS)
    w("\nscenarios (--scenario NAME, or path.py[:NAME]; without it every one runs):\n")
    for name, scen in SCENARIOS.items():
        w(f"  {name.ljust(swidth)}  {scen.title}\n")
    values = switch_values()
    vwidth = max(len(n) for n in values)
    w("\nswitches (get_policy(NAME).replace(SWITCH=VALUE, ...) in a policy file):\n")
    for name, allowed in values.items():
        w(f"  {name.ljust(vwidth)}  {' | '.join(allowed)}\n")
    w("\nbudget kinds (mcheck explore models/cow --budget KIND=N,...): "
      f"{', '.join(BUDGET_KINDS)}\n")
    w(f"GUP modes (--gup-modes, --pin-modes, --get-modes): {GUP_MODES}\n")
    w("a race between two threads of one process (fork against GUP-fast) needs --threads 2\n")
    return 0


def mcheck_arguments(parser: argparse.ArgumentParser) -> None:
    """The model's own flags (mcheck adds them to its command line)."""
    parser.add_argument("--policy", default="E6",
                        help="era (E1 E2 E3t E3 E4 E5 E6), version (5.10), proposal, control,"
                             " path.py:NAME, or path.py with one Policy (default E6; `mcheck "
                             "list models/cow` lists them)")
    parser.add_argument("--scenario", default=None,
                        help="scenario name or path.py:NAME (default: the whole catalogue)")
    parser.add_argument("--bias", type=int, default=None,
                        help="GUP_PIN_COUNTING_BIAS in the model (default 8)")
    parser.add_argument("--spurious-trylock", action="store_true",
                        help="let trylock_page fail at will, not only under reclaim")
    parser.add_argument("--alloc-lowest", action="store_true",
                        help="broken control: the page allocator takes the lowest-numbered free "
                             "frame (not symmetric: --symmetry on refuses it with a witness)")
    parser.add_argument("--budget", default=None,
                        help="open search instead of a scenario: operations per kind, e.g. "
                             "fork=1,pin=1,write=2 (kinds: " + ", ".join(BUDGET_KINDS) + ")")
    parser.add_argument("--procs", type=int, default=None,
                        help="open search: process slots, the first alive (default 2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="open search: threads per process (default 1). A race between "
                             "two threads of one process, such as fork against GUP-fast "
                             "(fork_seqcount), needs --threads 2: with 1, `--budget "
                             "fork=1,pin=1,write=2` HOLDS for E6 with fork_seqcount=False")
    parser.add_argument("--pages", type=int, default=None,
                        help="open search: pages per process (default 1)")
    parser.add_argument("--frames", type=int, default=None,
                        help="open search: physical frames (default 3)")
    parser.add_argument("--slots", type=int, default=None,
                        help="open search: swap slots (default 1)")
    parser.add_argument("--gup-modes", default=None,
                        help=f"open search: which pins and gets threads may take (default "
                             f"{GUP_MODES})")
    parser.add_argument("--pin-modes", default=None,
                        help="open search: the GUP modes pins may take (default: --gup-modes)")
    parser.add_argument("--get-modes", default=None,
                        help="open search: the GUP modes gets may take (default: --gup-modes),"
                             " e.g. ro-slow,ro-fast to leave out the R/W FOLL_GET across fork"
                             " of open(2)")


#: Open-search sizes: (option key, default, least value).
_SIZES = (("procs", 2, 1), ("threads", 1, 1), ("pages", 1, 1), ("frames", 3, 1), ("slots", 1, 0))


def _whole(options: dict[str, Any], key: str, default: int, least: int) -> int:
    """``options[key]`` as a whole number of at least ``least`` (ValueError otherwise)."""
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"--{key.replace('_', '-')} must be a whole number, got {value!r}")
    if value < least:
        raise ValueError(f"--{key.replace('_', '-')} {value} is impossible: give at least "
                         f"{least}")
    return value


def _text(options: dict[str, Any], key: str, default: str | None) -> str | None:
    """``options[key]`` as given (an empty one is refused downstream), or ``default``."""
    value = options.get(key)
    return default if value is None else str(value)


def mcheck_models(options: dict[str, Any]) -> list[CowModel | OpenCowModel]:
    """The models the options name: one per scenario, or one open-search model.

    Impossible sizes (``--frames 0``, ``--bias 1``, ...) and open-search flags
    given without ``--budget`` are refused with a ValueError, never replaced
    by a default.
    """
    policy_ref = options.get("policy") or "E6"
    pol = resolve_policy(policy_ref)
    bias = _whole(options, "bias", 8, 2)
    spurious = bool(options.get("spurious_trylock"))
    lowest = bool(options.get("alloc_lowest"))
    budget = options.get("budget")
    if budget is not None and not str(budget).strip():
        raise ValueError("--budget is empty: give operations per kind, e.g. --budget "
                         "fork=1,pin=1,write=2")
    if budget:
        if options.get("scenario"):
            raise ValueError("--budget and --scenario exclude each other: open search runs"
                             " no scenario")
        sizes = {key: _whole(options, key, default, least) for key, default, least in _SIZES}
        return [OpenCowModel(pol, parse_budget(str(budget)), **sizes,
                             bias=bias, spurious_trylock=spurious, policy_ref=policy_ref,
                             alloc_lowest=lowest,
                             gup_modes=_text(options, "gup_modes", GUP_MODES),
                             pin_modes=_text(options, "pin_modes", None),
                             get_modes=_text(options, "get_modes", None))]
    given = [f"--{key}" for key, _d, _l in _SIZES if options.get(key) is not None]
    given += [f"--{key.replace('_', '-')}" for key in ("gup_modes", "pin_modes", "get_modes")
              if options.get(key) is not None]
    if given:
        raise ValueError(f"{', '.join(given)} only applies to open search: use `mcheck explore "
                         "models/cow --budget KIND=N,...` (a scenario sets its own sizes)")
    sref = options.get("scenario")
    if sref is not None and not str(sref).strip():
        raise ValueError("--scenario is empty: give a scenario name or path.py:NAME")
    if sref:
        scens = [(resolve_scenario(sref), sref)]
    else:
        scens = [(s, s.name) for s in CATALOGUE]
    return [CowModel(s, pol, bias=bias, spurious_trylock=spurious, policy_ref=policy_ref,
                     alloc_lowest=lowest,
                     scenario_ref=ref) for s, ref in scens]


def mcheck_reproduce(argv: list[str], prog: str) -> int:
    """``mcheck reproduce models/cow ...``: a C reproducer of a scenario or a trace."""
    from .reproduce import main

    return main(argv, prog)


def mcheck_conform(argv: list[str], prog: str) -> int:
    """``mcheck conform models/cow ...``: the reproducers against this kernel."""
    from .conform import main

    return main(argv, prog)


def mcheck_report(argv: list[str], prog: str) -> int:
    """``mcheck report models/cow seed -o docs/seed-2021.md``: the designs of the seed judged."""
    from .seed import main

    return main(argv, prog)
