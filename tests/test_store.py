"""The stores and bounds never turn a violation into HOLDS (issue: never a false HOLDS)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mcheck import Bounds, Model, Verdict, check, invariant
from mcheck.fingerprint import state_fingerprint
from mcheck.result import build_result
from mcheck.store import ExactStore, FingerprintStore, collision_probability, make_store

ROOT = Path(__file__).resolve().parent.parent


class MinusOneMinusTwo(Model):
    """(0, 7) -> (-1, 7) and (-2, 7): CPython's hash gives -1 and -2 alike."""

    name = "minus-one-minus-two"

    def initial_states(self):
        return [(0, 7)]

    def actions(self, s):
        return [("a", 0), ("b", 0)] if s == (0, 7) else []

    def step(self, s, a):
        return (-1, 7) if a[0] == "a" else (-2, 7)

    def properties(self):
        return [invariant("not_minus_two", lambda s: s[0] != -2)]


@pytest.mark.parametrize("store,workers", [("exact", 1), ("fingerprint", 1),
                                           ("fingerprint", 2)])
def test_states_that_differ_in_minus_one_and_minus_two_do_not_merge(store, workers):
    r = check(MinusOneMinusTwo(), store=store, workers=workers)
    assert r.verdict is Verdict.VIOLATED
    assert r.states == 3
    assert r.properties["not_minus_two"].path.states == ((0, 7), (-2, 7))


def test_fingerprint_is_canonical_and_injective_on_small_values():
    values = [(), (0,), (-1,), (-2,), ((),), ((), ()), (((),),), (1, (2,)), ((1, 2),),
              (1, 2), (2**31,), (2**31 - 1,), (-(2**31),), (2**63,), (-(2**63),), (2**200,)]
    fps = [state_fingerprint(v) for v in values]
    assert len(set(fps)) == len(values)
    # Shared sub-objects do not change the encoding (marshal version 2 has no references).
    inner = (5, -3)
    assert state_fingerprint((inner, inner)) == state_fingerprint(((5, -3), (5, -3 + 0)))
    # Exhaustive: all pairs of small ints give distinct fingerprints.
    grid = [(a, b) for a in range(-40, 40) for b in range(-40, 40)]
    assert len({state_fingerprint(s) for s in grid}) == len(grid)
    assert all(-(2**63) <= f < 2**63 for f in fps)


def test_fingerprint_is_the_same_under_any_hash_seed():
    code = ("from mcheck.fingerprint import state_fingerprint as f;"
            "print(f(((0, -1, -2), (2**70, ()))))")
    outs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout)
    assert outs == {f"{state_fingerprint(((0, -1, -2), (2**70, ())))}\n"}


def test_fingerprint_store_refuses_states_that_are_not_ints_and_tuples():
    store = FingerprintStore()
    with pytest.raises(ValueError, match="ints and tuples only"):
        store.add_initial((1, "x"))


def test_the_stores_keep_the_same_states_in_the_same_order():
    exact, fp = make_store("exact"), make_store("fingerprint")
    assert isinstance(exact, ExactStore) and isinstance(fp, FingerprintStore)
    for s in [(0,), (1,)]:
        assert exact.add_initial(s) and fp.add_initial(s)
    assert not exact.add_initial((0,)) and not fp.add_initial((0,))
    exact.next_level()
    fp.next_level()
    assert exact.add((2,), 1, (1,), 0) and fp.add((2,), 1, (1,), 0)
    assert not exact.add((0,), 0, (0,), 1) and not fp.add((0,), 0, (0,), 1)
    assert len(exact) == len(fp) == 3
    assert (2,) in exact and (2,) in fp and (3,) not in fp
    assert fp.chain(1, 0) == [state_fingerprint((1,)), state_fingerprint((2,))]
    with pytest.raises(ValueError, match="unknown store 'disk'"):
        make_store("disk")


def test_collision_probability_is_the_birthday_bound():
    assert collision_probability(0) == 0.0
    assert collision_probability(2) == pytest.approx(1 / 2.0 ** 64)
    assert collision_probability(197_341) == pytest.approx(197_341 * 197_340 / 2 / 2.0 ** 64)
    assert collision_probability(2 ** 40) == 1.0


def test_a_result_cannot_be_exhausted_and_stopped():
    with pytest.raises(ValueError, match="both exhausted and stopped by depth"):
        build_result(model="m", strategy="bfs", props=[], deadlock=False, found={},
                     counts={}, witness={}, exhausted=True, stopped_by="depth", states=1,
                     transitions=0, depth=0, elapsed=0.0, bounds=Bounds(), store=None)


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), "3", True])
def test_bounds_must_be_finite_numbers_above_zero(value):
    with pytest.raises(ValueError, match="bound max_depth must be"):
        Bounds(max_depth=value)


# -- max_depth equal to the last level ---------------------------------------------------


def _philosophers():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import toys
    finally:
        sys.path.pop(0)
    return toys.Philosophers(3)


@pytest.mark.parametrize("mode", [dict(), dict(store="fingerprint"),
                                  dict(store="fingerprint", workers=2),
                                  dict(store="fingerprint", workers=3)])
def test_max_depth_at_the_last_level_still_finds_its_deadlock(mode):
    full = check(_philosophers(), deadlock=True, **mode)
    assert full.verdict is Verdict.VIOLATED
    assert len(full.properties["deadlock"].path) == 3
    r = check(_philosophers(), deadlock=True, bounds=Bounds(max_depth=3), **mode)
    assert r.verdict is Verdict.VIOLATED
    assert len(r.properties["deadlock"].path) == 3
    assert (r.states, r.transitions, r.depth, r.stopped_by) == (14, 26, 3, "violation")


