"""Partial-order reduction (mcheck.reduce, mcheck.proof.footprint) against the full search.

Random process models (the differential test's :class:`ProcModel`, with one component
per process and rule so that rules that leave the shared variable alone are
independent) are searched with and without the reduction: the verdicts must be the
full search's, every violated property's trace the full search's own trace (re-derived
on the full relation), a metric must count something exactly when the full search's
does, and the reduced graph may not be larger.  ``examples/workers.py`` pins the
counts of a model where the reduction is large.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings

from mcheck import Kind, Verdict, check
from mcheck.proof.footprint import analyse, independent
from mcheck.reduce import Reduction, check_components
from mcheck.symmetry import Canonicaliser, Symmetry
from tests.test_differential import CI, ProcModel, ProcSpec, proc_specs, simulate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
from workers import Workers  # noqa: E402


class RuleModel(ProcModel):
    """:class:`ProcModel` with one component per (process, rule)."""

    def _rule(self, s: Any, key: tuple[int, int]) -> list[Any]:
        p, r = key
        return [x for x in self._succ(s, p) if x[0][1] == r]

    def symmetry(self) -> Symmetry:
        base = super().symmetry()
        n = self.spec.procs
        comps = [(p, r) for p in range(n) for r in range(len(self.spec.rules))]
        return Symmetry(sets=base.sets, permute_state=base.permute_state,
                        permute_action=base.permute_action, signatures=base.signatures,
                        domain=base.domain, components=comps, successors_of=self._rule,
                        permute_key=lambda k, p: (p["procs"](k[0]), k[1]),
                        bounds=base.bounds)


def _real(model: Any, path: Any) -> bool:
    states, acts = path.states, path.actions
    if states[0] not in list(model.initial_states()):
        return False
    return all(a in list(model.actions(states[i])) and model.step(states[i], a) == states[i + 1]
               for i, a in enumerate(acts))


def reduced_agrees(model: Any, canonical: Any = None) -> int:
    """Every combination of deadlock detection and stopping: the reduced search against
    the full search; returns the number of runs."""
    decl = model.symmetry()
    an = analyse(model, decl, use_cache=False, budget=60.0)
    assert an.ok, an.reason
    runs = 0
    full_ref = simulate(model, deadlock=True, to_the_end=True)
    assert check_components(model, decl, list(full_ref.depth)) is None
    for deadlock, stop in itertools.product((False, True), (True, False)):
        red = Reduction(model, decl, an, model.properties())
        full = check(model, deadlock=deadlock, stop_at_first=stop, canonical=canonical)
        r = check(model, deadlock=deadlock, stop_at_first=stop, reduction=red,
                  canonical=canonical)
        what = (f"deadlock={deadlock}", f"stop_at_first={stop}", red.stats)
        assert r.exhausted is full.exhausted, what
        assert r.verdict is full.verdict, what
        for name, p in r.properties.items():
            q = full.properties[name]
            if p.kind is Kind.METRIC:
                # a stopped search's counts are lower bounds, each at its own stop
                assert p.verdict is q.verdict, (what, name)
                if full.exhausted:
                    assert (p.count > 0) is (q.count > 0), (what, name)
                assert p.count <= q.count or canonical is not None, (what, name)
                if p.path is not None:
                    assert _real(model, p.path), (what, name)
                continue
            assert p.verdict is q.verdict, (what, name)
            # the trace is re-derived: the full search's own
            assert p.path == q.path, (what, name)
        if full.exhausted:
            assert r.states <= full.states and r.transitions <= full.transitions, what
        runs += 1
    return runs


@settings(CI, max_examples=150)
@given(proc_specs())
def test_reduction_agrees_with_the_full_search_on_random_processes(spec: ProcSpec) -> None:
    model = RuleModel(spec)
    assert reduced_agrees(model) == 4


@settings(CI, max_examples=150)
@given(proc_specs())
def test_state_dependent_footprints_agree_on_random_processes(spec: ProcSpec) -> None:
    """One component per process: its footprint in a state is that of the rules its pc
    allows there (the entries keyed by the pc), so a process at a local rule is reduced."""
    model = ProcModel(spec)
    assert reduced_agrees(model) == 4


@settings(CI, max_examples=25)
@given(proc_specs(final_proc0=False))
def test_reduction_and_symmetry_agree_with_the_full_search(spec: ProcSpec) -> None:
    from mcheck.proof import certify

    model = RuleModel(spec)
    decl = model.symmetry()
    cert = certify(model, decl, use_cache=False, budget=60.0)
    event(f"proof: {cert.status}")
    if cert.ok:
        assert reduced_agrees(model, Canonicaliser(decl)) == 4


def test_footprints_of_the_workers_example() -> None:
    m = Workers(3, 4)
    an = analyse(m, m.symmetry(), use_cache=False)
    assert an.ok
    fp = {f.key: f for f in an.footprints}
    # a worker's private step reads and writes its own counter only
    assert fp[("work", 1)].reads == {(2,)} and fp[("work", 1)].writes == {(2,)}
    assert fp[("work", 1)].guard == {(2,)}
    # the add reads the total only when it runs; its guard reads the counter alone
    assert fp[("add", 0)].reads == {(0,), (1,)} and fp[("add", 0)].writes == {(0,), (1,)}
    assert fp[("add", 0)].guard == {(1,)}
    assert an.prop_reads == {"total_below": {(0,)}, "adds_one": {(0,)}}
    assert independent(fp[("work", 0)], fp[("add", 1)])
    assert not independent(fp[("add", 0)], fp[("add", 1)])
    assert not independent(fp[("work", 0)], fp[("add", 0)])


#: the one home of the workers' counts: tests/reduce.json, written by tests/update_reduce.py
PINNED = json.loads((Path(__file__).parent / "reduce.json").read_text())


@pytest.mark.parametrize(("n", "steps"), [(3, 4), (4, 6)])
def test_workers_counts(n: int, steps: int) -> None:
    m = Workers(n, steps)
    an = analyse(m, m.symmetry(), use_cache=False)
    r0 = check(m)
    r1 = check(m, reduction=Reduction(m, m.symmetry(), an, m.properties()))
    assert r0.verdict is r1.verdict is Verdict.HOLDS
    pinned = PINNED[f"workers {n}x{steps}"]
    assert [r0.states, r0.transitions] == pinned["full"]
    assert [r1.states, r1.transitions] == pinned["reduced"]
    assert r1.states * 10 < r0.states  # the example exists to show a large reduction


def test_per_process_components_reduce_by_state() -> None:
    """Workers with one component per worker: the entries keyed by the worker's counter
    tell the private steps from the add, so the reduction is the same as with one
    component per kind of step."""
    m = Workers(3, 4)
    decl = m.symmetry()
    whole = Symmetry(sets=decl.sets, permute_state=decl.permute_state,
                     permute_action=decl.permute_action, signatures=decl.signatures,
                     domain=decl.domain, components=[(i,) for i in range(3)],
                     successors_of=lambda s, k: m._of(s, ("work", k[0])) + m._of(s, ("add", k[0])),
                     permute_key=lambda k, p: (p["workers"](k[0]),))
    an = analyse(m, whole, use_cache=False)
    assert an.ok
    fp = an.footprints[1]
    assert fp.writes == {(0,), (2,)}  # over its whole domain it may write the total
    [case] = fp.cases
    assert case.keys == ((2,),)  # keyed by its counter
    assert case.entries[(1,)].writes == {(2,)} and case.entries[(4,)].writes == {(0,), (2,)}
    r = check(m, reduction=Reduction(m, whole, an, m.properties()))
    assert (r.verdict, r.states, r.transitions) == (Verdict.HOLDS, 20, 24)


def test_a_metric_on_the_private_step_makes_it_visible() -> None:
    m = Workers(3, 2, with_metric=True)
    red = Reduction(m, m.symmetry(), analyse(m, m.symmetry(), use_cache=False),
                    m.properties())
    assert red.summary()["invisible"] == 3  # the adds count: visible; the private steps not
    assert red.why_visible[("add", 0)] == "it writes what total_below reads"


def test_a_violation_is_reported_with_the_full_search_trace() -> None:
    m = Workers(3, 3, limit=2)
    red = Reduction(m, m.symmetry(), analyse(m, m.symmetry(), use_cache=False),
                    m.properties())
    full = check(m)
    r = check(m, reduction=red)
    assert r.verdict is Verdict.VIOLATED
    assert r.properties["total_below"].path == full.properties["total_below"].path
    assert len(r.properties["total_below"].path) == 8
    assert r.states < full.states


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mcheck", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_cli_reduce_on() -> None:
    p = _run("check", "examples/workers.py", "--reduce", "on", "--json", "-q")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    m = doc["models"][0]
    assert (m["states"], m["reduce"]["reduced_states"], m["reduce"]["invisible"]) == (20, 12, 3)


def test_cli_reduce_refuses_what_it_cannot_do() -> None:
    p = _run("check", "examples/workers.py", "--reduce", "on", "--dfs", "-q")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "--reduce runs a breadth-first search" in p.stderr
    p = _run("check", "examples/workers.py", "--reduce", "on", "--estimate", "-q")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "--estimate samples the full search" in p.stderr
    p = _run("check", "examples/toys.py", "--toy", "philosophers", "--reduce", "on", "-q")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "declares no components" in p.stderr
    p = _run("check", "examples/toys.py", "--toy", "philosophers", "--reduce", "auto", "-q")
    assert p.returncode == 0, p.stderr  # auto: says why, and runs the full search
    assert "running the full search" in p.stderr and "(14 states" in p.stdout


def test_a_search_that_reduces_nothing_stops_trying(monkeypatch: Any) -> None:
    """When every step is visible, no state has an ample set; after GIVE_UP states the
    search expands in full without asking, with the same counts."""
    import mcheck.reduce
    from mcheck import invariant

    class Watched(Workers):
        def properties(self) -> list[Any]:
            return [invariant("counters_small", lambda s: max(s[1:]) <= self.steps + 1)]

    m = Watched(3, 4)
    monkeypatch.setattr(mcheck.reduce, "GIVE_UP", 5)
    red = Reduction(m, m.symmetry(), analyse(m, m.symmetry(), use_cache=False),
                    m.properties())
    assert red.summary()["invisible"] == 0
    r = check(m, reduction=red)
    full = PINNED["workers 3x4"]["full"]  # every step visible: the full search's counts
    assert (r.verdict, [r.states, r.transitions]) == (Verdict.HOLDS, full)
    assert red.stats.gave_up and red.stats.reduced == 0 and red.stats.full == full[0]
