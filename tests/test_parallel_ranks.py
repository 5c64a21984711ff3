"""The partitioned search's failures: a rank whose model code raises, a rank that is killed.

Each state of the line 0 -> 1 -> ... -> 9 is stepped by the rank that owns it
(its fingerprint modulo the rank count), so the states below reach every rank.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mcheck import Bounds, Model, invariant
from mcheck.fingerprint import state_fingerprint
from mcheck.parallel import parallel_check

ROOT = Path(__file__).resolve().parent.parent


class Line(Model):
    """0 -> 1 -> ... -> 9; stepping state ``step_at`` raises, and so does checking the
    invariant on state ``check_at``."""

    name = "line"

    def __init__(self, step_at: int = -1, check_at: int = -1) -> None:
        self.step_at, self.check_at = step_at, check_at

    def initial_states(self):
        return [0]

    def actions(self, s):
        return [("inc",)] if s < 9 else []

    def step(self, s, a):
        if s == self.step_at:
            raise ZeroDivisionError(f"step at {s}")
        return s + 1

    def properties(self):
        def small(s):
            if s == self.check_at:
                raise KeyError(f"check at {s}")
            return s < 100
        return [invariant("small", small)]


def test_the_states_reach_every_rank() -> None:
    assert sorted({state_fingerprint(s) % 3 for s in range(9)}) == [0, 1, 2]
    assert sorted({state_fingerprint(s) % 2 for s in range(9)}) == [0, 1]


def _run(m: Model, ranks: int) -> Any:
    """The partitioned search on ``ranks`` ranks (1: Loopback, in this process)."""
    return parallel_check(m, list(m.properties()), Bounds(), True, False, None, None, ranks)


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_a_model_exception_on_any_rank_is_raised_as_in_one_process(ranks: int) -> None:
    for at in range(9):
        with pytest.raises(ZeroDivisionError, match=f"^step at {at}$"):
            _run(Line(step_at=at), ranks)
        with pytest.raises(KeyError, match=f"check at {at}"):
            _run(Line(check_at=at), ranks)
    assert (_run(Line(), ranks).states, _run(Line(), ranks).transitions) == (10, 9)


KILLER = """\
import os, signal, sys
sys.path.insert(0, {root!r})
from mcheck import Model, check, invariant
from mcheck.errors import UsageError

class Kills(Model):
    name = "kills"
    home = os.getpid()
    def initial_states(self):
        return [0]
    def actions(self, s):
        return [("inc",)] if s < 9 else []
    def step(self, s, a):
        if s == {at} and os.getpid() != self.home:
            os.kill(os.getpid(), signal.SIGKILL)
        return s + 1
    def properties(self):
        return [invariant("any", lambda s: True)]

try:
    check(Kills(), workers=3)
except UsageError as e:
    print(e)
    sys.exit(2)
