"""Breadth-first search partitioned by fingerprint over the ranks of a transport.

Each rank owns the states whose fingerprint falls in its slice, keeps that slice of
the visited set and the parents of its states, and expands only its states; the
successors travel to their owners in one batched exchange per level
(:mod:`mcheck.transport`).  Every rank sees the same per-level summaries and so
takes the same decisions: verdicts, counts, stops and traces are those of the
sequential search with the fingerprint store, at any number of ranks.  Checkpoints:
:mod:`mcheck.checkpoint`.  The argument is in ``docs/parallel.md``.
"""

from __future__ import annotations

import gc
import itertools
import marshal
import pickle
import struct
import sys
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any, BinaryIO

from mcheck.checkpoint import Checkpoint, identity_of, load
from mcheck.deadline import TimeUp, alarm
from mcheck.fingerprint import (
    encode_state,
    fingerprint_of,
    require_int_encoding,
    require_ints,
    state_fingerprint,
)
from mcheck.model import Kind, Model, Property
from mcheck.result import (
    DEADLOCK,
    DEADLOCK_DESCRIPTION,
    Bounds,
    Path,
    PropertyResult,
    Result,
    StoreInfo,
    Verdict,
    build_result,
)
from mcheck.store import collision_probability, path_from_fingerprints, replay
from mcheck.transport import Loopback, PipeMesh, Transport, WorkerDied

__all__ = ["LevelTable", "Raised", "SetSlice", "WorkerDied", "parallel_check",
           "partitioned_search"]

#: A successor's key is ``parent's global rank << SHIFT | successor index``.
SHIFT = 24
IMASK = (1 << SHIFT) - 1
INF = 1 << 62
# Phases of the work on one transition, in the sequential order.
TPROP, METRIC, STORE = 0, 1, 2
DEAD = 3  # asking whether a state without successors is final (its event sorts as TPROP)
_HEAD = struct.Struct("<cQQ")  # tag, entries, bytes of encodings
#: States a rank expands between two exchanges.
CHUNK = 1 << 13


class Raised:
    """An exception raised on some rank, carried to rank 0 to be raised there again, so
    a model's error reads the same at any rank count as in one process."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return cls(exc)


class SetSlice(set):
    """A rank's slice of the visited fingerprints in a Python set (``--store fingerprint``);
    the interface of :class:`mcheck.compact.FingerprintSet` (membership stays the set's
    own C lookup)."""

    def add(self, fp: int) -> bool:  # type: ignore[override]
        if fp in self:
            return False
        super().add(fp)
        return True

    def nbytes(self) -> int:
        # The hash table, and the int object each entry points to.
        return sys.getsizeof(self) + sum(map(sys.getsizeof, self))

    def write(self, f: BinaryIO) -> None:
        pickle.dump(array("q", self), f, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def read(cls, f: BinaryIO) -> SetSlice:
        return cls(pickle.load(f))


def make_slice(store_kind: str) -> Any:
    """An empty visited slice for ``store_kind`` (``fingerprint`` or ``compact``)."""
    if store_kind == "compact":
        from mcheck.compact import FingerprintSet

        return FingerprintSet()
    if store_kind == "fingerprint":
        return SetSlice()
    raise ValueError(f"unknown store {store_kind!r} for the partitioned search: use "
                     "'fingerprint' or 'compact'")


def _narrowest(codes: tuple[str, ...], values: list[int]) -> array:
    for code in codes[:-1]:
        try:
            return array(code, values)
        except OverflowError:
            pass
    return array(codes[-1], values)


class LevelTable:
    """The parents of the states one rank owns in one level, in global order: the parent's
    owner, its index among its owner's states of the level before, and the successor
    index (for level 0: owner 0, the index in ``model.initial_states()``, 0)."""

    def __init__(self, po: list[int], pj: list[int], si: list[int]) -> None:
        # The narrowest arrays that hold them: usually 1 + 4 + 2 bytes a state.
        self.po = _narrowest(("B", "H", "I"), po)
        self.pj = _narrowest(("I", "Q"), pj)
        self.si = _narrowest(("H", "I"), si)

    def entry(self, j: int) -> tuple[int, int, int]:
        return self.po[j], self.pj[j], self.si[j]

    def __len__(self) -> int:
        return len(self.po)

    def nbytes(self) -> int:
        return sum(a.buffer_info()[1] * a.itemsize for a in (self.po, self.pj, self.si))


def _peak_rss() -> int:
    from mcheck.explore import peak_rss

    return peak_rss()


def _marker(err: tuple[int, int, Raised]) -> bytes:
    return b"X" + pickle.dumps(err, protocol=pickle.HIGHEST_PROTOCOL)


def _nth(it: Any, n: int) -> Any:
    return next(itertools.islice(it, n, None))


class _Raised(Exception):
    """A model's exception during expansion, with its place in the sequential order."""

    def __init__(self, at: tuple[int, int, int], exc: BaseException) -> None:
        super().__init__(at)
        self.at, self.exc = at, exc


