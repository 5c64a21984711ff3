"""The scenario x policy matrix: every expected verdict and every pinned state count.

The expected verdicts come from the catalogue (docs/scenarios.md: the historical
matrix, cow.c, own
rows marked "own"); the state and transition counts are pinned here so that any
semantic drift of the model shows up as a reviewed diff.  A count that changes
must be explained in the commit that changes it.
"""

from __future__ import annotations

import pytest

from mcheck import Verdict, check
from models.cow import mcheck_models
from models.cow.catalogue import CATALOGUE, SCENARIOS
from models.cow.policy import CONTROLS
from models.cow.scenario import ERA_ORDER

PINNED = {
    "S01": {
        "E1": (91, 135), "E2": (91, 135), "E3t": (91, 135), "E3": (91, 135), "E4": (91, 135),
        "E5": (73, 105), "E6": (73, 105),
    },
    "S02": {
        "E1": (103, 153), "E2": (103, 153), "E3t": (103, 153), "E3": (103, 153),
        "E4": (103, 153), "E5": (85, 123), "E6": (85, 123),
    },
    "S03": {
        "E1": (91, 132), "E2": (163, 252), "E3t": (127, 189), "E3": (127, 189), "E4": (127, 189),
        "E5": (109, 159), "E6": (109, 159),
    },
    "S04": {
        "E1": (91, 132), "E2": (91, 132), "E3t": (127, 189), "E3": (127, 189), "E4": (127, 189),
        "E5": (109, 159), "E6": (109, 159),
    },
    "S05": {
        "E1": (91, 132), "E2": (163, 252), "E3t": (127, 189), "E3": (127, 189), "E4": (127, 189),
        "E5": (109, 159), "E6": (109, 159),
    },
    "S06": {
        "E1": (103, 153), "E2": (103, 153), "E3t": (103, 153), "E3": (109, 165),
        "E4": (109, 165), "E5": (109, 165), "E6": (109, 165),
    },
    "S07": {
        "E1": (367, 678), "E2": (367, 678), "E3t": (367, 678), "E3": (529, 993),
        "E4": (613, 1155), "E5": (571, 1077), "E6": (571, 1077),
    },
    "S08": {
        "E1": (61, 87), "E2": (61, 87), "E3t": (97, 144), "E3": (97, 144), "E4": (97, 144),
        "E5": (97, 144), "E6": (55, 78),
    },
    "S09": {
        "E1": (103, 153), "E2": (115, 174), "E3t": (103, 153), "E3": (103, 153),
        "E4": (103, 153), "E5": (103, 153), "E6": (103, 150),
    },
    "X10": {
        "E1": (121, 180), "E2": (127, 192), "E3t": (121, 180), "E3": (121, 180),
        "E4": (121, 180), "E5": (121, 180), "E6": (127, 186),
    },
    "S11": {
        "E1": (61, 87), "E2": (61, 87), "E3t": (97, 144), "E3": (97, 144), "E4": (97, 144),
        "E5": (97, 144), "E6": (61, 87),
    },
    "S12a": {
        "E1": (55, 63), "E2": (55, 63), "E3t": (82, 102), "E3": (82, 102), "E4": (37, 45),
        "E5": (37, 45), "E6": (37, 45),
    },
    "X12b": {
        "E1": (102, 148), "E2": (102, 148), "E3t": (138, 193), "E3": (138, 193),
        "E4": (138, 193), "E5": (123, 166), "E6": (87, 118),
    },
    "X13": {
        "E1": (58, 66), "E2": (58, 66), "E3t": (94, 120), "E3": (94, 120), "E4": (94, 120),
        "E5": (94, 120), "E6": (58, 66),
    },
    "X13w": {
        "E1": (52, 60), "E2": (52, 60), "E3t": (52, 60), "E3": (52, 60), "E4": (52, 60),
        "E5": (91, 117), "E6": (52, 60),
    },
    "X16": {
        "E1": (50, 63), "E2": (50, 63), "E3t": (74, 99), "E3": (74, 99), "E4": (74, 99),
        "E5": (44, 54), "E6": (50, 63),
    },
    "X18": {
        "E1": (61, 87), "E2": (61, 87), "E3t": (67, 99), "E3": (67, 99), "E4": (67, 99),
        "E5": (55, 78), "E6": (55, 78),
    },
    "X22": {
        "E1": (221, 381), "E2": (221, 381), "E3t": (221, 381), "E3": (221, 381), "E4": (221, 381),
        "E5": (221, 381), "E6": (221, 381),
    },
    "X22g": {
        "E1": (221, 381), "E2": (221, 381), "E3t": (221, 381), "E3": (221, 381), "E4": (221, 381),
        "E5": (221, 381), "E6": (221, 381),
    },
    "X23": {
        "E1": (261, 544), "E2": (261, 544), "E3t": (261, 544), "E3": (261, 544), "E4": (261, 544),
        "E5": (261, 544), "E6": (261, 544),
    },
    "X23g": {
        "E1": (261, 544), "E2": (261, 544), "E3t": (261, 544), "E3": (261, 544), "E4": (261, 544),
        "E5": (261, 544), "E6": (261, 544),
    },
    "X24": {
        "E1": (121, 180), "E2": (121, 180), "E3t": (121, 180), "E3": (121, 180),
        "E4": (121, 180), "E5": (121, 180), "E6": (121, 180),
    },
    "S14": {
        "E1": (55, 78), "E2": (55, 78), "E3t": (103, 156), "E3": (103, 156), "E4": (103, 156),
        "E5": (79, 114), "E6": (55, 78),
    },
    "S15": {
        "E1": (37, 51), "E2": (37, 51), "E3t": (43, 63), "E3": (43, 63), "E4": (43, 63),
        "E5": (31, 42), "E6": (31, 42),
    },
    "S18": {
        "E1": (221, 354), "E2": (221, 354), "E3t": (257, 399), "E3": (257, 399),
        "E4": (263, 405), "E5": (239, 360), "E6": (206, 315),
    },
    "S21": {
        "E1": (103, 153), "E2": (103, 153), "E3t": (103, 153), "E3": (103, 153),
        "E4": (103, 153), "E5": (85, 123), "E6": (85, 123), "E6-mprotect-no-ae": (61, 87),
    },
    "A1": {
        "E1": (91, 135), "E2": (91, 135), "E3t": (91, 135), "E3": (91, 135), "E4": (91, 135),
        "E5": (73, 105), "E6": (73, 105),
    },
    "A2": {
        "E1": (103, 153), "E2": (103, 153), "E3t": (103, 153), "E3": (103, 153),
        "E4": (103, 153), "E5": (85, 123), "E6": (85, 123),
    },
    "A3": {
        "E1": (91, 132), "E2": (163, 252), "E3t": (127, 189), "E3": (127, 189), "E4": (127, 189),
        "E5": (109, 159), "E6": (109, 159),
    },
    "A4": {
        "E1": (103, 150), "E2": (199, 312), "E3t": (139, 207), "E3": (139, 207),
        "E4": (139, 207), "E5": (121, 177), "E6": (121, 177),
    },
    "A5": {
        "E1": (91, 132), "E2": (91, 132), "E3t": (127, 189), "E3": (127, 189), "E4": (127, 189),
        "E5": (109, 159), "E6": (109, 159),
    },
    "A6": {
        "E1": (91, 132), "E2": (163, 252), "E3t": (127, 189), "E3": (127, 189), "E4": (127, 189),
        "E5": (109, 159), "E6": (109, 159),
    },
    "A7": {
        "E1": (61, 87), "E2": (61, 87), "E3t": (97, 144), "E3": (97, 144), "E4": (97, 144),
        "E5": (97, 144), "E6": (55, 78),
    },
    "A8": {
        "E1": (103, 153), "E2": (103, 153), "E3t": (103, 153), "E3": (109, 165),
        "E4": (109, 165), "E5": (109, 165), "E6": (109, 165),
    },
    "A9": {
        "E1": (103, 153), "E2": (115, 174), "E3t": (103, 153), "E3": (103, 153),
        "E4": (103, 153), "E5": (103, 153), "E6": (103, 150),
    },
    "A10": {
        "E1": (121, 180), "E2": (127, 192), "E3t": (121, 180), "E3": (121, 180),
        "E4": (121, 180), "E5": (121, 180), "E6": (127, 186),
    },
    "A11": {
        "E1": (79, 114), "E2": (79, 114), "E3t": (115, 171), "E3": (115, 171), "E4": (115, 171),
        "E5": (115, 171), "E6": (70, 96),
    },
    "A12": {
        "E1": (97, 141), "E2": (91, 132), "E3t": (133, 198), "E3": (133, 198), "E4": (133, 198),
        "E5": (133, 198), "E6": (94, 132),
    },
    "A13": {
        "E1": (61, 87), "E2": (61, 87), "E3t": (97, 144), "E3": (97, 144), "E4": (97, 144),
        "E5": (97, 144), "E6": (61, 87),
    },
    "A14": {
        "E1": (79, 114), "E2": (73, 105), "E3t": (115, 171), "E3": (115, 171), "E4": (115, 171),
        "E5": (115, 171), "E6": (79, 114),
    },
    "A3s": {
        "E1": (69, 88), "E2": (147, 217), "E3t": (69, 88), "E3": (69, 88), "E4": (69, 88),
        "E5": (90, 115), "E6": (90, 115),
    },
    "A5s": {
        "E1": (89, 120), "E2": (89, 120), "E3t": (125, 177), "E3": (125, 177), "E4": (125, 177),
        "E5": (125, 177), "E6": (125, 177),
    },
    "A6s": {
        "E1": (69, 88), "E2": (147, 217), "E3t": (69, 88), "E3": (69, 88), "E4": (69, 88),
        "E5": (90, 115), "E6": (90, 115),
    },
    "CVE-2020-29374": {
        "E1": (91, 132), "E2": (163, 252), "E3t": (127, 189), "E3": (127, 189), "E4": (127, 189),
        "E5": (109, 159), "E6": (109, 159),
    },
    "CVE-2020-29374-swap": {
        "E1": (69, 88), "E2": (147, 217), "E3t": (69, 88), "E3": (69, 88), "E4": (69, 88),
        "E5": (90, 115), "E6": (90, 115),
    },
    "RDMA-fork": {
        "E1": (121, 183), "E2": (121, 183), "E3t": (121, 183), "E3": (127, 195),
        "E4": (127, 195), "E5": (127, 195), "E6": (127, 195),
    },
}


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
    assert sum(len(v) for v in PINNED.values()) == len(CELLS)


def test_the_fixed_era_holds_everywhere_and_every_older_era_fails_somewhere() -> None:
    letters = {era: {s.name: cell_verdict(run(era, s.name)) for s in CATALOGUE}
               for era in ERA_ORDER}
    # E6 holds everywhere but in X24, the R/W FOLL_GET across fork that open(2) documents.
    assert {s for s, x in letters["E6"].items() if x != "H"} == {"X24"}
    for era in ERA_ORDER[:-1]:
        assert {"M", "W"} & set(letters[era].values()), era
