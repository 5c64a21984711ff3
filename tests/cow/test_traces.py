"""Every failing cell has a shortest trace that survives JSON and replays."""

from __future__ import annotations

import json

import pytest

from mcheck import Verdict, check
from mcheck.trace import Trace, load, replay
from models.cow import mcheck_models
from models.cow.catalogue import CATALOGUE
from models.cow.scenario import ERA_ORDER

FAILING = [(s.name, era) for s in CATALOGUE for era in ERA_ORDER
           if s.expect.get(era) in ("M", "W")]


@pytest.mark.parametrize(("scenario", "policy"), FAILING)
def test_failing_cell_trace_replays(tmp_path, scenario: str, policy: str) -> None:
    [m] = mcheck_models({"policy": policy, "scenario": scenario})
    r = check(m)
    [v] = r.violations
    trace = Trace.from_path(m, v.path, v, "models/cow")
    f = tmp_path / "t.json"
    trace.save(f)
    again = load(f)
    [m2] = mcheck_models(dict(again.params))
    rr = replay(m2, again)
    assert rr.reproduced, rr.message
    assert len(rr.path) == len(v.path)


def test_user_scenario_file(tmp_path) -> None:
    f = tmp_path / "mine.py"
    f.write_text(
        'MINE = scenario("mine", "pin, fork, write", [\n'
        '    write("P", 0, "a"), pin("P", 0, "buf"), fork("P", "C"), write("P", 0, "b"),\n'
        '    dma_read("P", "buf"),\n'
        '], procs=("P", "C"))\n')
    verdicts = {}
    for era in ("E3t", "E3"):
        [m] = mcheck_models({"policy": era, "scenario": f"{f}:MINE"})
        verdicts[era] = check(m).properties["wrong_cow"].verdict
    assert verdicts == {"E3t": Verdict.VIOLATED, "E3": Verdict.HOLDS}


def test_user_policy_file_and_its_errors(tmp_path) -> None:
    f = tmp_path / "pol.py"
    f.write_text('MINE = get_policy("E6").replace(name="mine", mprotect_upgrade="mapcount")\n')
    [m] = mcheck_models({"policy": f"{f}:MINE", "scenario": "A4"})
    assert check(m, properties=["missed_cow"]).properties["missed_cow"].verdict is \
        Verdict.VIOLATED
    g = tmp_path / "bad.py"
    g.write_text('BAD = get_policy("E6").replace(no_such_switch=1)\n')
    with pytest.raises(ValueError, match="unknown policy switch 'no_such_switch'"):
        mcheck_models({"policy": f"{g}:BAD"})
    with pytest.raises(ValueError, match="unknown policy 'E9'"):
        mcheck_models({"policy": "E9"})
    with pytest.raises(ValueError, match="unknown scenario"):
        mcheck_models({"scenario": "S99"})


def test_version_aliases() -> None:
    names = {}
    for v in ("5.7", "v5.8", "5.9-rc5", "5.10", "5.15", "5.18", "5.19", "6.0", "6.6"):
        [m] = mcheck_models({"policy": v, "scenario": "S01"})
        names[v] = m.policy.name
    assert names == {"5.7": "E1", "v5.8": "E2", "5.9-rc5": "E3t", "5.10": "E3", "5.15": "E4",
                     "5.18": "E5", "5.19": "E6-5.19", "6.0": "E6-6.0", "6.6": "E6"}


def test_trace_json_is_small_and_versioned() -> None:
    [m] = mcheck_models({"policy": "E1", "scenario": "S03"})
    [v] = check(m).violations
    doc = json.loads(Trace.from_path(m, v.path, v, "models/cow").to_json())
    assert doc["format"] == "mcheck-trace" and doc["params"] == {"policy": "E1",
                                                                 "scenario": "S03"}
    assert doc["actions"][-1] == ["P", "write b: store f0", []]
