"""The compact store: its fingerprint set against a Python set, its files, its paths."""

from __future__ import annotations

import io
import json
import sys
from array import array
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examples.allocator import Allocator
from examples.toys import Increments, Ladder, LostUpdate, Philosophers
from mcheck import Bounds, Model, Verdict, check, invariant
from mcheck.compact import FingerprintSet
from mcheck.fingerprint import state_fingerprint
from mcheck.store import STORES, CompactStore, collision_probability, make_store
from mcheck.symmetry import Canonicaliser
from models.cow import mcheck_models

LO, HI = -(1 << 63), (1 << 63) - 1

# Fingerprints: anywhere in 64 bits, the extremes, and crowds in one bucket (small values,
# -1 next to -2, runs that share every top bit).
fingerprints = st.one_of(
    st.integers(LO, HI),
    st.sampled_from([LO, LO + 1, -2, -1, 0, 1, HI - 1, HI]),
    st.integers(-40, 40),
    st.integers(LO, LO + 100),
    st.integers((1 << 62) - 50, (1 << 62) + 50),
)


def _check_against(fs: FingerprintSet, ref: set[int]) -> None:
    assert len(fs) == len(ref)
    assert list(fs) == sorted(ref)
    assert all(fp in fs for fp in ref)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(fingerprints, max_size=400), st.integers(0, 6), st.integers(1, 8),
       st.lists(fingerprints, max_size=50))
