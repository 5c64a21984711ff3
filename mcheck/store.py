"""Visited-state stores behind one protocol: the exact, fingerprint and compact stores.

The breadth-first search (:mod:`mcheck.explore`) names a stored state by its
*level* (its distance from an initial state), its *rank* (its place in that
level, in discovery order) and the state itself.  Each store keeps what it
needs of that name to answer two questions: has this state been stored, and
what is the path to a stored state?

* :class:`ExactStore` keeps every state with its parent state: no false
  merges, and the memory of a bare dict-plus-deque BFS.
* :class:`FingerprintStore` keeps a 64-bit fingerprint per state and, per
  level, each state's fingerprint and its parent's rank: about 90-130 bytes a
  state.  Two distinct states merge only when their fingerprints collide;
  the fingerprint (:func:`mcheck.fingerprint.state_fingerprint`) is a
  cryptographic digest of a canonical encoding, so no two states collide by
  construction, and :func:`collision_probability` is an honest estimate.
* :class:`CompactStore` keeps the same fingerprints in a
  :class:`mcheck.compact.FingerprintSet` and, per level, each state's
  parent rank and its place in the parent's successor list: about 15 bytes
  a state, the same collisions as the fingerprint store.

Actions are not stored.  A path is rebuilt by re-running the successor
function of each parent and taking the first action that leads to the
child, which is the action the search itself took first (the compact store
first replays the stored successor indices to find the states).  See
``../docs/stores.md``.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, Protocol

from mcheck.compact import FingerprintSet
from mcheck.fingerprint import (
    encode_state,
    fingerprint_of,
    require_int_encoding,
    state_fingerprint,
)
from mcheck.model import Model
from mcheck.result import Path, StoreInfo

__all__ = [
    "STORES",
    "CompactStore",
    "ExactStore",
    "FingerprintStore",
    "Store",
    "collision_probability",
    "make_store",
    "path_from_fingerprints",
    "path_to",
    "replay",
]

STORES = ("exact", "fingerprint", "compact")

Canon = Callable[[Any], Any] | None


class Store(Protocol):
    """What the search needs of a visited store.

    ``add_initial`` and ``add`` store a (canonical) state unless it is
    stored already, and say whether it was new; ``add`` files the state in
    the level after the one ``next_level`` last opened, with the parent named
    by its rank in the current level and the parent state itself, and ``index``
    the place of this transition in the parent's successor list (a store may
    rebuild paths from the indices alone).
    """

    kind: str

    def __len__(self) -> int: ...

    def add_initial(self, state: Any) -> bool: ...

    def next_level(self) -> None: ...

    def add(self, state: Any, parent_rank: int, parent: Any, index: int) -> bool: ...

    def __contains__(self, state: Any) -> bool: ...

    def path(self, model: Model, level: int, rank: int, state: Any, canon: Canon) -> Path: ...

    def info(self, states: int) -> StoreInfo | None: ...


def make_store(kind: str) -> ExactStore | FingerprintStore | CompactStore:
    """The store named ``kind`` (one of :data:`STORES`)."""
    if kind == "exact":
        return ExactStore()
    if kind == "fingerprint":
        return FingerprintStore()
    if kind == "compact":
        return CompactStore()
    raise ValueError(f"unknown store {kind!r}: use 'exact', 'fingerprint' or 'compact'")


# -- the exact store ----------------------------------------------------------------------


class ExactStore:
    """Every stored state mapped to its parent state (``None`` for an initial state)."""

    kind = "exact"

    def __init__(self) -> None:
        self.parents: dict[Any, Any] = {}

    def __len__(self) -> int:
        return len(self.parents)

    def __contains__(self, state: Any) -> bool:
        return state in self.parents

    def add_initial(self, state: Any) -> bool:
        if state in self.parents:
            return False
        self.parents[state] = None
        return True

    def next_level(self) -> None:
        pass

    def add(self, state: Any, parent_rank: int, parent: Any, index: int) -> bool:
        parents = self.parents
        if state in parents:
            return False
        parents[state] = parent
        return True

    def path(self, model: Model, level: int, rank: int, state: Any, canon: Canon) -> Path:
        return path_to(model, self.parents, state, canon)

    def info(self, states: int) -> StoreInfo | None:
        return None


def _first_action(model: Model, parent: Any, child: Any, canon: Canon) -> tuple[Any, Any]:
    """The first action of ``parent`` that leads to ``child`` and the actual successor."""
    for a, t in model.successors(parent):
        if (canon(t) if canon is not None else t) == child:
            return a, t
    raise RuntimeError(
        "model is not deterministic: a stored transition cannot be re-derived "
        f"from {parent!r} to {child!r}")


def path_to(model: Model, parents: dict[Any, Any], state: Any, canon: Canon = None) -> Path:
    """Rebuild the path from an initial state to ``state`` from parent links."""
    chain = [state]
    p = parents[state]
    while p is not None:
        chain.append(p)
        p = parents[p]
    chain.reverse()
    # Re-derive actual states and actions (under a canonicaliser the stored
    # states are representatives; the path shows the real successors, from a
    # real initial state, so a reduced run's trace replays on the full model).
    first = chain[0]
    if canon is not None:
        first = next((s for s in model.initial_states() if canon(s) == chain[0]), chain[0])
    states = [first]
    actions = []
    for child in chain[1:]:
        a, t = _first_action(model, states[-1], child, canon)
        actions.append(a)
        states.append(t)
    return Path(tuple(states), tuple(actions))


# -- the fingerprint store ----------------------------------------------------------------


def collision_probability(n: int) -> float:
    """The probability that some two of ``n`` distinct states share a fingerprint.

    Valid for a well-mixed 64-bit fingerprint (the birthday bound, TLC's
    optimistic estimate): ``n (n - 1) / 2**65``.  It is honest here because
    the fingerprint is a cryptographic digest of a canonical encoding; a
    fingerprint with structural collisions (CPython's ``hash``, which gives
    -1 and -2 alike) would make it meaningless.
    """
    return min(1.0, n * (n - 1) / 2 / 2.0 ** 64)


class FingerprintStore:
    """Visited set of 64-bit fingerprints plus, per BFS level, the fingerprint and the
    parent's rank of each state in discovery order: about 90-130 bytes a state.

    States must be built from ints and tuples only (the encoding is canonical
    for those): every new state is checked
    (:func:`mcheck.fingerprint.require_int_encoding`).
    """

    kind = "fingerprint"

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.levels_fp: list[array] = [array("q")]
        self.levels_par: list[array] = [array("l")]

    def __len__(self) -> int:
        return len(self.seen)

    def __contains__(self, state: Any) -> bool:
        return state_fingerprint(state) in self.seen

    def _new(self, state: Any) -> int | None:
        data = encode_state(state)
        fp = fingerprint_of(data)
        if fp in self.seen:
            return None
        require_int_encoding(data, state)
        self.seen.add(fp)
        return fp

    def add_initial(self, state: Any) -> bool:
        fp = self._new(state)
        if fp is None:
            return False
        self.levels_fp[0].append(fp)
        self.levels_par[0].append(-1)
        return True

    def next_level(self) -> None:
        self.levels_fp.append(array("q"))
        self.levels_par.append(array("l"))

    def add(self, state: Any, parent_rank: int, parent: Any, index: int) -> bool:
        fp = self._new(state)
        if fp is None:
            return False
        self.levels_fp[-1].append(fp)
        self.levels_par[-1].append(parent_rank)
        return True

    def add_level(self, fps: Sequence[int], parent_ranks: Sequence[int]) -> None:
        """File a whole level at once (the worker search's coordinator does this)."""
        self.levels_fp.append(array("q", fps))
        self.levels_par.append(array("l", parent_ranks))
        self.seen.update(fps)

    def chain(self, level: int, rank: int) -> list[int]:
        """Fingerprints from an initial state to (level, rank)."""
        out = []
        while level >= 0:
            out.append(self.levels_fp[level][rank])
            rank = self.levels_par[level][rank]
            level -= 1
        out.reverse()
        return out

    def path(self, model: Model, level: int, rank: int, state: Any, canon: Canon) -> Path:
        return path_from_fingerprints(model, self.chain(level, rank), canon)

    def array_bytes(self) -> int:
        return sum(a.buffer_info()[1] * a.itemsize for a in self.levels_fp + self.levels_par)

    def bytes_per_state(self, set_bytes: int | None = None, states: int | None = None) -> float:
        """Bytes a state: the per-level arrays and the visited set (``set_bytes`` when it
        lives elsewhere, e.g. in worker processes)."""
        n = len(self.seen) if states is None else states
        if not n:
            return 0.0
        if set_bytes is None:
            set_bytes = sys.getsizeof(self.seen) + sum(sys.getsizeof(fp) for fp in self.seen)
        return (set_bytes + self.array_bytes()) / n

    def info(self, states: int, set_bytes: int | None = None) -> StoreInfo:
        """The store's report for a search that stored ``states`` states."""
        n = states
        return StoreInfo("fingerprint", n, self.bytes_per_state(set_bytes, n),
                         collision_probability(n))


def replay(model: Model, start: Any, steps: Sequence[int], canon: Canon) -> list[Any]:
    """The stored (canonical) states from ``start``, taking successor number ``i`` of
    each for ``i`` in ``steps``: how a store that keeps successor indices finds a path."""
    chain = [start]
    for i in steps:
        step = next(islice(model.successors(chain[-1]), i, None), None)
        if step is None:
            raise RuntimeError("model is not deterministic: a stored successor index is "
                               "out of range")
        chain.append(canon(step[1]) if canon is not None else step[1])
    return chain


def path_from_fingerprints(model: Model, chain: Sequence[int], canon: Canon) -> Path:
    """Re-derive the real path whose canonical states have the fingerprints ``chain``."""
    def fp(s: Any) -> int:
        return state_fingerprint(canon(s) if canon is not None else s)
    first = next((s for s in model.initial_states() if fp(s) == chain[0]), None)
    if first is None:
        raise RuntimeError("no initial state has the recorded fingerprint")
    states = [first]
    actions = []
    for want in chain[1:]:
        for a, t in model.successors(states[-1]):
            if fp(t) == want:
                actions.append(a)
                states.append(t)
                break
        else:
            raise RuntimeError("model is not deterministic: a stored transition cannot be "
                               "re-derived from its fingerprints")
    return Path(tuple(states), tuple(actions))


# -- the compact store --------------------------------------------------------------------


class CompactStore:
    """Visited set of 64-bit fingerprints (:class:`mcheck.compact.FingerprintSet`) plus,
    per BFS level after the first, the parent's rank (``array('i')``) and the successor
    index (``array('H')``) of each state in discovery order: about 15 bytes a state.

    A level's arrays widen (to ``'q'`` and ``'L'``) when a rank or an index does not fit,
    and are trimmed when the level closes.  The initial level keeps nothing: its rank is the
    state's place among the distinct initial states.  States must be built from ints and
    tuples only (:func:`mcheck.fingerprint.require_int_encoding`).
    """

    kind = "compact"

    def __init__(self) -> None:
        self.seen = FingerprintSet()
        self.levels_par: list[array] = []
        self.levels_index: list[array] = []

    def __len__(self) -> int:
        return len(self.seen)

    def __contains__(self, state: Any) -> bool:
        return state_fingerprint(state) in self.seen

    def _new(self, state: Any) -> bool:
        """Insert ``state``'s fingerprint; whether it was new.  One search of the set
        answers and inserts; a state that is not ints and tuples is taken out again."""
        data = encode_state(state)
        fp = fingerprint_of(data)
        if not self.seen.add(fp):
            return False
        try:
            require_int_encoding(data, state)
        except ValueError:
            self.seen.discard(fp)
            raise
        return True

    def add_initial(self, state: Any) -> bool:
        return self._new(state)

    def next_level(self) -> None:
        if self.levels_par:
            self.levels_par[-1] = self.levels_par[-1][:]
            self.levels_index[-1] = self.levels_index[-1][:]
        self.levels_par.append(array("i"))
        self.levels_index.append(array("H"))

    def add(self, state: Any, parent_rank: int, parent: Any, index: int) -> bool:
        if not self._new(state):
            return False
        try:
            self.levels_par[-1].append(parent_rank)
        except OverflowError:
            self.levels_par[-1] = array("q", self.levels_par[-1])
            self.levels_par[-1].append(parent_rank)
        try:
            self.levels_index[-1].append(index)
        except OverflowError:
            self.levels_index[-1] = array("L", self.levels_index[-1])
            self.levels_index[-1].append(index)
        return True

    def steps(self, level: int, rank: int) -> tuple[int, list[int]]:
        """The initial rank of (level, rank) and the successor indices from it."""
        out = []
        while level > 0:
            out.append(self.levels_index[level - 1][rank])
            rank = self.levels_par[level - 1][rank]
            level -= 1
        out.reverse()
        return rank, out

    def chain(self, model: Model, level: int, rank: int, canon: Canon) -> list[int]:
        """Fingerprints from an initial state to (level, rank), by replaying the indices."""
        first, steps = self.steps(level, rank)
        seen: set[int] = set()
        state = None
        for s in model.initial_states():
            if canon is not None:
                s = canon(s)
            fp = state_fingerprint(s)
            if fp not in seen:
                if len(seen) == first:
                    state = s
                    break
                seen.add(fp)
        if state is None:
            raise RuntimeError("model is not deterministic: the initial states changed")
        return [state_fingerprint(x) for x in replay(model, state, steps, canon)]

    def path(self, model: Model, level: int, rank: int, state: Any, canon: Canon) -> Path:
        return path_from_fingerprints(model, self.chain(model, level, rank, canon), canon)

    def nbytes(self) -> int:
        """Bytes the store really holds: the set and every level's arrays (allocated)."""
        return self.seen.nbytes() + sum(sys.getsizeof(a) for a in self.levels_par) + \
            sum(sys.getsizeof(a) for a in self.levels_index) + \
            sys.getsizeof(self.levels_par) + sys.getsizeof(self.levels_index)

    def info(self, states: int) -> StoreInfo:
        """The store's report for a search that stored ``states`` states."""
        return StoreInfo("compact", states, self.nbytes() / states if states else 0.0,
                         collision_probability(states))