@pytest.mark.parametrize("mode", [dict(), dict(store="fingerprint"),
                                  dict(store="fingerprint", workers=2), dict(strategy="dfs")])
def test_a_depth_bound_that_cut_something_is_undetermined(mode):
    r = check(_philosophers(), bounds=Bounds(max_depth=2), **mode)
    assert r.verdict is Verdict.UNDETERMINED
    assert r.stopped_by == "depth" and not r.exhausted
    assert all(p.verdict is Verdict.UNDETERMINED for p in r.properties.values())


class Line(Model):
    """0 -> 1 -> 2 -> 3, then 3 -> 0: four states, a cycle, no deadlock."""

    name = "line"

    def initial_states(self):
        return [0]

    def actions(self, s):
        return [("next", 0)]

    def step(self, s, a):
        return (s + 1) % 4

    def properties(self):
        return [invariant("small", lambda s: s < 4)]


@pytest.mark.parametrize("mode", [dict(), dict(store="fingerprint"),
                                  dict(store="fingerprint", workers=2), dict(strategy="dfs")])
def test_a_depth_bound_that_cut_nothing_exhausts(mode):
    r = check(Line(), bounds=Bounds(max_depth=3), **mode)
    assert (r.verdict, r.exhausted, r.stopped_by) == (Verdict.HOLDS, True, None)
    assert (r.states, r.transitions) == (4, 4)
    r = check(Line(), bounds=Bounds(max_depth=2), **mode)
    assert (r.verdict, r.stopped_by, r.states) == (Verdict.UNDETERMINED, "depth", 3)


# -- time bounds and interrupts reach user code ------------------------------------------

HANG = textwrap.dedent("""
    from mcheck import Model, invariant

    class Hang(Model):
        name = "hang"

        def initial_states(self):
            return [0]

        def actions(self, s):
            return [("inc", 0)]

        def step(self, s, a):
            if s == 5:
                while True:
                    try:
                        pass
                    except Exception:
                        pass
            return s + 1

        def properties(self):
            return [invariant("small", lambda s: s < 100)]
""")


def _hang() -> Model:
    ns: dict = {}
    exec(compile(HANG, "hang", "exec"), ns)
    return ns["Hang"]()


@pytest.mark.parametrize("mode", [dict(), dict(store="fingerprint", workers=2)])
def test_timeout_stops_a_step_function_that_never_returns(mode):
    r = check(_hang(), bounds=Bounds(timeout=0.3), **mode)
    assert (r.verdict, r.stopped_by, r.states) == (Verdict.UNDETERMINED, "time", 6)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler,
                                                None)


@pytest.mark.parametrize("mode", [dict(), dict(store="fingerprint", workers=2)])
def test_an_interrupt_stops_the_search_with_what_it_found(mode):
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        r = check(_hang(), **mode)
    finally:
        timer.cancel()
    assert (r.verdict, r.stopped_by, r.states) == (Verdict.UNDETERMINED, "interrupt", 6)
    assert not r.exhausted


class ThreeStill(Model):
    """Three initial states, no transitions."""

    name = "three-still"

    def initial_states(self):
        return [(0,), (1,), (2,)]

    def actions(self, s):
        return []

    def step(self, s, a):
        raise AssertionError("no action")

    def properties(self):
        return [invariant("any", lambda s: True)]


@pytest.mark.parametrize("mode", [dict(), dict(store="fingerprint"),
                                  dict(store="fingerprint", workers=2), dict(strategy="dfs")])
def test_a_state_bound_reached_by_the_initial_states_is_the_same_in_every_mode(mode):
    r = check(ThreeStill(), bounds=Bounds(max_states=1), **mode)
    assert (r.verdict, r.stopped_by, r.states, r.transitions) == \
        (Verdict.UNDETERMINED, "states", 3, 0)
    assert check(ThreeStill(), bounds=Bounds(max_states=4), **mode).verdict is Verdict.HOLDS


class KillsItsWorker(Model):
    """Steps 0 -> 1 -> ...; a worker process that steps state 3 is killed (SIGKILL), as the
    kernel's out-of-memory killer would."""

    name = "kills-its-worker"

    def __init__(self) -> None:
        self.home = os.getpid()

    def initial_states(self):
        return [0]

    def actions(self, s):
        return [("inc", 0)] if s < 6 else []

    def step(self, s, a):
        if s == 3 and os.getpid() != self.home:
            os.kill(os.getpid(), signal.SIGKILL)
        return s + 1

    def properties(self):
        return [invariant("any", lambda s: True)]


def test_a_worker_that_dies_stops_the_run_with_one_line_naming_it():
    from mcheck.parallel import WorkerDied

    with pytest.raises(WorkerDied) as e:
        check(KillsItsWorker(), store="fingerprint", workers=2)
    assert str(e.value).startswith(f"mcheck: worker process {e.value.worker} was killed by "
                                   "signal 9 (SIGKILL); the search stopped on every worker; ")
    assert "out-of-memory killer" in str(e.value)
    assert check(KillsItsWorker()).verdict is Verdict.HOLDS  # no worker: nothing is killed


def test_a_store_size_not_reported_reads_as_unknown_not_zero():
    from mcheck.report import store_json
    from mcheck.result import StoreInfo

    info = StoreInfo("compact", 45, None, 1e-16)
    assert info.summary() == ("compact store: 45 states, size unknown (the search stopped before "
                              "every rank reported it), probability of a fingerprint collision "
                              "about 1.0e-16")
    assert store_json(info) == {"kind": "compact", "bytes_per_state": None,
                                "collision_probability": 1e-16}
    assert store_json(StoreInfo("compact", 45, 14.567, 1e-16))["bytes_per_state"] == 14.6