class _Stopped(Exception):
    """The search ended on every rank (a stop, or a model's exception on rank 0)."""


class _Partitioned:
    """One rank's part of the search; every rank runs the same code in lockstep."""

    def __init__(self, model: Model, props: list[Property], bounds: Bounds,
                 stop_at_first: bool, deadlock: bool, progress: Any,
                 canon: Callable[[Any], Any] | None, t: Transport, store_kind: str,
                 checkpoint: Any, checkpoint_every: float | None, resume: Any) -> None:
        self.model, self.props, self.bounds = model, props, bounds
        self.invariants = [p for p in props if p.kind is Kind.INVARIANT]
        self.tprops = [p for p in props if p.kind is Kind.TRANSITION]
        self.metrics = [p for p in props if p.kind is Kind.METRIC]
        self.n_checked = len(self.invariants) + len(self.tprops) + (1 if deadlock else 0)
        self.stop_at_first, self.deadlock = stop_at_first, deadlock
        self.canon, self.t = canon, t
        self.me, self.size = t.rank, t.size
        self.root = t.rank == 0
        self.progress = progress if self.root else None
        self.store_kind = store_kind
        self.seen = make_slice(store_kind)
        self.tables: list[Any] = []  # per level: LevelTable (this run) or FileTable
        self.front: list[Any] = []  # the states of the current level this rank owns
        self.front_g = array("q")  # their global ranks
        self.owned = [0] * t.size  # how many states of the current level each rank owns
        self.width = 0  # states in the current level, over all ranks
        self.n_states = 0
        self.transitions = 0
        self.depth = 0
        self.exhausted = False
        self.stopped_by: str | None = None
        self.found: dict[str, PropertyResult | None] = {}
        self.counts = [0] * len(self.metrics)
        self.witness: list[PropertyResult | None] = [None] * len(self.metrics)
        self.has_witness = [False] * len(self.metrics)
        self.flags: dict[str, bool] = {}
        self.t0 = time.monotonic()
        self.set_bytes = 0
        self.ckpt = (Checkpoint(checkpoint, t, identity_of(model, props, stop_at_first,
                                                          deadlock, canon), checkpoint_every)
                     if checkpoint is not None else None)
        self.resume = resume
        self.start_depth = -1  # the level a resumed run starts at (not checkpointed again)

    # -- the run ----------------------------------------------------------------------

    def run(self) -> None:
        try:
            if self.resume is not None:
                self._resume()
            else:
                self._initial()
            while True:
                if self.width == 0:
                    self.exhausted = True
                    break
                if self.progress is not None:
                    self.progress.level(self.depth, self.width)
                    self.progress.update(self.n_states, self.transitions, self.depth,
                                         self.width)
                if self.flags.get("checkpoint") and self.depth > self.start_depth:
                    assert self.ckpt is not None
                    self.ckpt.write(self)
                if self.flags.get("time"):
                    self.stopped_by = "time"
                    break
                if self.flags.get("memory"):
                    self.stopped_by = "memory"
                    break
                self._level()
        except _Stopped:
            pass
        if self.stopped_by != "raised":
            self._finish()

    def interrupted(self, why: str) -> None:
        """The search was stopped from outside on rank 0; what was found stands."""
        if not self.exhausted and self.stopped_by is None:
            self.stopped_by = why

    def _flags(self) -> dict[str, bool]:
        """Rank 0's decisions for the next level boundary (all ranks apply them)."""
        if not self.root:
            return {}
        b = self.bounds
        now = time.monotonic()
        return {"time": b.timeout is not None and now - self.t0 > b.timeout,
                "checkpoint": self.ckpt is not None and self.ckpt.due(now)}

    def _gather(self, summary: dict[str, Any]) -> list[dict[str, Any]]:
        """Every rank's summary; a model's exception on any rank ends the run here, except
        one with a place in the level (``"at"``), which the level weighs against its events."""
        summary["flags"] = self._flags()
        summary["rss"] = _peak_rss()
        sums: list[dict[str, Any]] = self.t.allgather(summary)
        self._raise([s["err"] for s in sums if s.get("err") is not None])
        self.flags = dict(sums[0]["flags"])
        mem = self.bounds.max_memory
        # The bound is on each process's peak, as in one process: the largest rank's.
        self.flags["memory"] = mem is not None and max(s["rss"] for s in sums) > mem
        return sums

    def _raise(self, errs: list[tuple[int, int, Raised]]) -> None:
        if not errs:
            return
        self.stopped_by = "raised"
        if self.root:
            raise min(errs, key=lambda e: (e[0], e[1]))[2].exc
        raise _Stopped

    def _finish(self) -> None:
        tables = sum(t.nbytes() for t in self.tables if isinstance(t, LevelTable))
        self.set_bytes = sum(self.t.allgather(self.seen.nbytes() + tables))

    # -- level 0 ----------------------------------------------------------------------

    def _initial(self) -> None:
        err = None
        inits: list[tuple[int, int, Any]] = []
        ibad: list[tuple[int, int] | None] = [None] * len(self.invariants)
        try:
            canon = self.canon
            taken: set[int] = set()
            for idx, s in enumerate(self.model.initial_states()):
                c = canon(s) if canon is not None else s
                require_ints(c)
                fp = state_fingerprint(c)
                if fp not in taken:
                    taken.add(fp)
                    inits.append((fp, idx, c))
            po, pj = [], []
            for g, (fp, idx, c) in enumerate(inits):
                if fp % self.size == self.me:
                    self.seen.add(fp)
                    self.front.append(c)
                    self.front_g.append(g)
                    po.append(0)
                    pj.append(idx)
            self.tables.append(LevelTable(po, pj, [0] * len(po)))
            self._check_new(self.front, self.front_g, ibad)
        except (Exception, SystemExit) as e:
            err = (0, 0, Raised.of(e))
        sums = self._gather({"err": err, "ibad": ibad})
        events = []
        for q, p in enumerate(self.invariants):
            firsts = [(s["ibad"][q], r) for r, s in enumerate(sums) if s["ibad"][q] is not None]
            if firsts:
                (g, jj), r = min(firsts)
                events.append(((-1, g, STORE), 1, q, p, (r, jj)))
        self.width = len(inits)
        for fp, _idx, _c in inits:
            self.owned[fp % self.size] += 1
        stop = self._stop_at(events, [], initial=True)
        if stop is not None:
            self.n_states = sum(1 for g in range(len(inits)) if (-1, g, STORE) <= stop)
            raise _Stopped
        self.n_states = len(inits)
        if self.bounds.max_states is not None and self.n_states >= self.bounds.max_states \
                and inits:
            self.stopped_by = "states"
            raise _Stopped

    def _check_new(self, states: list[Any], keys: Any,
                   ibad: list[tuple[int, int] | None]) -> None:
        """Lower ``ibad[q]`` to (key, local index) of the first new state violating invariant q."""
        for q, p in enumerate(self.invariants):
            check = p.check
            for jj, st in enumerate(states):
                if not check(st):
                    ibad[q] = (keys[jj], jj)
                    break

    # -- one level --------------------------------------------------------------------

    def _level(self) -> None:
        d = self.depth
        last = self.bounds.max_depth is not None and d >= self.bounds.max_depth
        size = self.size
        info: dict[str, Any] = {"tbad": [None] * len(self.tprops),
                                "mfirst": [None] * len(self.metrics),
                                "mkeys": [array("q") for _ in self.metrics], "dead": None,
                                "outdeg": array("q")}
        best: dict[int, tuple[int, int, int, bytes]] = {}  # new fp -> key, src, j, encoding
        err = None  # an error outside the model's code (merging): ends the run at once
        info["at"] = None  # a model's exception and its place in the sequential order
        cut = False
        # The level goes in chunks of CHUNK states a rank, so that the buffers in flight
        # stay small; every rank takes part in as many exchanges as the widest one needs.
        front = self.front
        for lo in range(0, max(max(self.owned), 1), CHUNK):
            # After a model's exception this rank expands nothing more (what follows comes
            # later in the sequential order) but still takes part in every exchange.
            hi = lo if info["at"] is not None else min(lo + CHUNK, len(front))
            out: list[Any] = self._expand(lo, hi, last, info, best)
            if err is not None:
                out = [_marker(err)] * size
            msgs = self.t.alltoall(out)
            del out
            front[lo:lo + CHUNK] = [None] * len(front[lo:lo + CHUNK])  # expanded
            self._raise([pickle.loads(m[1:]) for m in msgs if m[:1] == b"X"])
            try:
                if last:
                    cut = cut or any(fp not in self.seen
                                     for m in msgs for fp in array("q", m[_HEAD.size:]))
                else:
                    self._merge(msgs, best)
            except (Exception, SystemExit) as e:
                err = (2, 0, Raised.of(e))
            del msgs
        self.front = []
        keys = array("q")
        new: tuple[Any, ...] = ()
        ibad: list[tuple[int, int] | None] = [None] * len(self.invariants)
        if err is None and not last:
            new = self._new_level(best, ibad, info)
            keys = new[0]
        best.clear()
        sums = self._gather({"err": err, "keys": keys.tobytes(), "ibad": ibad, "cut": cut,
                             "at": info["at"],
                             "tbad": info["tbad"], "mfirst": info["mfirst"],
                             "mcount": [len(k) for k in info["mkeys"]], "dead": info["dead"],
                             "ntrans": sum(info["outdeg"])})
        allk: list[int] = sorted(itertools.chain.from_iterable(
            array("q", s["keys"]) for s in sums))
        if not last:
            # This rank's new states take their places in the level's global order.
            self.tables.append(new[2])
        events: list[Any] = []
        for q, p in enumerate(self.tprops):
            firsts = [(s["tbad"][q], r) for r, s in enumerate(sums) if s["tbad"][q] is not None]
            if firsts:
                (k, j), r = min(firsts)
                events.append(((k >> SHIFT, k & IMASK, TPROP), 0, q, p, (r, j)))
        for q, p in enumerate(self.invariants):
            firsts = [(s["ibad"][q], r) for r, s in enumerate(sums) if s["ibad"][q] is not None]
            if firsts:
                (k, jj), r = min(firsts)
                events.append(((k >> SHIFT, k & IMASK, STORE), 1, q, p, (r, jj)))
        if self.deadlock:
            deads = [(s["dead"], r) for r, s in enumerate(sums) if s["dead"] is not None]
            if deads:
                (pr, j), r = min(deads)
                events.append(((pr, INF, TPROP), 2, 0, None, (r, j)))
        # A model's exception stops the sequential search where it is raised, unless a
        # violation or a bound stops it earlier: only what comes before it counts.
        raised = min((s["at"] for s in sums if s["at"] is not None), default=None,
                     key=lambda x: x[0])
        stop = self._stop_at(events, allk, initial=False,
                             limit=None if raised is None else raised[0])
        if raised is not None and stop is None:
            self.stopped_by = "raised"
            if self.root:
                raise raised[1].exc
            raise _Stopped
        self._metrics(stop, sums, info)
        if stop is None:
            self.transitions += sum(s["ntrans"] for s in sums)
            if last:
                self.stopped_by = "depth" if any(s["cut"] for s in sums) else None
                self.exhausted = self.stopped_by is None
                raise _Stopped
            self.n_states += len(allk)
            self.width = len(allk)
            self.front = new[1]
            self.front_g = array("q", [bisect_left(allk, k) for k in keys])
            self.owned = [len(s["keys"]) // 8 for s in sums]
            if allk:
                self.depth += 1
            return
        spr, si, _phase = stop
        idx = bisect_left(self.front_g, spr)
        before = sum(itertools.islice(info["outdeg"], idx))
        got = self.t.allgather((before, [self._count_to(k, stop) for k in info["mkeys"]]))
        self.transitions += sum(g[0] for g in got) + (0 if si == INF else si + 1)
        for q in range(len(self.metrics)):
            self.counts[q] += sum(g[1][q] for g in got)
        self.n_states += sum(1 for k in allk if (k >> SHIFT, k & IMASK, STORE) <= stop)
        if self.stopped_by == "states":
            self.depth += 1
        raise _Stopped

    @staticmethod
    def _count_to(mkeys: array, stop: tuple[int, int, int]) -> int:
        """How many metric events (sorted int keys) come before the stop."""
        spr, si, phase = stop
        if si == INF:
            return bisect_left(mkeys, (spr + 1) << SHIFT)
        sk = spr << SHIFT | si
        return bisect_right(mkeys, sk) if phase >= METRIC else bisect_left(mkeys, sk)

    def _expand(self, lo: int, hi: int, last: bool, info: dict[str, Any],
                best: dict[int, tuple[int, int, int, bytes]]) -> list[Any]:
        """Expand this rank's states ``lo..hi-1``; one buffer of successors per owner
        (docs/parallel.md).  New successors this rank owns go into ``best`` at once.  A
        model's exception is kept in ``info["at"]`` with its place in the sequential
        order; what came before it is sent all the same."""
        size = self.size
        # Per destination: the encodings, appended to the buffer that will be sent, and
        # the fingerprints, keys, parents' local indices and lengths.
        bufs = [bytearray(_HEAD.size) for _ in range(size)]
        arrays = ([array("q") for _ in range(size)], [array("q") for _ in range(size)],
                  [array("I") for _ in range(size)], [array("I") for _ in range(size)])
        try:
            self._expand_states(lo, hi, last, info, best, bufs, *arrays)
        except _Raised as x:
            info["at"] = (x.at, Raised.of(x.exc))
        fpa, ka, ja, la = arrays
        for r, buf in enumerate(bufs):
            _HEAD.pack_into(buf, 0, b"F" if last else b"P", len(fpa[r]), len(buf) - _HEAD.size)
            buf += fpa[r].tobytes()
            if not last:
                buf += ka[r].tobytes()
                buf += ja[r].tobytes()
                buf += la[r].tobytes()
        return bufs

    def _expand_states(self, lo: int, hi: int, last: bool, info: dict[str, Any],
                       best: dict[int, tuple[int, int, int, bytes]], bufs: list[bytearray],
                       fpa: list[array], ka: list[array], ja: list[array],
                       la: list[array]) -> None:
        """The loop of :meth:`_expand`.  A model's exception leaves as :class:`_Raised`
        with its place: (parent's global rank, successor index, phase), phase -1 when the
        successor function raised asking for that successor."""
        model, canon = self.model, self.canon
        successors = model.successors
        enc, fpo, loads = encode_state, fingerprint_of, marshal.loads
        size, me, seen = self.size, self.me, self.seen
        tprops, metrics = self.tprops, self.metrics
        slow = bool(tprops or metrics)
        tbad, mfirst, mkeys = info["tbad"], info["mfirst"], info["mkeys"]
        outdeg = info["outdeg"]
        done: set[int] = set()  # this chunk's fingerprints met so far: the first has the least key
        front, front_g = self.front, self.front_g
        g = n = q = 0
        ph = -1  # the phase of the transition in hand; -1: asking for the next one
        try:
            for j in range(lo, hi):
                s = front[j]
                if type(s) is bytes:
                    s = loads(s)
                g = front_g[j]
                base = g << SHIFT
                n = 0
                for i, (a, t) in enumerate(successors(s)):
                    n += 1
                    key = base | i
                    if slow:
                        ph = TPROP
                        for q, p in enumerate(tprops):
                            if not p.check(s, a, t) and tbad[q] is None:  # called as in one process
                                tbad[q] = (key, j)
                        ph = METRIC
                        for q, m in enumerate(metrics):
                            if m.check(s, a, t):
                                mkeys[q].append(key)
                                if mfirst[q] is None:
                                    mfirst[q] = (key, j)
                    ph = STORE
                    if canon is not None:
                        t = canon(t)
                    data = enc(t)
                    fp = fpo(data)
                    ph = -1
                    if fp in done:
                        continue
                    done.add(fp)
                    r = fp % size
                    if r == me:
                        if fp in seen:
                            continue
                        if not last:
                            b = best.get(fp)
                            if b is None or key < b[0]:
                                best[fp] = (key, me, j, data)
                            continue
                    fpa[r].append(fp)
                    if not last:
                        ka[r].append(key)
                        ja[r].append(j)
                        la[r].append(len(data))
                        bufs[r] += data
                if n > IMASK:
                    raise ValueError(f"a state has {n} successors: the partitioned search "
                                     f"takes at most {IMASK}")
                outdeg.append(n)
                if n == 0 and self.deadlock and info["dead"] is None:
                    ph = DEAD
                    if not model.is_final(s):
                        info["dead"] = (g, j)
                    ph = -1
        except (Exception, SystemExit) as e:
            # The place, comparable with an event's (key, kind, property index).
            if ph == DEAD:
                at = ((g, INF, TPROP), 2, 0)  # the deadlock cannot be decided
            elif ph == -1:
                at = ((g, n, -1), -1, 0)
            else:
                at = ((g, n - 1, ph), 0 if ph == TPROP else -1, q if ph == TPROP else 0)
            raise _Raised(at, e) from None

    def _merge(self, msgs: list[Any], best: dict[int, tuple[int, int, int, bytes]]) -> None:
        """Keep, for each successor this rank owns and has not seen, the least key yet."""
        seen = self.seen
        for src, m in enumerate(msgs):
            _tag, n, blob = _HEAD.unpack_from(m)
            if not n:
                continue
            o = _HEAD.size + blob
            fps = array("q", m[o:o + 8 * n])
            keys = array("q", m[o + 8 * n:o + 16 * n])
            js, lens = array("I"), array("I")
            w = js.itemsize * n
            js.frombytes(m[o + 16 * n:o + 16 * n + w])
            lens.frombytes(m[o + 16 * n + w:o + 16 * n + 2 * w])
            starts = itertools.accumulate(lens, initial=_HEAD.size)
            for fp, k, j, ln, st in zip(fps, keys, js, lens, starts, strict=False):
                if fp in seen:
                    continue
                b = best.get(fp)
                if b is None or k < b[0]:
                    best[fp] = (k, src, j, bytes(m[st:st + ln]))

    def _new_level(self, best: dict[int, tuple[int, int, int, bytes]],
                   ibad: list[tuple[int, int] | None], info: dict[str, Any]
                   ) -> tuple[array, list[Any], LevelTable]:
        """The new states this rank owns, in key order: keys, encodings and parents.

        Checks the invariants on them (``ibad``: see :meth:`_check_new`); a model's
        exception there goes to ``info["at"]`` with its place, unless an earlier one is
        there.  The states are kept encoded until they are expanded: a decoded state
        shares nothing with its parent, and its encoding is a third of its size or less.
        """
        seen = self.seen
        order = sorted(best.items(), key=lambda x: x[1][0])
        best.clear()
        keys = array("q", [v[0] for _fp, v in order])
        front: list[Any] = []
        po, pj, si = [], [], []
        loads = marshal.loads
        invariants = list(enumerate(self.invariants))
        for jj, (fp, (k, src, j, data)) in enumerate(order):
            here = (k >> SHIFT, k & IMASK, STORE)
            if info["at"] is not None and info["at"][0] <= (here, -1, 0):
                break  # after this rank's exception: the level ends there or earlier
            state = loads(data)
            front.append(data)
            q = -1
            try:
                require_int_encoding(data, state)
                for q, p in invariants:
                    if ibad[q] is None and not p.check(state):
                        ibad[q] = (k, jj)
            except (Exception, SystemExit) as e:
                info["at"] = ((here, 1, q) if q >= 0 else (here, -1, 0), Raised.of(e))
                break
            seen.add(fp)
            po.append(src)
            pj.append(j)
            si.append(k & IMASK)
        return keys, front, LevelTable(po, pj, si)

    # -- events and the stop point ----------------------------------------------------

    def _stop_at(self, events: list[Any], allk: list[int], initial: bool,
                 limit: tuple[Any, int, int] | None = None) -> tuple[int, int, int] | None:
        """Record violations in sequential order; the key where the sequential search stops.

        ``limit``: the place of a model's exception, as (key, kind, property index): what
        comes at or after it never happens in the sequential search."""
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        stop: tuple[int, int, int] | None = None
        bound = self.bounds.max_states
        bound_key = None
        if bound is not None and not initial and self.n_states + len(allk) >= bound:
            k = allk[bound - self.n_states - 1]
            bound_key = (k >> SHIFT, k & IMASK, STORE)
        for key, kind, q, p, loc in events:
            if bound_key is not None and key > bound_key:
                break
            if limit is not None and (key, kind, q) >= limit:
                break
            name = p.name if p is not None else DEADLOCK
            if name in self.found:
                continue
            self._record(key, kind, p, loc, initial)
            if self.stop_at_first or len(self.found) == self.n_checked:
                stop = key
                self.stopped_by = "violation"
                break
        # The bound is checked after the invariants of the state that reaches it.
        if stop is None and bound_key is not None and (limit is None
                                                       or (bound_key, 1, INF) < limit):
            stop = bound_key
            self.stopped_by = "states"
        return stop

    def _metrics(self, stop: tuple[int, int, int] | None, sums: list[dict[str, Any]],
                 info: dict[str, Any]) -> None:
        """Metric counts of a level with no stop, and the first witness of each metric."""
        for q, m in enumerate(self.metrics):
            if stop is None:
                self.counts[q] += sum(s["mcount"][q] for s in sums)
            if self.has_witness[q]:
                continue
            firsts = [(s["mfirst"][q], r) for r, s in enumerate(sums)
                      if s["mfirst"][q] is not None]
            if not firsts:
                continue
            (k, j), r = min(firsts)
            if stop is not None and (k >> SHIFT, k & IMASK, METRIC) > stop:
                continue
            self.has_witness[q] = True
            got = self._transition_path(self.depth, r, j, k & IMASK, m.check)
            if got is not None:
                path, a, t = got
                msg = m.explain(path.states[-1], a, t) if m.explain is not None else ""
                self.witness[q] = PropertyResult(
                    m.name, Kind.METRIC, Verdict.UNDETERMINED,
                    Path(path.states + (t,), path.actions + (a,)), 0, msg, m.description)

    def _record(self, key: tuple[int, int, int], kind: int, p: Property | None,
                loc: tuple[int, int], initial: bool) -> None:
        r, j = loc
        name = p.name if p is not None else DEADLOCK
        self.found[name] = None
        if kind == 1:  # an invariant, on a new state
            level = self.depth if initial else self.depth + 1
            got = self._path(level, r, j)
            if got is None:
                return
            path = got[0]
            assert p is not None
            msg = p.explain(path.states[-1]) if p.explain is not None else ""
            self.found[name] = PropertyResult(name, p.kind, Verdict.VIOLATED, path, 1, msg,
                                              p.description)
        elif kind == 0:  # a transition property
            assert p is not None
            prop = p
            tgot = self._transition_path(self.depth, r, j, key[1],
                                         lambda s, a, t: not prop.check(s, a, t))
            if tgot is None:
                return
            path, a, t = tgot
            msg = p.explain(path.states[-1], a, t) if p.explain is not None else ""
            self.found[name] = PropertyResult(
                name, p.kind, Verdict.VIOLATED, Path(path.states + (t,), path.actions + (a,)),
                1, msg, p.description)
        else:  # a deadlock
            got = self._path(self.depth, r, j)
            if got is None:
                return
            self.found[name] = PropertyResult(
                DEADLOCK, Kind.INVARIANT, Verdict.VIOLATED, got[0], 1,
                "no enabled action in a non-final state", DEADLOCK_DESCRIPTION)

    # -- traces -----------------------------------------------------------------------

    def _walk(self, level: int, r: int, j: int) -> tuple[int, list[int]]:
        """Walk the parents of state ``j`` of rank ``r`` at ``level`` back to level 0 (every
        rank takes part): the initial state's index and the successor indices from it."""
        idxs = []
        while True:
            table = self.tables[level]
            if isinstance(table, LevelTable):
                entry = self.t.bcast(table.entry(j) if self.me == r else None, root=r)
            else:
                entry = table.entry(r, j)
            po, pj, si = entry
            if level == 0:
                idxs.reverse()
                return pj, idxs
            idxs.append(si)
            r, j, level = po, pj, level - 1

    def _path(self, level: int, r: int, j: int) -> tuple[Path, list[Any]] | None:
        """On rank 0 the real path to a stored state and the chain of stored states to it
        (the indices name the canonical parents' successors); None elsewhere."""
        init, idxs = self._walk(level, r, j)
        if not self.root:
            return None
        model, canon = self.model, self.canon
        s = list(model.initial_states())[init]
        chain = replay(model, canon(s) if canon is not None else s, idxs, canon)
        path = path_from_fingerprints(model, [state_fingerprint(x) for x in chain], canon)
        return path, chain

    def _transition_path(self, level: int, r: int, j: int, i: int,
                         event: Callable[[Any, Any, Any], Any]) -> tuple[Path, Any, Any] | None:
        """The real path to parent ``j`` of rank ``r`` at ``level`` and its ``i``-th step."""
        got = self._path(level, r, j)
        if got is None:
            return None
        path, chain = got
        last = path.states[-1]
        canon = self.canon
        if canon is None:
            a, t = _nth(self.model.successors(last), i)
            return path, a, t
        # Under symmetry the real state is a permuted copy of the stored representative:
        # take its step to the same representative on which the event happens.
        _a, t_rep = _nth(self.model.successors(chain[-1]), i)
        want = canon(t_rep)
        for a, t in self.model.successors(last):
            if canon(t) == want and event(last, a, t):
                return path, a, t
        raise RuntimeError("symmetry reduction is unsound for this model: a transition of a "
                           "representative has no counterpart in a member of its orbit")

    # -- checkpoints ------------------------------------------------------------------

    def _resume(self) -> None:
        load(self.resume, self, identity_of(self.model, self.props, self.stop_at_first,
                                            self.deadlock, self.canon))
        self.start_depth = self.depth
        self.owned = self.t.allgather(len(self.front))
        self.flags = {}
        if self.root:
            self.flags = self._flags()
        self.flags = self.t.bcast(self.flags, root=0)

    # -- result -----------------------------------------------------------------------

    def result(self) -> Result:
        n = self.n_states
        # set_bytes is gathered at the end; a run stopped from outside (time, Ctrl-C) on
        # rank 0 leaves the other ranks where they are, and their size unknown.
        size = None if n and not self.set_bytes else (self.set_bytes / n if n else 0.0)
        info = StoreInfo(self.store_kind, n, size, collision_probability(n))
        found = {k: v for k, v in self.found.items() if v is not None}
        return build_result(
            model=self.model.name, strategy="bfs", props=self.props, deadlock=self.deadlock,
            found=found,
            counts={m.name: c for m, c in zip(self.metrics, self.counts, strict=True)},
            witness={m.name: w for m, w in zip(self.metrics, self.witness, strict=True)},
            exhausted=self.exhausted, stopped_by=self.stopped_by, states=n,
            transitions=self.transitions, depth=self.depth,
            elapsed=time.monotonic() - self.t0, bounds=self.bounds, store=info)


def partitioned_search(model: Model, props: list[Property], bounds: Bounds,
                       stop_at_first: bool, deadlock: bool, progress: Any,
                       canonical: Callable[[Any], Any] | None, transport: Transport, *,
                       store_kind: str, checkpoint: Any = None,
                       checkpoint_every: float | None = None,
                       resume: Any = None) -> Result | None:
    """The partitioned BFS on this rank: the Result on rank 0, None elsewhere.

    Every rank of ``transport`` calls it with the same arguments.  A model's exception
    on any rank is raised on rank 0; a bound, a time-out or an interrupt on rank 0 ends
    the run with an UNDETERMINED result (after a time-out or an interrupt the other
    ranks are left inside a collective: the caller ends them).
    """
    search = _Partitioned(model, props, bounds, stop_at_first, deadlock, progress, canonical,
                          transport, store_kind, checkpoint, checkpoint_every, resume)
    root = transport.rank == 0
    gc_was_enabled = gc.isenabled()
    gc.disable()  # states are acyclic tuples: the cyclic GC only costs time here
    try:
        with alarm(bounds.timeout if root else None) as disarm:
            try:
                search.run()
                disarm()
            except TimeUp:
                if not root:
                    raise
                search.interrupted("time")
            except KeyboardInterrupt:
                if not root:
                    raise
                disarm()
                search.interrupted("interrupt")
    finally:
        if gc_was_enabled:
            gc.enable()
        if search.progress is not None:
            search.progress.close()
    return search.result() if root else None


def parallel_check(model: Model, props: list[Property], bounds: Bounds, stop_at_first: bool,
                   deadlock: bool, progress: Any, canon: Callable[[Any], Any] | None,
                   workers: int, *, store_kind: str = "fingerprint",
                   checkpoint: Any = None, checkpoint_every: float | None = None,
                   resume: Any = None) -> Result:
    """The partitioned BFS over ``workers`` local processes (rank 0 is this one)."""
    kw = dict(store_kind=store_kind, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
              resume=resume)
    if workers == 1:
        out = partitioned_search(model, props, bounds, stop_at_first, deadlock, progress,
                                 canon, Loopback(), **kw)  # type: ignore[arg-type]
        assert out is not None
        return out

    def work(mesh: PipeMesh) -> None:
        partitioned_search(model, props, bounds, stop_at_first, deadlock, None, canon, mesh,
                           **kw)  # type: ignore[arg-type]

    mesh = PipeMesh.start(workers, work)
    clean = False
    try:
        out = partitioned_search(model, props, bounds, stop_at_first, deadlock, progress,
                                 canon, mesh, **kw)  # type: ignore[arg-type]
        clean = out is not None and out.stopped_by not in ("time", "interrupt")
    finally:
        mesh.close(abort=not clean)
    assert out is not None
    return out
