"""The scenario x policy matrix: every expected verdict and every pinned state count.

The expected verdicts come from the catalogue (docs/scenarios.md: the historical
matrix, cow.c, own
rows marked "own"); the state and transition counts are pinned in
baselines/cow.json (their one home, read here) so that any semantic drift of
the model shows up as a reviewed diff.  A count that changes must be
explained in the commit that changes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest

from mcheck import Verdict, check
from models.cow import mcheck_models
from models.cow.catalogue import CATALOGUE, SCENARIOS
from models.cow.policy import CONTROLS
from models.cow.scenario import ERA_ORDER

BASELINE = Path(__file__).resolve().parents[2] / "baselines" / "cow.json"


def _pinned() -> MappingProxyType:
    """Every cell's (states, transitions), from the committed baseline: their one home.

    ``mcheck compare models/cow --policies all --baseline baselines/cow.json
    --update-baseline`` rewrites it, and tests/cow/test_compare.py checks that it
    is current, so a count that changes shows up as a reviewed diff of that file.
    """
    cells = json.loads(BASELINE.read_text())["cells"]
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for c in cells:
        out.setdefault(c["column"], {})[c["row"]] = (c["states"], c["transitions"])
    return MappingProxyType({k: MappingProxyType(v) for k, v in out.items()})


PINNED = _pinned()


def cell_verdict(result) -> str:
    """The matrix letter: M over W over U over H; '?' when a bound stopped the search."""
    props = result.properties
    if props["missed_cow"].verdict is Verdict.VIOLATED:
        return "M"
    if props["wrong_cow"].verdict is Verdict.VIOLATED:
        return "W"
    if not result.exhausted:
        return "?"
    if props["unnecessary_cow"].count:
        return "U"
    return "H"


def run(policy: str, scenario: str):
    [m] = mcheck_models({"policy": policy, "scenario": scenario})
    return check(m, stop_at_first=False, deadlock=True)


CELLS = [(s.name, pol) for s in CATALOGUE
         for pol in list(ERA_ORDER) + [k for k in s.expect if k not in ERA_ORDER]]


@pytest.mark.parametrize(("scenario", "policy"), CELLS)
def test_cell(scenario: str, policy: str) -> None:
    r = run(policy, scenario)
    assert (r.states, r.transitions) == PINNED[scenario][policy]
    assert r.properties["deadlock"].verdict is not Verdict.VIOLATED, "a thread got stuck"
    expected = SCENARIOS[scenario].expect.get(policy)
    got = cell_verdict(r)
    if expected is not None:
        assert got == expected, f"{scenario} under {policy}: {got}, expected {expected}"
    control = policy in {c.name for c in CONTROLS}
    if not control:
        err = r.properties["model_error"]
        assert err.verdict is Verdict.HOLDS, err.message


def test_pinned_table_covers_the_catalogue() -> None:
    assert set(PINNED) == set(SCENARIOS)
    assert all(policy in PINNED[scenario] for scenario, policy in CELLS)


def test_the_fixed_era_holds_everywhere_and_every_older_era_fails_somewhere() -> None:
    letters = {era: {s.name: cell_verdict(run(era, s.name)) for s in CATALOGUE}
               for era in ERA_ORDER}
    # E6 holds everywhere but in X24, the R/W FOLL_GET across fork that open(2) documents,
    # and S03h, hugetlb's mapcount reuse (a known kernel limitation: cow.c xfail).
    assert {s for s, x in letters["E6"].items() if x != "H"} == {"X24", "S03h"}
    for era in ERA_ORDER[:-1]:
        assert {"M", "W"} & set(letters[era].values()), era