"""


@pytest.mark.parametrize("at", [s for s in range(9) if state_fingerprint(s) % 3][:2])
def test_a_killed_rank_ends_the_run_with_one_line_naming_it(at: int) -> None:
    script = textwrap.dedent(KILLER.format(root=str(ROOT), at=at))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stderr) == (2, "")
    assert r.stdout == (
        f"mcheck: worker process {state_fingerprint(at) % 3} was killed by signal 9 "
        "(SIGKILL); the search stopped on every worker; a worker killed by signal 9 is "
        "usually the system's out-of-memory killer: give --max-memory, or fewer --workers\n")


def _key(r: Any) -> tuple[Any, ...]:
    return (r.verdict, r.states, r.transitions, r.depth, r.stopped_by, r.exhausted,
            [(p.name, p.verdict, p.count, p.path, p.message) for p in r.properties.values()])


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_levels_exchanged_in_many_chunks_give_the_same_results(ranks: int, monkeypatch) -> None:
    """Three states a rank between exchanges (forked ranks inherit the setting)."""
    import mcheck.parallel
    from examples.toys import LostUpdate, Philosophers
    from mcheck import check
    from models.cow import mcheck_models

    monkeypatch.setattr(mcheck.parallel, "CHUNK", 3)
    models = [Philosophers(3), LostUpdate(),
              mcheck_models({"policy": "E3", "scenario": "S07"})[0]]
    runs: list[dict[str, Any]] = [{}, {"stop_at_first": False, "deadlock": True},
                                  {"bounds": Bounds(max_states=300)},
                                  {"bounds": Bounds(max_depth=7)}]
    for m in models:
        for kw in runs:
            props = list(m.properties())
            args = (kw.get("bounds", Bounds()), kw.get("stop_at_first", True),
                    kw.get("deadlock", False), None, None, ranks)
            assert _key(parallel_check(m, props, *args)) == _key(check(m, **kw)), (m.name, kw)


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_the_memory_bound_stops_at_the_first_level_boundary_past_it(ranks: int) -> None:
    from examples.toys import Increments

    m = Increments(3)
    r = parallel_check(m, list(m.properties()), Bounds(max_memory=1), True, False, None, None,
                       ranks)
    assert (r.verdict.value, r.stopped_by, r.states, r.transitions, r.depth) == \
        ("undetermined", "memory", 1, 0, 0)


class Fan(Model):
    """0 -> 1..8 -> s*10+k (k < 3): a wide level where a violation and a model's exception
    race.  Stepping ``boom`` (a (state, action) pair) raises; ``bad`` breaks the invariant;
    the transition property raises on ``tboom``, and is violated on ``tbad``."""

    name = "fan"

    def __init__(self, boom: Any = None, bad: int = -1, tboom: Any = None,
                 tbad: Any = None) -> None:
        self.boom, self.bad, self.tboom, self.tbad = boom, bad, tboom, tbad

    def initial_states(self):
        return [0]

    def actions(self, s):
        if s == 0:
            return list(range(1, 9))
        return list(range(3)) if s < 10 else []

    def step(self, s, a):
        if (s, a) == self.boom:
            raise ZeroDivisionError(f"step {s} {a}")
        return a if s == 0 else s * 10 + a

    def is_final(self, s):
        return s >= 10

    def properties(self):
        from mcheck import transition

        def edge(s, a, t):
            if (s, a) == self.tboom:
                raise KeyError(f"edge {s} {a}")
            return (s, a) != self.tbad
        return [invariant("not_bad", lambda s: s != self.bad), transition("edge", edge)]


def _outcome(run: Any) -> Any:
    try:
        return ("result", _key(run()))
    except (ZeroDivisionError, KeyError) as e:
        return ("raised", type(e).__name__, str(e))


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_a_violation_or_bound_before_a_model_exception_wins_as_in_one_process(
        ranks: int, monkeypatch) -> None:
    """In one process the search stops at whichever comes first in its order: a violation,
    the state bound, or a model's exception; the partitioned search weighs the same places
    (its ranks expand in chunks of 2 states, so the exception falls mid-level)."""
    import mcheck.parallel
    from mcheck import check

    monkeypatch.setattr(mcheck.parallel, "CHUNK", 2)
    cases: list[tuple[Fan, dict[str, Any]]] = []
    for p in (1, 4, 8):
        for a in (0, 2):
            for bad in (11, 12, 40, 42, 80, 81):
                cases.append((Fan(boom=(p, a), bad=bad), {}))
                cases.append((Fan(boom=(p, a), bad=bad), {"stop_at_first": False}))
            for tbad in ((1, 1), (4, 0), (8, 2)):
                cases.append((Fan(tboom=(p, a), tbad=tbad), {}))
            for n in (12, 18, 24, 33):
                cases.append((Fan(boom=(p, a)), {"bounds": Bounds(max_states=n)}))
    outcomes = set()
    for m, kw in cases:
        props = list(m.properties())
        args = (kw.get("bounds", Bounds()), kw.get("stop_at_first", True), False, None, None,
                ranks)
        want = _outcome(lambda m=m, kw=kw: check(m, store="fingerprint", **kw))
        got = _outcome(lambda m=m, props=props, args=args: parallel_check(m, props, *args))
        assert got == want, (m.boom, m.bad, m.tboom, m.tbad, kw)
        outcomes.add(want[0])
    assert outcomes == {"result", "raised"}  # both orders are exercised
