"""Symmetry reduction of the COW model: pinned reduced counts, the same verdicts, proofs.

The reduced counts are pinned in tests/cow/reduced.json (written by
tests/cow/update_reduced.py), as the full ones are in baselines/cow.json: a
change is a change of the model or of its declared symmetry and must be
explained in its commit.  Every cell gives the same verdicts reduced and unreduced.
"""

from __future__ import annotations

import pytest

from mcheck import Verdict, check
from mcheck.explore import reachable
from mcheck.proof import certify
from mcheck.symmetry import Canonicaliser, self_check
from mcheck.trace import Trace, replay
from models.cow import mcheck_models
from models.cow.catalogue import CATALOGUE, SCENARIOS
from models.cow.scenario import ERA_ORDER
from models.cow.symmetry import in_domain

from . import update_reduced
from .test_matrix import cell_verdict
from .test_open import REDISCOVERY

#: reduced states per scenario and policy (frames and slots interchangeable), from their one
#: home, tests/cow/reduced.json, which tests/cow/update_reduced.py writes
REDUCED = update_reduced.load()

CELLS = [(s.name, pol) for s in CATALOGUE
         for pol in list(ERA_ORDER) + [k for k in s.expect if k not in ERA_ORDER]]


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MCHECK_PROOF_SECRET", str(tmp_path / "secret"))


def _model(policy, **opts):
    [m] = mcheck_models({"policy": policy, **opts})
    return m


def _reachable(m):
    return reachable(m)


def test_the_reduced_table_covers_the_catalogue():
    assert set(REDUCED) == set(SCENARIOS)
    assert sum(len(v) for v in REDUCED.values()) == len(CELLS)


@pytest.mark.parametrize(("scenario", "policy"), CELLS)
def test_reduced_cell(scenario, policy):
    m = _model(policy, scenario=scenario)
    red = check(m, canonical=Canonicaliser(m.symmetry()), stop_at_first=False, deadlock=True)
    full = check(m, stop_at_first=False, deadlock=True)
    assert red.states == REDUCED[scenario][policy]
    assert cell_verdict(red) == cell_verdict(full)
    assert {n: p.verdict for n, p in red.properties.items()} == \
        {n: p.verdict for n, p in full.properties.items()}


#: (name, reduced states to the first violation, reduced states of E6's exhaustive run)
OPEN_REDUCED = {"CVE-2020-29374 shape": (690, 1122), "RDMA fork": (210, 251),
                "fork vs GUP-fast": (1783, 1788), "pin racing reclaim": (397, 371)}


@pytest.mark.parametrize(("name", "opts", "era", "prop", "found_at", "e6_states"),
                         REDISCOVERY, ids=[r[0] for r in REDISCOVERY])
def test_open_search_reduced(name, opts, era, prop, found_at, e6_states):
    m = _model(era, **opts)
    red = check(m, canonical=Canonicaliser(m.symmetry()), properties=[prop])
    p = red.properties[prop]
    assert p.verdict is Verdict.VIOLATED
    assert red.states == OPEN_REDUCED[name][0]
    # the shortest counterexample is as short as the full search's, and replays there
    full = check(m, properties=[prop])
    assert len(p.path) == len(full.properties[prop].path)
    trace = Trace.from_path(m, p.path, p, "models/cow")
    res = replay(_model(era, **opts), trace)
    assert res.reproduced, res.message
    e6 = _model("E6", **opts)
    r6 = check(e6, canonical=Canonicaliser(e6.symmetry()))
    assert r6.verdict is Verdict.HOLDS and r6.states == OPEN_REDUCED[name][1]


@pytest.mark.parametrize("opts", [
    {"budget": "fork=1,get=1,unmap=1,write=2", "gup_modes": "ro-slow,ro-fast"},
    {"budget": "pin=1,swapout=1,write=2,read=1", "gup_modes": "rw-slow,rw-fast"},
    {"budget": "write=2,swapout=2,read=1", "slots": 2},
    {"budget": "fork=2,write=2", "procs": 3},
    {"scenario": "S07"}, {"scenario": "X12b"},
], ids=["cve", "reclaim", "two-slots", "two-children", "S07", "X12b"])
def test_self_check(opts):
    """Same verdicts, and reduced states == distinct canonical forms of the full space."""
    for era in ("E3", "E6"):
        m = _model(era, **opts)
        rep = self_check(m, m.symmetry())
        assert rep["ok"], rep["problems"]


def test_two_children_and_two_slots_are_permuted_too():
    assert _model("E6", budget="fork=2,write=2", procs=3).symmetry().describe() == \
        "frames (3), children (2)"
    assert _model("E6", budget="write=1", slots=2).symmetry().describe() == \
        "frames (3), slots (2)"
    assert _model("E6", budget="write=1", threads=2).symmetry().describe() == \
        "frames (3), lanes of P (2), lanes of C1 (2)"


