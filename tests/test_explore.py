"""The search on the toys: exact state counts, traces, bounds, deadlocks, metrics."""

from __future__ import annotations

import pytest

from examples.toys import Increments, Ladder, LostUpdate, Philosophers
from mcheck import Bounds, Kind, Verdict, check


def test_increments_4_exact_counts():
    """The benchmark toy: Rumur and SPIN agree on these numbers (takes a few seconds)."""
    r = check(Increments(4))
    assert (r.states, r.transitions) == (907_216, 3_628_864)
    assert r.verdict is Verdict.HOLDS and r.exhausted and r.stopped_by is None
    assert r.depth == 43


@pytest.mark.parametrize("procs, states, transitions, depth", [
    (1, 26, 26, 25),
    (2, 1_012, 2_024, 31),
    (3, 31_976, 95_928, 37),
])
def test_increments_small_exact_counts(procs, states, transitions, depth):
    r = check(Increments(procs))
    assert (r.states, r.transitions, r.depth) == (states, transitions, depth)
    assert r.verdict is Verdict.HOLDS


def test_increments_dfs_finds_the_same_space():
    r = check(Increments(2), strategy="dfs")
    assert (r.states, r.transitions) == (1_012, 2_024)
    assert r.verdict is Verdict.HOLDS


def test_lost_update_shortest_trace_and_counts():
    r = check(LostUpdate())
    assert r.verdict is Verdict.VIOLATED and r.stopped_by == "violation"
    p = r.properties["final_x_is_2"]
    assert p.verdict is Verdict.VIOLATED
    assert p.path.actions == ((0,), (1,), (0,), (1,))
    assert p.path.states == ((0, 0, 0, 0, 0), (0, 1, 0, 0, 0), (0, 1, 0, 1, 0),
                             (1, 2, 0, 1, 0), (1, 2, 0, 2, 0))
    assert p.message == "x = 1 at the end"
    assert r.states == 12  # stopped at the first violation
    assert r.properties["x_never_decreases"].verdict is Verdict.UNDETERMINED


def test_lost_update_full_space():
    r = check(LostUpdate(), stop_at_first=False)
    assert (r.states, r.transitions, r.depth) == (13, 14, 4)
    assert r.exhausted
    assert r.properties["final_x_is_2"].verdict is Verdict.VIOLATED
    assert r.properties["x_never_decreases"].verdict is Verdict.HOLDS


def test_dfs_finds_the_violation_too():
    r = check(LostUpdate(), strategy="dfs")
    assert r.verdict is Verdict.VIOLATED
    path = r.properties["final_x_is_2"].path
    assert path.states[-1][0] == 1 and path.states[-1][1] == path.states[-1][3] == 2
    r = check(Ladder(5), strategy="dfs")
    assert r.properties["quiet_at_the_top"].path.actions[-1] == ("bell",)


def test_metric_count_and_shortest_witness():
    r = check(LostUpdate(), stop_at_first=False)
    m = r.properties["stores"]
    assert m.kind is Kind.METRIC and m.verdict is Verdict.HOLDS
    assert m.count == 8
    assert m.path.actions == ((0,), (0,))
    r = check(Philosophers(3))
    assert r.properties["meals"].count == 6
    assert r.properties["meals"].path.actions == (("ph", 0, "left"), ("ph", 0, "right"))


def test_metric_count_is_a_lower_bound_when_cut_short():
    r = check(LostUpdate())  # stops at the first violation
    assert r.properties["stores"].verdict is Verdict.UNDETERMINED
    assert r.properties["stores"].count == 6


@pytest.mark.parametrize("procs, states, transitions", [(2, 6, 8), (3, 14, 27), (4, 34, 88)])
def test_deadlock_detection_on_and_off(procs, states, transitions):
    off = check(Philosophers(procs))
    assert off.verdict is Verdict.HOLDS and "deadlock" not in off.properties
    assert (off.states, off.transitions) == (states, transitions)
    on = check(Philosophers(procs), deadlock=True)
    assert on.verdict is Verdict.VIOLATED
    d = on.properties["deadlock"]
    assert d.path.actions == tuple(("ph", i, "left") for i in range(procs))


def test_final_states_are_not_deadlocks():
    r = check(LostUpdate(), deadlock=True, stop_at_first=False)
    assert r.properties["deadlock"].verdict is Verdict.HOLDS


