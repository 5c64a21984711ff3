"""Breadth-first search in worker processes, with results independent of their number.

The search goes level by level.  Every worker keeps a replica of the visited
fingerprints and the states of the current level it holds:

1. every worker expands its states and reports each successor that is new
   to it, with its *key* ``(parent rank, successor index)`` -- the first
   time a fingerprint turns up in its expansion, which is its least key
   there, since parents go in rank order and successors in order; the state
   itself stays with the worker;
2. the coordinator merges the reports: each new fingerprint goes to the
   worker that reported the least key (that is the sequential search's
   discovery order), which gives the level's global order and ranks;
3. each state is expanded next by the worker that found it, except where
   that worker found more than its share: the excess moves to the workers
   short of theirs (the only states that cross processes);
4. every worker adds the level's fingerprints to its replica, checks the
   invariants of the states it will expand and reports the first violation
   of each, by key; the coordinator finds the first event in the global
   order that stops the search (a violation, the state bound).  Each worker
   goes on to step 1 of the next level at once, without being asked (one
   round trip and one barrier per level fewer); when the coordinator stops
   at this level it discards that expansion.

Fingerprints and keys cross to the coordinator; states only to balance.  Counts at a stop
are computed from the keys and traces are rebuilt from the coordinator's
per-level fingerprint and parent-rank arrays, so verdicts, state and
transition counts, metric counts and traces are those of the sequential
search with the fingerprint store, at any number of workers.  Workers are
forked processes (stdlib multiprocessing): they inherit the model, the
properties and the canonicaliser without pickling them.  The price of not
moving states is memory: each worker keeps a replica of the visited set.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import pickle
import signal
import sys
import time
from array import array
from collections.abc import Callable
from multiprocessing.connection import wait as mp_wait
from typing import Any

from mcheck.deadline import TimeUp, alarm
from mcheck.errors import UsageError
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
    Verdict,
    build_result,
)
from mcheck.store import FingerprintStore, path_from_fingerprints

__all__ = ["Raised", "WorkerDied", "parallel_check"]

INF = 1 << 62
# Phases of the work on one transition, in the sequential order.
TPROP, METRIC, STORE = 0, 1, 2


class WorkerDied(UsageError):
    """A worker process ended without a reply (killed, out of memory): the run stops on
    every worker, with one line naming the worker and how it ended."""

    def __init__(self, worker: int, how: str) -> None:
        fix = ("a worker killed by signal 9 is usually the system's out-of-memory killer: "
               "give --max-memory, or fewer --workers" if "signal 9" in how else
               "run again; with --workers 1 the same error shows its cause")
        super().__init__(f"worker process {worker} {how}; the search stopped on every worker",
                         fix)
        self.worker = worker


class Raised:
    """An exception raised in a worker, sent to the coordinator to be raised there again,
    so a model's error reads the same with workers as without."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return cls(exc)


def _take(got: Any) -> Any:
    """A worker's reply, or the exception it raised, raised here."""
    if isinstance(got, Raised):
        raise got.exc
    return got