def test_every_reachable_state_lies_in_the_proofs_domain():
    for era in ("E6",):  # every policy: bench/bench_symmetry.py --domain
        for s in CATALOGUE:
            m = _model(era, scenario=s.name)
            for st in _reachable(m):
                assert not in_domain(m, st), (era, s.name, in_domain(m, st)[:3])
    for opts in ({"budget": "fork=1,get=1,unmap=1,write=2", "gup_modes": "ro-slow,ro-fast"},
                 {"budget": "pin=1,swapout=1,write=2,read=1"},
                 {"budget": "fork=1,pin=1,write=1", "gup_modes": "rw-fast", "threads": 2},
                 {"budget": "fork=1,pin=1,write=1,migrate=1", "gup_modes": "rw-slow"}):
        m = _model("E3", **opts)
        for st in _reachable(m):
            assert not in_domain(m, st), in_domain(m, st)[:3]


@pytest.mark.parametrize("opts", [{"scenario": "S07"}, {"scenario": "X12b"},
                                  {"budget": "fork=1,pin=1,write=1", "gup_modes": "rw-fast",
                                   "threads": 2},
                                  {"budget": "pin=1,swapout=1,write=2,read=1"}],
                         ids=["S07", "X12b", "fork-gup-fast", "reclaim"])
def test_successors_are_the_concatenation_of_the_components(opts):
    m = _model("E4", **opts)
    keys = m.components()
    for st in _reachable(m):
        parts = [o for k in keys for o in m.successors_of(st, k)]
        assert sorted(map(repr, parts)) == sorted(map(repr, m.successors(st)))


def test_a_scenario_proof():
    m = _model("E1", scenario="S15")
    cert = certify(m, m.symmetry())
    assert cert.status == "proved", cert.summary()
    # the generic canonicaliser is proven for the sets this configuration permutes
    assert [k for k in cert.per_obligation if k.startswith("canonicaliser")] == \
        ["canonicaliser: frames (3 of 3 indices, complete for some signatures)"]


def test_the_lowest_free_frame_allocator_is_refused_with_its_witness():
    m = _model("E6", scenario="S15", alloc_lowest=True)
    cert = certify(m, m.symmetry())
    assert cert.status == "refuted"
    w = cert.witness
    # which generator's path is met first depends on z3's models (the same in every fresh
    # process, see tests/test_symmetry.py); either way two free frames are renamed
    assert w.permutation in ("frames: swap 0 1", "frames: cycle 0 1 2")
    assert sum(fr[0] == 0 for fr in w.state[0]) >= 2
    assert w.action[1].endswith(("-> f0", "f0 exclusive R/O", "f0 shared R/O"))  # took f0
    assert w.action[2][-1] == 0
    assert "is not enabled in the permuted state" in w.detail