def test_deep_violation_needs_the_depth():
    r = check(Ladder(5), bounds=Bounds(max_depth=5))
    assert r.verdict is Verdict.UNDETERMINED and r.stopped_by == "depth"
    assert r.properties["quiet_at_the_top"].verdict is Verdict.UNDETERMINED
    r = check(Ladder(5), bounds=Bounds(max_depth=6))
    assert r.verdict is Verdict.VIOLATED
    assert len(r.properties["quiet_at_the_top"].path) == 6


def test_bound_states():
    r = check(Increments(3), bounds=Bounds(max_states=1000))
    assert r.verdict is Verdict.UNDETERMINED and r.stopped_by == "states"
    assert r.states == 1000 and not r.exhausted


@pytest.mark.parametrize("depth", [31, 32, 100])
def test_depth_at_or_above_the_diameter_holds(depth):
    r = check(Increments(2), bounds=Bounds(max_depth=depth))
    assert r.verdict is Verdict.HOLDS and r.exhausted and r.states == 1_012


def test_depth_below_the_diameter_is_undetermined():
    r = check(Increments(2), bounds=Bounds(max_depth=30))
    assert r.verdict is Verdict.UNDETERMINED and r.stopped_by == "depth"
    assert r.states == 1_006


def test_bound_time():
    r = check(Increments(4), bounds=Bounds(timeout=1e-6))
    assert r.verdict is Verdict.UNDETERMINED and r.stopped_by == "time"
    assert r.states < 907_216


def test_bound_memory():
    r = check(Increments(4), bounds=Bounds(max_memory=1))
    assert r.verdict is Verdict.UNDETERMINED and r.stopped_by == "memory"
    assert r.states < 907_216


@pytest.mark.parametrize("field", ["max_states", "max_depth", "timeout", "max_memory"])
@pytest.mark.parametrize("value", [0, -1])
def test_bounds_must_be_positive(field, value):
    with pytest.raises(ValueError, match=field):
        Bounds(**{field: value})


def test_a_violation_stands_under_a_bound():
    r = check(LostUpdate(), bounds=Bounds(max_states=12))
    assert r.properties["final_x_is_2"].verdict is Verdict.VIOLATED


def test_property_selection():
    r = check(LostUpdate(), properties=["x_never_decreases"])
    assert r.verdict is Verdict.HOLDS and list(r.properties) == ["x_never_decreases"]
    with pytest.raises(ValueError, match="unknown property"):
        check(LostUpdate(), properties=["nope"])


MODES = ({}, {"store": "fingerprint"}, {"workers": 2}, {"strategy": "dfs"})
MODE_IDS = ("bfs", "fingerprint", "workers", "dfs")


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_depth_bound_at_the_last_level_expands_it(mode):
    """Issue 10 item 2: the philosophers deadlock at depth 3, the deepest level; a bound
    of 3 said HOLDS without expanding that level."""
    r = check(Philosophers(3), deadlock=True, bounds=Bounds(max_depth=3), **mode)
    assert r.verdict is Verdict.VIOLATED
    assert r.properties["deadlock"].path.actions == tuple(("ph", i, "left") for i in range(3))
    r = check(Philosophers(3), deadlock=True, stop_at_first=False, bounds=Bounds(max_depth=3),
              **mode)
    assert (r.states, r.transitions, r.exhausted, r.stopped_by) == (14, 27, True, None)
    assert r.properties["neighbours_never_both_eat"].verdict is Verdict.HOLDS
    assert (r.properties["meals"].verdict, r.properties["meals"].count) == (Verdict.HOLDS, 6)


@pytest.mark.parametrize("mode", MODES[:3], ids=MODE_IDS[:3])
def test_depth_bound_that_cuts_is_undetermined_with_lower_bounds(mode):
    r = check(Philosophers(3), deadlock=True, stop_at_first=False, bounds=Bounds(max_depth=2),
              **mode)
    assert (r.verdict, r.stopped_by, r.exhausted) == (Verdict.UNDETERMINED, "depth", False)
    assert (r.states, r.transitions, r.depth) == (10, 24, 2)  # level 2 expanded, not stored
    assert {n: p.verdict for n, p in r.properties.items()} == {
        "neighbours_never_both_eat": Verdict.UNDETERMINED, "deadlock": Verdict.UNDETERMINED,
        "meals": Verdict.UNDETERMINED}
    assert r.properties["meals"].count == 6  # a lower bound (here all of them)
