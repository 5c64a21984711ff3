"""The policy x scenario matrix for ``mcheck compare models/cow``.

Rows are policies (eras, proposals, variants; controls and ``path.py:NAME``
user policies when named), columns are scenarios of the catalogue (or
``path.py:NAME``).  A cell is a ``CowModel`` checked to the end and
classified as in ``tests/cow/test_matrix.py``: M (missed COW) over W (wrong
COW) over U (correct data, but some do_wp_page copy was unnecessary) over H
(held); "?" when a bound stopped the search before it found a failure.
The expected letter is the scenario's ``expect`` entry for the policy's
name, so a user policy that keeps an era's name is held to that era's
expectations (and a mismatch shows).
"""

from __future__ import annotations

import argparse
from typing import Any

from mcheck import Result, Verdict
from mcheck.compare import Matrix

from .catalogue import CATALOGUE
from .model import CowModel
from .policy import CONTROLS, ERAS, POLICIES, PROPOSALS, VARIANTS, Policy
from .scenario import Scenario

__all__ = ["DEFAULT_POLICIES", "LETTERS", "classify", "mcheck_matrix",
           "mcheck_matrix_arguments"]

DEFAULT_POLICIES = tuple(p.name for p in ERAS + PROPOSALS + VARIANTS)

#: letter -> (verdict phrase, rank); rank None: undetermined.
LETTERS = {
    "H": ("held", 0),
    "U": ("unnecessary COW", 1),
    "W": ("wrong COW", 2),
    "M": ("missed COW", 3),
    "?": ("undetermined", None),
}


def mcheck_matrix_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``mcheck compare models/cow``."""
    parser.add_argument("--policies", default=None, metavar="A,B,...",
                        help="policies (rows): names, versions (5.10) or path.py:NAME; 'all'"
                             " for every named policy including the broken controls (default:"
                             " " + " ".join(DEFAULT_POLICIES) + ")")
    parser.add_argument("--scenarios", default=None, metavar="S1,S2,...",
                        help="scenarios (columns): catalogue names or path.py:NAME (default:"
                             " the whole catalogue)")
    parser.add_argument("--bias", type=int, default=8,
                        help="GUP_PIN_COUNTING_BIAS in the model (default 8)")
    parser.add_argument("--spurious-trylock", action="store_true",
                        help="let trylock_page fail at will, not only under reclaim")


def classify(result: Result) -> dict[str, Any]:
    """A checked cell as the matrix shows it (see the module docstring)."""
    props = result.properties
    if props["missed_cow"].verdict is Verdict.VIOLATED:
        letter, message = "M", props["missed_cow"].message
    elif props["wrong_cow"].verdict is Verdict.VIOLATED:
        letter, message = "W", props["wrong_cow"].message
    elif not result.exhausted:
        letter, message = "?", f"stopped by {result.stopped_by} after {result.states} states"
    elif props["unnecessary_cow"].count:
        letter, message = "U", props["unnecessary_cow"].message
    else:
        letter, message = "H", ""
    verdict, rank = LETTERS[letter]
    unnecessary = props["unnecessary_cow"].count
    model_error = props["model_error"].verdict is Verdict.VIOLATED
    deadlock = "deadlock" in props and props["deadlock"].verdict is Verdict.VIOLATED
    detail = (str(unnecessary) if unnecessary else "") + ("e" if model_error else "") + \
        ("d" if deadlock else "")
    return {
        "letter": letter, "verdict": verdict, "rank": rank, "failure": letter in "MW",
        "counts": {"unnecessary_cow": unnecessary, "model_error": int(model_error),
                   "deadlock": int(deadlock)},
        "detail": detail, "message": message,
    }


def _split(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def mcheck_matrix(options: dict[str, Any]) -> Matrix:
    """The matrix the options name (see :func:`mcheck_matrix_arguments`)."""
    from . import resolve_policy, resolve_scenario

    given = options.get("bias")
    bias = 8 if given is None else int(given)
    if bias < 2:
        raise ValueError(f"--bias {bias} is impossible: give at least 2")
    spurious = bool(options.get("spurious_trylock"))
    policies: dict[str, tuple[str, Policy]] = {}

    def add_policy(ref: str) -> str:
        pol = resolve_policy(ref)
        if pol.name in policies and policies[pol.name][1] is not pol:
            raise ValueError(f"two policies are named {pol.name!r} ({policies[pol.name][0]} and"
                             f" {ref}); give one a new name with .replace(name=...)")
        policies.setdefault(pol.name, (ref, pol))
        return pol.name

    refs = _split(options.get("policies"))
    if refs == ["all"]:
        refs = list(POLICIES)
    rows = [add_policy(r) for r in (refs or DEFAULT_POLICIES)]
    rows = list(dict.fromkeys(rows))
    scenarios: dict[str, tuple[str, Scenario]] = {}
    for ref in _split(options.get("scenarios")) or [s.name for s in CATALOGUE]:
        s = resolve_scenario(ref)
        if s.name in scenarios and scenarios[s.name][1] is not s:
            raise ValueError(f"two scenarios are named {s.name!r}")
        scenarios.setdefault(s.name, (ref, s))

    def build(row: str, column: str) -> CowModel:
        pref, pol = policies[row]
        sref, scen = scenarios[column]
        return CowModel(scen, pol, bias=bias, spurious_trylock=spurious, policy_ref=pref,
                        scenario_ref=sref)

    def expect(row: str, column: str) -> str | None:
        return scenarios[column][1].expect.get(row)

    def lookup(ref: str) -> str | None:
        return add_policy(ref)

    controls = {c.name for c in CONTROLS}
    kernels = "; ".join(f"{name} {pol.kernels}" for name, (_r, pol) in policies.items()
                        if name in rows and name not in controls)
    legend = [
        "H held; U correct, but some do_wp_page copy was unnecessary (the number after U:"
        " how many reachable copies); W wrong COW (a process's own data or pin went stale);"
        " M missed COW (data leaked between processes); ? undetermined (a bound stopped the"
        " search).",
        "e: the kernel's accounting invariants failed (model_error); d: a thread got stuck"
        " (deadlock).",
        f"Policies: {kernels}." + (" Broken controls: " + ", ".join(
            r for r in rows if r in controls) + "." if controls & set(rows) else ""),
    ]
    return Matrix(name="cow", rows=rows, columns=list(scenarios), build=build,
                  classify=classify, expect=expect, lookup=lookup, row_title="policy",
                  column_title="scenario", legend=legend, deadlock=True)
