"""The fingerprint store and worker processes give the exact store's results.

Verdicts, state and transition counts, depths, metric counts and traces must
be identical at any number of workers, whether the search is exhausted,
stopped at the first violation, collecting, or cut by a bound.
"""

from __future__ import annotations

import pytest

from examples.toys import Increments, LostUpdate, Philosophers
from mcheck import Bounds, Model, Verdict, check, invariant
from models.cow import mcheck_models


def _key(r):
    return (r.verdict, r.states, r.transitions, r.depth, r.stopped_by, r.exhausted,
            [(p.name, p.verdict, p.count, p.path, p.message) for p in r.properties.values()])


class Twins(Model):
    """Issue 10 item 1: (0, 7) steps to (-1, 7) and to (-2, 7), and (-2, 7) is bad.

    CPython hashes -1 and -2 alike, so a store keyed by ``hash`` merged the two."""

    name = "twins"

    def initial_states(self):
        return [(0, 7)]

    def actions(self, s):
        return [("t", -1), ("t", -2)] if s[0] == 0 else []

    def step(self, s, a):
        return (a[1], s[1])

    def is_final(self, s):
        return s[0] != 0

    def properties(self):
        return [invariant("not_minus_2", lambda s: s[0] != -2)]


MODELS = (
    ("twins", lambda: Twins()),
    ("philosophers-3", lambda: Philosophers(3)),
    ("lost-update", lambda: LostUpdate()),
    ("increments-2", lambda: Increments(2)),
    ("cow-S07-E3", lambda: mcheck_models({"policy": "E3", "scenario": "S07"})[0]),
    ("cow-X12b-E4", lambda: mcheck_models({"policy": "E4", "scenario": "X12b"})[0]),
    ("cow-S15-E3", lambda: mcheck_models({"policy": "E3", "scenario": "S15"})[0]),
    ("cow-open-E3-race", lambda: mcheck_models({
        "policy": "E3", "budget": "fork=1,pin=1,write=2", "threads": 2,
        "gup_modes": "rw-fast"})[0]),
)
RUNS = (
    ("first", {}),
    ("collect", {"stop_at_first": False, "deadlock": True}),
    ("states-bound", {"bounds": Bounds(max_states=300)}),
    ("depth-bound", {"bounds": Bounds(max_depth=7)}),
)


@pytest.mark.parametrize(("name", "make"), MODELS, ids=[m[0] for m in MODELS])
@pytest.mark.parametrize(("run", "kw"), RUNS, ids=[r[0] for r in RUNS])
def test_same_results_at_any_worker_count(name, make, run, kw) -> None:
    m = make()
    exact = check(m, **kw)
    fp = check(m, store="fingerprint", **kw)
    assert _key(fp) == _key(exact)
    for workers in (2, 3):
        assert _key(check(m, workers=workers, **kw)) == _key(exact), workers


def test_pinned_counts_of_the_open_race_config() -> None:
    [m] = mcheck_models({"policy": "E6", "budget": "fork=1,pin=1,write=2", "threads": 2,
                         "gup_modes": "rw-fast"})
    r = check(m, workers=2)
    assert (r.verdict.value, r.states, r.transitions) == ("holds", 20162, 54254)
    assert r.store is not None and r.store.kind == "fingerprint"
    assert 0 < r.store.collision_probability < 1e-9


def test_fingerprint_store_reports_its_size_and_collision_estimate() -> None:
    r = check(Increments(3), store="fingerprint")
    assert r.states == 31976
    assert 40 < r.store.bytes_per_state < 200
    assert r.store.collision_probability == pytest.approx(31976 * 31975 / 2 / 2.0 ** 64)


def test_fingerprint_store_refuses_non_int_states() -> None:
    class Named(LostUpdate):
        def initial_states(self):
            return [("x", 0)]

    with pytest.raises(ValueError, match="ints and tuples only"):
        check(Named(), store="fingerprint")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown store"):
        check(LostUpdate(), store="bloom")
    with pytest.raises(ValueError, match="at least 1"):
        check(LostUpdate(), workers=0)
    with pytest.raises(ValueError, match="breadth-first only"):
        check(LostUpdate(), workers=2, strategy="dfs")
    with pytest.raises(ValueError, match="^worker processes search breadth-first only; "
                                         "drop --dfs$"):
        check(LostUpdate(), resume="somewhere", strategy="dfs")
    with pytest.raises(ValueError, match="^checkpoint must name a directory, got an empty "
                                         "path$"):
        check(LostUpdate(), checkpoint="")
    with pytest.raises(ValueError, match="^checkpoint_every needs a checkpoint directory$"):
        check(LostUpdate(), checkpoint_every=5)
    with pytest.raises(ValueError, match=r"^checkpoint_every must be a positive number of "
                                         r"seconds, got 0$"):
        check(LostUpdate(), checkpoint="somewhere", checkpoint_every=0)


@pytest.mark.parametrize("kw", [{}, {"store": "fingerprint"}, {"workers": 2}, {"workers": 3}],
                         ids=["exact", "fingerprint", "2-workers", "3-workers"])
def test_states_differing_only_in_minus_1_and_minus_2_stay_apart(kw) -> None:
    r = check(Twins(), deadlock=True, stop_at_first=False, **kw)
    assert (r.verdict, r.states, r.transitions, r.exhausted) == (Verdict.VIOLATED, 3, 2, True)
    assert r.properties["not_minus_2"].path.states == ((0, 7), (-2, 7))
    assert r.properties["deadlock"].verdict is Verdict.HOLDS