# A state whose slot s1 caches f2 while f2 names no slot: unreachable (model_error checks the
# link), but once in the proof's domain it refuted munmap's component under "slots: swap 0 1"
# (free_swap_and_cache followed f2's missing back link to slots[-1]).
_UNLINKED = (((0, 0, 0, -1, 0, 0, 0, 0), (0, 0, 0, -1, 0, 0, 0, 0), (1, 0, 0, -1, 0, 0, 0, 0)),
             ((0, -1, 0), (1, 2, 0)),
             ((0, ((2, 1, 0, 0),), (0,), 0, 0, 0, 0, (-1,), 0),
              (0, ((0, 0, 0, 0),), (0,), 0, -1, 0, 0, (-1,), 0)),
             (), ((0, 0, (), -1, 0, (7, 0)), (0, 0, (0, 0, 0, 0, 0), -1, 0, (2, -1))),
             ((0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0))


def test_the_swap_cache_link_is_mutual_in_the_domain():
    from mcheck.proof import Prover

    [m] = mcheck_models({"policy": "E6", "budget": "write=1", "slots": 2})
    assert "s1: caches f2, which does not name it" in in_domain(m, _UNLINKED)
    prover = Prover(m, m.symmetry(), timeout_ms=20000, max_paths=200_000,
                    deadline=None, progress=None)
    prover.tasks = []
    prover.steps()
    prover.tasks = [t for t in prover.tasks if t[0] == "component ('busy', 0, 7) commutes"]
    assert len(prover.tasks) == 1
    prover.run_tasks(1)  # raises Refuted with the old, loose domain
    assert prover.obligations == 1


def test_reclaim_unmapping_a_page_outside_the_swap_cache_aborts_symmetrically():
    # The domain lets the reclaim thread reach try_to_unmap with its page out of the swap cache
    # (unreachable: add_to_swap put it there and reclaim holds its lock).  The step used to make
    # the PTE a swap entry for slot -1, i.e. the last slot, and swapping the slots refuted it;
    # it now aborts the walk as try_to_unmap_one() does for such a page.
    from mcheck.proof import Prover

    [m] = mcheck_models({"policy": "E6", "budget": "pin=1,swapout=1,write=2,unmap=1",
                         "slots": 2, "gup_modes": "rw-slow"})
    prover = Prover(m, m.symmetry(), timeout_ms=20000, max_paths=200_000,
                    deadline=None, progress=None)
    prover.tasks = []
    prover.steps()
    prover.tasks = [t for t in prover.tasks if t[0] == "component ('busy', 2, 11) commutes"]
    assert len(prover.tasks) == 2  # idle, holding its page
    prover.run_tasks(1)
    assert prover.obligations == 2


def test_interchangeable_threads_are_proven_once_per_orbit_of_components():
    from mcheck.proof import component_plan
    from mcheck.symmetry import generators

    [m] = mcheck_models({"policy": "E6", "budget": "fork=1,pin=1,write=2", "threads": 2,
                         "gup_modes": "rw-fast"})
    d = m.symmetry()
    comps, gens = list(d.components), generators(d.sets)
    plan = component_plan(d, comps, gens)
    assert (len(comps), len(gens), len(plan)) == (89, 4, 45)
    assert sum(len(v) for v in plan.values()) == 180  # of 89 x 4 = 356
    # thread 0's steps: the stabiliser (frames, the child's lanes) and the swap to thread 1
    assert [n for n, _ in plan[("busy", 0, 3)]] == [
        "frames: swap 0 1", "frames: cycle 0 1 2", "lanes of C1: swap 2 3", "lanes of P: swap 0 1"]
    assert ("busy", 1, 3) not in plan
    # a scenario's components are fixed by every permutation: the declared generators
    s15 = _model("E1", scenario="S15")
    d15 = s15.symmetry()
    plan15 = component_plan(d15, list(d15.components), generators(d15.sets))
    assert all([n for n, _ in v] == ["frames: swap 0 1", "frames: cycle 0 1 2"]
               for v in plan15.values())
    assert len(plan15) == len(list(d15.components))


_POLICY = '''
def mapcount_one(world, frame):
    return world.frames[frame].map == 1{extra}


def my_reuse(world, frame):
    return mapcount_one(world, frame)


MINE = get_policy("E4").replace(name="mine", wp_reuse=my_reuse)
'''


def test_a_user_policys_helper_is_part_of_the_proof_key(tmp_path):
    # The decision function stays the same text; the helper it calls stops reusing frame 0,
    # which is not symmetric in the frames.  The model's fingerprint (which digests the
    # decision function's own source) does not change, the proof's key must.  Three runs
    # of the command line, as a user makes them.
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    f = tmp_path / "mine.py"
    f.write_text(_POLICY.format(extra=""))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "PYTHONHASHSEED": "0",
           "PYTHONDONTWRITEBYTECODE": "1", "MCHECK_CACHE_DIR": str(tmp_path / "cache"),
           "MCHECK_PROOF_SECRET": str(tmp_path / "secret")}

    def run():
        out = subprocess.run([sys.executable, "-m", "mcheck", "check", "models/cow", "--policy",
                              f"{f}:MINE", "--scenario", "S15", "--symmetry", "auto", "-q"],
                             cwd=root, env=env, capture_output=True, text=True, timeout=300)
        return out.returncode, out.stdout, out.stderr

    label = f"cow policy={f}:MINE scenario=S15"
    code, out, _err = run()
    assert code == 0 and out.startswith(f"{label}: symmetry frames (3): proved in ")
    code, out, _err = run()
    assert code == 0 and out.startswith(f"{label}: symmetry frames (3): proved from cache")
    m = mcheck_models({"policy": f"{f}:MINE", "scenario": "S15"})[0]
    f.write_text(_POLICY.format(extra=" and frame != 0"))
    m2 = mcheck_models({"policy": f"{f}:MINE", "scenario": "S15"})[0]
    assert m2.fingerprint() == m.fingerprint()
    code, out, err = run()
    assert code == 0 and "from cache" not in out and "symmetry frames" not in out
    assert out.startswith(f"{label}: HOLDS  (37 states, 55 transitions")  # the full search
    assert f"{label}: symmetry: the proof failed: component ('step', 0, 0) commutes" in \
        err.splitlines()
    assert err.splitlines()[-1] == f"{label}: symmetry: running the full search"


def test_timeout_bounds_the_proof_and_the_search_together(tmp_path, monkeypatch, capsys):
    from mcheck.cli import main

    monkeypatch.setenv("MCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MCHECK_PROOF_SECRET", str(tmp_path / "secret"))
    args = ["check", "models/cow", "--policy", "E3", "--scenario", "S07", "--timeout", "0.5",
            "-q"]
    # auto: the proof runs out of time, the full search gets what is left: undetermined
    assert main([*args, "--symmetry", "auto"]) == 3
    out, err = capsys.readouterr()
    assert "symmetry: no proof (unknown): the proof ran out of time" in err
    assert "--timeout 0.5s reached" in out.splitlines()[0]
    assert not list((tmp_path / "cache").glob("*.json"))  # an unknown is never cached
    # on: no proof, no reduction: one line, exit 2
    assert main([*args, "--symmetry", "on"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == ("mcheck: the declared symmetry of 'cow' is not proved (unknown: the "
                       "proof ran out of time); fix the declaration, or use --symmetry auto "
                       "(full search) or off")