def test_the_set_agrees_with_a_python_set(fps: list[int], bits: int, split_at: int,
                                          probes: list[int]) -> None:
    fs = FingerprintSet(bits=bits, split_at=split_at)
    ref: set[int] = set()
    for fp in fps + fps[: len(fps) // 3]:  # a third of them twice
        assert fs.add(fp) is (fp not in ref)
        ref.add(fp)
    _check_against(fs, ref)
    for fp in probes:
        assert (fp in fs) is (fp in ref)
    # The buckets doubled whenever the mean passed split_at, and only then.
    want = bits
    while len(ref) >= split_at << want:
        want += 1
    assert fs.buckets == 1 << want


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(st.lists(st.tuples(st.booleans(), fingerprints), max_size=300), st.integers(1, 8))
def test_adds_and_discards_agree_with_a_python_set(ops: list[tuple[bool, int]],
                                                   split_at: int) -> None:
    fs = FingerprintSet(bits=0, split_at=split_at)
    ref: set[int] = set()
    for add, fp in ops:
        if add:
            assert fs.add(fp) is (fp not in ref)
            ref.add(fp)
        else:
            fs.discard(fp)
            ref.discard(fp)
        assert (fp in fs) is (fp in ref)
    _check_against(fs, ref)


def test_the_set_splits_at_its_threshold_and_keeps_order():
    fs = FingerprintSet(range(-1000, 1000), bits=1, split_at=64)
    assert fs.buckets == 32 and len(fs) == 2000  # 2000 >= 64 * 16, < 64 * 32
    assert list(fs) == list(range(-1000, 1000))
    assert -1 in fs and -2 in fs and 1000 not in fs and -1001 not in fs


def test_out_of_range_fingerprints_are_refused_and_never_members():
    fs = FingerprintSet([LO, HI])
    for bad in (HI + 1, LO - 1, 1 << 64, -(1 << 64), 1 << 200):
        with pytest.raises(OverflowError):
            fs.add(bad)
        assert bad not in fs
        fs.discard(bad)
    assert "x" not in fs and 1.0 not in fs
    assert list(fs) == [LO, HI]
    with pytest.raises(ValueError, match="bucket bits must be in 0..40, got 41"):
        FingerprintSet(bits=41)
    with pytest.raises(ValueError, match="split_at must be at least 1, got 0"):
        FingerprintSet(split_at=0)


def test_nbytes_counts_the_arrays_as_allocated():
    grown = array("q")
    for fp in range(1000):
        grown.insert(len(grown), fp)  # what one bucket does with these fingerprints
    assert sys.getsizeof(grown) > sys.getsizeof(grown[:])  # spare room
    empty = FingerprintSet(bits=0, split_at=1001).nbytes()
    assert FingerprintSet(range(1000), bits=0, split_at=1001).nbytes() - empty == \
        sys.getsizeof(grown) - sys.getsizeof(array("q"))


@settings(max_examples=50, derandomize=True, database=None, deadline=None)
@given(st.lists(fingerprints, max_size=300))
def test_write_and_read_give_the_same_set(fps: list[int]) -> None:
    fs = FingerprintSet(fps, split_at=4)
    buf = io.BytesIO()
    fs.write(buf)
    assert len(buf.getvalue()) == 16 + 8 * len(set(fps))
    buf.seek(0)
    back = FingerprintSet.read(buf)
    _check_against(back, set(fps))
    assert back.add(12345) is (12345 not in set(fps))


def test_a_large_set_round_trips_through_a_file(tmp_path):
    fps = [state_fingerprint((i,)) for i in range(70_000)]  # more than one chunk
    fs = FingerprintSet(fps)
    path = tmp_path / "seen.fps"
    with open(path, "wb") as f:
        fs.write(f)
    with open(path, "rb") as f:
        back = FingerprintSet.read(f)
    assert list(back) == list(fs) == sorted(fps)
    assert back.buckets == fs.buckets == 256  # 70,000 >= 512 * 128


def _written(fps: list[int]) -> bytes:
    buf = io.BytesIO()
    FingerprintSet(fps).write(buf)
    return buf.getvalue()


@pytest.mark.parametrize(("mangle", "message"), [
    (lambda b: b[:10], "truncated fingerprint set (no header)"),
    (lambda b: b"XCFPSET1" + b[8:], "not a fingerprint set (bad header)"),
    (lambda b: b[:-8], "truncated fingerprint set (2 of 3 fingerprints)"),
    (lambda b: b[:-3], "truncated fingerprint set (2 of 3 fingerprints)"),
    (lambda b: b + b"\0", "corrupt fingerprint set (data after the last fingerprint)"),
    (lambda b: b[:16] + b[24:32] + b[16:24] + b[32:],
     "corrupt fingerprint set (fingerprints out of order)"),
    (lambda b: b[:16] + b[16:24] * 2 + b[32:],
     "corrupt fingerprint set (fingerprints out of order)"),
], ids=["header", "magic", "short", "ragged", "trailing", "order", "duplicate"])
def test_a_damaged_file_is_refused_with_its_name(tmp_path, mangle, message):
    path = tmp_path / "seen.fps"
    path.write_bytes(mangle(_written([-2, -1, 7])))
    with open(path, "rb") as f, pytest.raises(ValueError) as e:
        FingerprintSet.read(f)
    assert str(e.value) == f"{path}: {message}"


# -- the store ----------------------------------------------------------------------------------


def test_the_compact_store_is_one_of_the_stores():
    assert STORES == ("exact", "fingerprint", "compact")
    assert isinstance(make_store("compact"), CompactStore)
    with pytest.raises(ValueError, match="use 'exact', 'fingerprint' or 'compact'"):
        make_store("disk")
    with pytest.raises(ValueError, match="BFS only"):
        check(Ladder(), strategy="dfs", store="compact")


def test_the_store_keeps_ranks_and_indices_and_trims_a_closed_level():
    st_ = CompactStore()
    assert st_.add_initial((0,)) and st_.add_initial((1,)) and not st_.add_initial((0,))
    st_.next_level()
    assert st_.add((2,), 1, (1,), 3) and not st_.add((0,), 0, (0,), 0)
    assert st_.add((3,), 0, (0,), 70_000)  # an index above 65535 widens the level
    st_.next_level()
    assert st_.add((4,), 1, (3,), 2)
    assert len(st_) == 5 and (4,) in st_ and (5,) not in st_
    assert st_.steps(2, 0) == (0, [70_000, 2])
    assert st_.steps(1, 0) == (1, [3])
    assert [a.typecode for a in st_.levels_par] == ["i", "i"]
    assert [a.typecode for a in st_.levels_index] == ["L", "H"]
    closed = st_.levels_par[0]
    assert sys.getsizeof(closed) == sys.getsizeof(array("i", closed))  # no spare room
    with pytest.raises(ValueError, match="ints and tuples only"):
        st_.add((True,), 0, (2,), 0)
    with pytest.raises(ValueError, match="ints and tuples only"):
        st_.add_initial((None,))
    assert len(st_) == 5 and (True,) not in st_ and (None,) not in st_  # taken out again
    assert len(st_.levels_par[-1]) == len(st_.levels_index[-1]) == 1


class Fan(Model):
    """0 steps to each of 1..70,000; state 69,999 is bad (successor index 69,998)."""

    name = "fan"

    def initial_states(self) -> list[Any]:
        return [(0,)]

    def actions(self, s: Any) -> list[Any]:
        return [("to", k) for k in range(1, 70_001)] if s == (0,) else []

    def step(self, s: Any, a: Any) -> Any:
        return (a[1],)

    def properties(self) -> list[Any]:
        return [invariant("not_69999", lambda s: s != (69_999,))]


def test_a_successor_index_above_65535_rebuilds_its_path():
    r = check(Fan(), store="compact")
    assert r.verdict is Verdict.VIOLATED and r.states == 70_000
    assert r.properties["not_69999"].path.states == ((0,), (69_999,))
    assert r.properties["not_69999"].path.actions == (("to", 69_999),)


def _key(r: Any) -> tuple[Any, ...]:
    return (r.verdict, r.states, r.transitions, r.depth, r.stopped_by, r.exhausted,
            [(p.name, p.verdict, p.count, p.path, p.message) for p in r.properties.values()])


def _cow(policy: str, **opts: Any) -> Model:
    [m] = mcheck_models({"policy": policy, **opts})
    return m


RDMA = {"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-slow"}
CVE = {"budget": "fork=1,get=1,unmap=1,write=2", "gup_modes": "ro-slow,ro-fast"}

MODELS = {
    "lost-update": lambda: LostUpdate(),
    "philosophers": lambda: Philosophers(4),
    "ladder": lambda: Ladder(6),
    "increments": lambda: Increments(2),
    "allocator-leak": lambda: Allocator(3, 2, leak=True),
    "cow-rdma-E3t": lambda: _cow("E3t", **RDMA),
    "cow-cve-E1": lambda: _cow("E1", **CVE),
    "cow-S07-E3": lambda: _cow("E3", scenario="S07"),
}


SYMMETRIC = ("increments", "allocator-leak", "cow-rdma-E3t", "cow-cve-E1", "cow-S07-E3")


@pytest.mark.parametrize(("name", "symmetry"),
                         [(n, False) for n in MODELS] + [(n, True) for n in SYMMETRIC])
def test_the_compact_store_gives_the_fingerprint_stores_result_and_paths(name, symmetry):
    model = MODELS[name]()
    kw: dict[str, Any] = {"deadlock": True, "stop_at_first": False}
    if symmetry:
        kw["canonical"] = Canonicaliser(model.symmetry())
    fp = check(model, store="fingerprint", **kw)
    compact = check(model, store="compact", **kw)
    assert _key(compact) == _key(fp)
    assert _key(compact) == _key(check(model, **kw))  # and the exact store's
    assert any(p.path is not None for p in compact.properties.values()) or name in (
        "increments",)
    assert compact.store is not None and compact.store.kind == "compact"
    assert compact.store.collision_probability == collision_probability(compact.states)


@pytest.mark.parametrize("bound", [Bounds(max_states=100), Bounds(max_depth=3)])
def test_a_bounded_compact_search_is_the_fingerprint_searchs(bound):
    model = _cow("E6", **CVE)
    fp = check(model, store="fingerprint", bounds=bound, deadlock=True, stop_at_first=False)
    compact = check(model, store="compact", bounds=bound, deadlock=True, stop_at_first=False)
    assert _key(compact) == _key(fp)
    assert compact.verdict is Verdict.UNDETERMINED


def test_the_compact_stores_size_on_a_fixed_run_is_pinned():
    # The one home of these numbers: tests/compact.json, written by tests/update_compact.py.
    pinned = json.loads((Path(__file__).parent / "compact.json").read_text())
    assert pinned["python"] == "{}.{}".format(*sys.version_info[:2]), "rerun update_compact.py"
    r = check(Philosophers(pinned["procs"]), store="compact")
    assert r.store is not None
    assert (r.states, r.store.bytes_per_state) == (pinned["states"], pinned["bytes_per_state"])
    assert r.store.bytes_per_state < 16