class _Worker:
    """The state a worker process keeps between levels."""

    def __init__(self, me: int, n: int, model: Model, props: list[Property],
                 canon: Callable[[Any], Any] | None, deadlock: bool, inboxes: list[Any],
                 conn: Any) -> None:
        self.me, self.n = me, n
        self.inboxes = inboxes
        self.model = model
        self.invariants = [p for p in props if p.kind is Kind.INVARIANT]
        self.tprops = [p for p in props if p.kind is Kind.TRANSITION]
        self.metrics = [p for p in props if p.kind is Kind.METRIC]
        self.canon = canon
        self.deadlock = deadlock
        self.conn = conn
        self.seen: set[int] = set()
        self.frontier: list[tuple[int, Any]] = []  # (rank, state), rank order
        self.cand: dict[int, tuple[int, int, Any]] = {}  # this level: fp -> (pr, i, state)

    def run(self) -> None:
        """Serve the coordinator; an exception of the model's code goes back to it."""
        try:
            self._serve()
        except BaseException as e:  # the model's own error, or its sys.exit()
            try:
                self.conn.send(Raised.of(e))
            except (OSError, ValueError):
                pass

    def _serve(self) -> None:
        gc.disable()
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                return  # the coordinator is gone: nothing left to do
            op = msg[0]
            if op == "seed":
                self.cand = {fp: (-1, i, st) for fp, i, st in msg[1]}
                self.conn.send(None)
            elif op == "winners":
                self.conn.send(self._winners(msg[1], msg[2], msg[3]))
                # Expand the next level at once, without waiting to be asked: this
                # saves a round trip and a barrier per level.  When the coordinator
                # stops at this level it discards the reply (see _Coordinator.shutdown).
                self.conn.send(self._expand())
            elif op == "stop":
                self.conn.send(sys.getsizeof(self.seen) + sum(sys.getsizeof(fp)
                                                               for fp in self.seen))
                self.conn.close()
                return

    def _expand(self) -> Any:
        model, canon = self.model, self.canon
        enc, fpo, check_enc = encode_state, fingerprint_of, require_int_encoding
        seen = self.seen
        cand: dict[int, tuple[int, int, Any]] = {}
        self.cand = cand
        out_pr = array("q")  # per expanded state: its rank and its number of successors
        out_n = array("q")
        tbad: list[tuple[int, int] | None] = [None] * len(self.tprops)
        mkeys: list[list[tuple[int, int]]] = [[] for _ in self.metrics]
        dead: tuple[int, int] | None = None
        slow = bool(self.tprops or self.metrics)
        for pr, s in self.frontier:
            i = -1
            for i, (a, t) in enumerate(model.successors(s)):
                if slow:
                    for j, p in enumerate(self.tprops):
                        if tbad[j] is None and not p.check(s, a, t):
                            tbad[j] = (pr, i)
                    for j, m in enumerate(self.metrics):
                        if m.check(s, a, t):
                            mkeys[j].append((pr, i))
                if canon is not None:
                    t = canon(t)
                data = enc(t)
                fp = fpo(data)
                if fp not in seen and fp not in cand:
                    check_enc(data, t)
                    cand[fp] = (pr, i, t)
            out_pr.append(pr)
            out_n.append(i + 1)
            if i < 0 and self.deadlock and dead is None and not model.is_final(s):
                dead = (pr, INF)
        keys = [(v[0], v[1], fp) for fp, v in cand.items()]
        return (out_pr, out_n), tbad, mkeys, dead, keys

    def _winners(self, fps: list[int], holders: bytes, assign: bytes
                 ) -> list[tuple[int, int] | None]:
        """The level's new fingerprints in global order, who found each and who expands it.

        Adds every fingerprint to the replica; sends the states it found that
        another worker will expand, takes the ones it is given, checks the
        invariants of the states it will expand (a balanced share) and
        returns, per invariant, the key of the first that violates it.
        """
        cand, me, n = self.cand, self.me, self.n
        self.seen.update(fps)
        out: list[list[tuple[int, tuple[int, int, Any]]]] = [[] for _ in range(n)]
        for rank, (fp, w) in enumerate(zip(fps, holders, strict=True)):
            if w == me:
                out[assign[rank]].append((rank, cand[fp]))
        self.cand = {}
        for w in range(n):
            if w != me:
                self.inboxes[w].put(out[w])
        mine = out[me]
        bad: list[tuple[int, int] | None] = [None] * len(self.invariants)
        self._check(mine, bad)  # while the states for the others are pickled
        got: list[tuple[int, tuple[int, int, Any]]] = []
        for _ in range(n - 1):
            got.extend(self.inboxes[me].get())
        self._check(got, bad)
        mine.extend(got)
        mine.sort(key=lambda x: x[0])
        self.frontier = [(rank, c[2]) for rank, c in mine]
        return bad

    def _check(self, states: list[tuple[int, tuple[int, int, Any]]],
               bad: list[tuple[int, int] | None]) -> None:
        """Lower ``bad[j]`` to the least key of a state violating invariant ``j``."""
        for j, p in enumerate(self.invariants):
            check = p.check
            first = bad[j]
            for _rank, (pr, i, st) in states:
                if (first is None or (pr, i) < first) and not check(st):
                    first = (pr, i)
            bad[j] = first


def _worker_main(*args: Any) -> None:
    # Ctrl-C goes to the whole process group: the coordinator alone handles it (and
    # ends the workers), so a worker neither prints a traceback nor dies half-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _Worker(*args).run()


class _Coordinator:
    def __init__(self, model: Model, props: list[Property], bounds: Bounds,
                 stop_at_first: bool, deadlock: bool, progress: Any,
                 canon: Callable[[Any], Any] | None, n: int) -> None:
        self.model, self.props, self.bounds = model, props, bounds
        self.invariants = [p for p in props if p.kind is Kind.INVARIANT]
        self.tprops = [p for p in props if p.kind is Kind.TRANSITION]
        self.metrics = [p for p in props if p.kind is Kind.METRIC]
        self.stop_at_first, self.deadlock = stop_at_first, deadlock
        self.progress, self.canon, self.n = progress, canon, n
        self.store = FingerprintStore()
        self.n_states = 0
        self.transitions = 0
        self.depth = 0
        self.exhausted = False
        self.stopped_by: str | None = None
        self.found: dict[str, PropertyResult] = {}
        self.counts = [0] * len(self.metrics)
        self.witness: list[PropertyResult | None] = [None] * len(self.metrics)
        self.t0 = time.monotonic()

    # -- processes ------------------------------------------------------------------

    def start(self) -> None:
        ctx = mp.get_context("fork")
        self.inboxes = [ctx.Queue() for _ in range(self.n)]
        self.conns = []
        self.procs = []
        for w in range(self.n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker_main, daemon=True,
                            args=(w, self.n, self.model, self.props, self.canon,
                                  self.deadlock, self.inboxes, child))
            p.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(p)

    def shutdown(self) -> None:
        self.set_bytes = 0
        for c in self.conns:
            try:
                c.send(("stop",))
                while True:  # an expansion sent ahead of a stop is discarded
                    got = c.recv()
                    if isinstance(got, int):
                        self.set_bytes += got
                        break
            except (BrokenPipeError, OSError, EOFError):
                pass
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()

    def _died(self, w: int) -> WorkerDied:
        """The error for worker ``w``, whose pipe closed without a reply."""
        p = self.procs[w]
        p.join(timeout=2)
        code = p.exitcode
        if code is None:
            how = "closed its pipe"
        elif code < 0:
            how = f"was killed by signal {-code} ({signal.Signals(-code).name})"
        else:
            how = f"exited with status {code}"
        return WorkerDied(w, how)

    def kill(self) -> None:
        """End the workers at once (after an interrupt or a time-out: they may be deep in a
        level, or in a step function that never returns)."""
        self.set_bytes = 0
        for p in getattr(self, "procs", []):
            if p.is_alive():
                p.kill()
        for p in getattr(self, "procs", []):
            p.join(timeout=5)
        for c in getattr(self, "conns", []):
            c.close()
        for q in getattr(self, "inboxes", []):
            q.cancel_join_thread()
            q.close()

    def interrupted(self, why: str) -> None:
        """The search was stopped from outside; what was found stands."""
        if not self.exhausted and self.stopped_by is None:
            self.stopped_by = why

    def _all(self, msg: Any) -> list[Any]:
        for c in self.conns:
            c.send(msg)
        return self._replies()

    def _replies(self) -> list[Any]:
        """One reply per worker, in worker order, read as they arrive (so the first
        finisher's reply is unpickled while the others still work)."""
        out: list[Any] = [None] * len(self.conns)
        pending = {c: w for w, c in enumerate(self.conns)}
        # Every worker's sentinel is watched too: a worker that dies after its reply (its
        # states for the others possibly lost with it) would otherwise leave the others,
        # and so this wait, blocked for ever.
        sentinels = {p.sentinel: w for w, p in enumerate(self.procs)}
        while pending:
            ready = mp_wait([*pending, *sentinels])
            for c in ready:
                if c in sentinels:
                    continue
                try:
                    out[pending.pop(c)] = _take(c.recv())  # type: ignore[index]
                except EOFError:
                    raise self._died(pending[c]) from None
            for c in ready:
                if c in sentinels:
                    w = sentinels[c]
                    conn = self.conns[w]
                    if conn in pending and conn.poll(0):
                        continue  # its reply to this round is read first
                    if conn.poll(0):  # its last words, sent ahead of this round
                        try:
                            _take(conn.recv())  # a model's exception is raised as such
                        except EOFError:
                            pass
                    raise self._died(w)
        return out

    def _rss(self) -> int:
        total = 0
        for pid in [os.getpid()] + [p.pid for p in self.procs if p.pid is not None]:
            try:
                with open(f"/proc/{pid}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    # -- the search -----------------------------------------------------------------

    def run(self) -> None:
        canon = self.canon
        # Level 0: the initial states, in order, deduplicated, dealt out round robin.
        inits = []
        fps_seen: set[int] = set()
        for s in self.model.initial_states():
            c = canon(s) if canon is not None else s
            require_ints(c)
            fp = state_fingerprint(c)
            if fp not in fps_seen:
                fps_seen.add(fp)
                inits.append((fp, c))
        for w, conn in enumerate(self.conns):
            conn.send(("seed", [(fp, i, c) for i, (fp, c) in enumerate(inits)
                                if i % self.n == w]))
        self._replies()
        order = [(-1, i, fp, i % self.n) for i, (fp, _c) in enumerate(inits)]
        bads = self._send_winners(order)
        if self._first_state_event(order, bads):
            return
        self._assign(order, parents=False)
        if self.bounds.max_states is not None and self.n_states >= self.bounds.max_states \
                and order:
            self.stopped_by = "states"
            return
        while True:
            width = len(self.store.levels_fp[-1])
            if width == 0:
                self.exhausted = True
                return
            if self.progress is not None:
                self.progress.level(self.depth, width)
                self.progress.update(self.n_states, self.transitions, self.depth, width)
            b = self.bounds
            elapsed = time.monotonic() - self.t0
            if b.timeout is not None and elapsed > b.timeout:
                self.stopped_by = "time"
                return
            if b.max_memory is not None and self._rss() > b.max_memory:
                self.stopped_by = "memory"
                return
            d = self.depth
            replies = self._replies()  # each worker expands right after "winners"
            outdeg = [r[0] for r in replies]  # (ranks, successor counts) per worker
            if b.max_depth is not None and d >= b.max_depth:
                # The deepest level: its transitions and deadlocks are checked, its new
                # targets are not stored, and one of them means the bound cut something.
                if self._level_events(d, replies, [], outdeg, []):
                    return
                if any(r[4] for r in replies):
                    self.stopped_by = "depth"
                else:
                    self.exhausted = True
                return
            order = self._merge([r[4] for r in replies])
            bads = self._send_winners(order)
            if self._level_events(d, replies, bads, outdeg, order):
                return
            self._assign(order, parents=True)
            if order:
                self.depth += 1

    def _send_winners(self, order: list[tuple[int, int, int, int]]
                      ) -> list[list[tuple[int, int] | None]]:
        fps = [x[2] for x in order]
        holders = bytes(x[3] for x in order)
        return self._all(("winners", fps, holders, self._balance(holders)))

    def _balance(self, holders: bytes) -> bytes:
        """Who expands each new state next: its finder, unless that one has more than its
        share; the excess goes to the workers short of theirs.  (Any assignment gives the
        same results: keys and ranks are global.)"""
        n = self.n
        share = -(-len(holders) // n)
        kept = [0] * n
        assign = bytearray(holders)
        spare = []
        for rank, w in enumerate(holders):
            if kept[w] < share:
                kept[w] += 1
            else:
                spare.append(rank)
        for w in range(n):
            while kept[w] < share and spare:
                assign[spare.pop()] = w
                kept[w] += 1
        return bytes(assign)

    @staticmethod
    def _merge(keylists: list[list[tuple[int, int, int]]]) -> list[tuple[int, int, int, int]]:
        """The level's new states in key order, each with its least key: (pr, i, fp, worker)."""
        allkeys = [(pr, i, fp, w) for w, keys in enumerate(keylists) for pr, i, fp in keys]
        allkeys.sort()
        out = []
        taken: set[int] = set()
        for x in allkeys:
            if x[2] not in taken:
                taken.add(x[2])
                out.append(x)
        return out

    def _assign(self, order: list[tuple[int, int, int, int]], parents: bool) -> None:
        """Record the level's fingerprints and parent ranks (workers already took theirs)."""
        if parents:
            self.store.add_level([x[2] for x in order], [x[0] for x in order])
        else:
            self.store.levels_fp[0].extend(x[2] for x in order)
            self.store.levels_par[0].extend(-1 for _x in order)
        self.n_states += len(order)

    # -- events and the stop point ------------------------------------------------------

    def _first_state_event(self, order: list[tuple[int, int, int, int]],
                           bads: list[list[tuple[int, int] | None]]) -> bool:
        """Initial states: invariant violations (the state bound is checked after them)."""
        events = []
        for j, p in enumerate(self.invariants):
            firsts = [b[j] for b in bads if b[j] is not None]
            if firsts:
                events.append(((*min(firsts), STORE), 1, j, p))
        return self._stop_at(events, order, [], -1, initial=True)

    def _level_events(self, d: int, replies: list[Any], bads: list[Any],
                      outdeg: list[tuple[array, array]],
                      order: list[tuple[int, int, int, int]]) -> bool:
        events: list[tuple[tuple[int, int, int], int, int, Any]] = []
        for j, p in enumerate(self.tprops):
            firsts = [r[1][j] for r in replies if r[1][j] is not None]
            if firsts:
                events.append(((*min(firsts), TPROP), 0, j, p))
        for j, p in enumerate(self.invariants):
            firsts = [b[j] for b in bads if b[j] is not None]
            if firsts:
                events.append(((*min(firsts), STORE), 1, j, p))
        if self.deadlock:
            deads = [r[3] for r in replies if r[3] is not None]
            if deads:
                events.append(((*min(deads), TPROP), 2, 0, None))
        self._level_metrics = [sorted(k for r in replies for k in r[2][j])
                               for j in range(len(self.metrics))]
        return self._stop_at(events, order, outdeg, d, initial=False)

    def _stop_at(self, events: list[Any], order: list[tuple[int, int, int, int]],
                 outdeg: list[tuple[array, array]], d: int, initial: bool) -> bool:
        """Record violations in sequential order; stop where the sequential search would."""
        events.sort(key=lambda e: (e[0], e[1], e[2]))
        stop_key: tuple[int, int, int] | None = None
        bound = self.bounds.max_states
        bound_key = None
        if bound is not None and not initial and self.n_states + len(order) >= bound:
            pr, i, _fp, _w = order[bound - self.n_states - 1]
            bound_key = (pr, i, STORE)
        n_checked = len(self.invariants) + len(self.tprops) + (1 if self.deadlock else 0)
        for key, kind, _j, p in events:
            if bound_key is not None and key > bound_key:
                break
            name = p.name if p is not None else DEADLOCK
            if name in self.found:
                continue
            self._record(key, kind, p, order, d, initial)
            if self.stop_at_first or len(self.found) == n_checked:
                stop_key = key
                self.stopped_by = "violation"
                break
        if stop_key is None and bound_key is not None:
            stop_key = bound_key
            self.stopped_by = "states"
        if not initial:
            self._count_metrics(stop_key, order, d)
        if stop_key is None:
            if not initial:
                self.transitions += sum(sum(ns) for _prs, ns in outdeg)
            return False
        if initial:
            self.n_states = sum(1 for x in order if (x[0], x[1], STORE) <= stop_key)
            return True
        pr, i, phase = stop_key
        before = sum(n for prs, ns in outdeg for p2, n in zip(prs, ns, strict=True)
                     if p2 < pr)
        if i == INF:
            self.transitions += before
        else:
            self.transitions += before + i + 1
        stored = sum(1 for x in order if (x[0], x[1], STORE) <= stop_key)
        self.n_states += stored
        if self.stopped_by == "states":
            self.depth += 1
        # Record the level's stored prefix so that traces to those states exist.
        self.store.add_level([x[2] for x in order[:stored]], [x[0] for x in order[:stored]])
        return True

    def _count_metrics(self, stop_key: tuple[int, int, int] | None,
                       order: list[tuple[int, int, int, int]], d: int) -> None:
        for j, keys in enumerate(self._level_metrics):
            taken = [k for k in keys if stop_key is None or (k[0], k[1], METRIC) <= stop_key]
            self.counts[j] += len(taken)
            if taken and self.witness[j] is None:
                m = self.metrics[j]
                path, a, t = self._transition_path(d, taken[0], m.check)
                msg = m.explain(path.states[-1], a, t) if m.explain is not None else ""
                self.witness[j] = PropertyResult(
                    m.name, Kind.METRIC, Verdict.UNDETERMINED,
                    Path(path.states + (t,), path.actions + (a,)), 0, msg, m.description)

    def _transition_path(self, d: int, key: tuple[int, int],
                         event: Callable[[Any, Any, Any], Any]) -> tuple[Path, Any, Any]:
        """The real path to parent ``key[0]`` of level ``d`` and its ``key[1]``-th step."""
        path = self.store.path(self.model, d, key[0], None, self.canon)
        last = path.states[-1]
        succ = list(self.model.successors(last))
        if self.canon is None:
            a, t = succ[key[1]]
            return path, a, t
        # Under symmetry the real state is a permuted copy of the stored representative:
        # take its step to the same representative on which the event happens.
        rep = _state_with_chain(self.model, self.store.chain(d, key[0]), self.canon)
        _a, t_rep = list(self.model.successors(rep))[key[1]]
        want = self.canon(t_rep)
        for a, t in succ:
            if self.canon(t) == want and event(last, a, t):
                return path, a, t
        raise RuntimeError("symmetry reduction is unsound for this model")

    def _record(self, key: tuple[int, int, int], kind: int, p: Property | None,
                order: list[tuple[int, int, int, int]], d: int, initial: bool) -> None:
        if kind == 1:  # invariant on a new state
            fp = next(x[2] for x in order if (x[0], x[1]) == key[:2])
            chain = [fp] if initial else self.store.chain(d, key[0]) + [fp]
            path = path_from_fingerprints(self.model, chain, self.canon)
            assert p is not None
            msg = p.explain(path.states[-1]) if p.explain is not None else ""
            self.found[p.name] = PropertyResult(p.name, p.kind, Verdict.VIOLATED, path, 1, msg,
                                                p.description)
        elif kind == 0:  # transition property
            assert p is not None
            path, a, t = self._transition_path(d, key[:2], lambda s, a, t: not p.check(s, a, t))
            msg = p.explain(path.states[-1], a, t) if p.explain is not None else ""
            self.found[p.name] = PropertyResult(
                p.name, p.kind, Verdict.VIOLATED,
                Path(path.states + (t,), path.actions + (a,)), 1, msg, p.description)
        else:  # deadlock
            path = self.store.path(self.model, d, key[0], None, self.canon)
            self.found[DEADLOCK] = PropertyResult(
                DEADLOCK, Kind.INVARIANT, Verdict.VIOLATED, path, 1,
                "no enabled action in a non-final state",
                DEADLOCK_DESCRIPTION)

    def result(self) -> Result:
        info = self.store.info(self.n_states, getattr(self, "set_bytes", 0))
        return build_result(
            model=self.model.name, strategy="bfs", props=self.props, deadlock=self.deadlock,
            found=self.found, counts={m.name: c for m, c in zip(self.metrics, self.counts,
                                                                   strict=True)},
            witness={m.name: w for m, w in zip(self.metrics, self.witness, strict=True)},
            exhausted=self.exhausted, stopped_by=self.stopped_by, states=self.n_states,
            transitions=self.transitions, depth=self.depth,
            elapsed=time.monotonic() - self.t0, bounds=self.bounds, store=info)


def _state_with_chain(model: Model, chain: list[int], canon: Callable[[Any], Any] | None
                      ) -> Any:
    """The stored (canonical) state whose chain of fingerprints is ``chain``."""
    def fp(s: Any) -> int:
        return state_fingerprint(canon(s) if canon is not None else s)
    state = next(s for s in model.initial_states() if fp(s) == chain[0])
    state = canon(state) if canon is not None else state
    for want in chain[1:]:
        for _a, t in model.successors(state):
            c = canon(t) if canon is not None else t
            if state_fingerprint(c) == want:
                state = c
                break
    return state


def parallel_check(model: Model, props: list[Property], bounds: Bounds, stop_at_first: bool,
                   deadlock: bool, progress: Any, canon: Callable[[Any], Any] | None,
                   workers: int, *, store_kind: str = "fingerprint",
                   checkpoint: Any = None, checkpoint_every: float | None = None,
                   resume: Any = None) -> Result:
    """BFS with ``workers`` processes; the same result as the sequential fingerprint search."""
    if checkpoint is not None or resume is not None:
        raise ValueError("checkpoints are not implemented yet")
    co = _Coordinator(model, props, bounds, stop_at_first, deadlock, progress, canon, workers)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    clean = False
    try:
        with alarm(bounds.timeout) as disarm:
            try:
                co.start()
                co.run()
                disarm()
                clean = True
            except TimeUp:
                co.interrupted("time")
            except KeyboardInterrupt:
                disarm()
                co.interrupted("interrupt")
    finally:
        if clean:
            co.shutdown()
        else:
            co.kill()
        if gc_was_enabled:
            gc.enable()
        if progress is not None:
            progress.close()
    return co.result()
