"""How the ranks of a partitioned search talk: a few collective operations.

:class:`Transport` is all the search (:mod:`mcheck.parallel`) needs; :class:`Loopback` is
one rank, :class:`PipeMesh` forked local processes with a pipe between every two of them
(``--workers N``), and :mod:`mcheck.mpi` MPI ranks.  See ``docs/parallel.md``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as mp_wait
from typing import Any, Protocol

from mcheck.errors import UsageError

__all__ = ["Loopback", "PipeMesh", "Transport", "WorkerDied", "how_it_ended"]


class Transport(Protocol):
    """Collective operations among ``size`` ranks; every rank calls each one in the same order.

    ``alltoall(out)`` sends ``out[r]`` to rank ``r`` and returns what each rank sent
    this one, indexed by source; ``allgather`` and ``bcast`` move small picklable
    objects.  A rank that dies makes every other rank's next operation raise a
    :class:`mcheck.errors.UsageError` naming it; nothing hangs.
    """

    rank: int
    size: int

    def alltoall(self, out: list[bytes]) -> list[bytes]: ...

    def allgather(self, obj: Any) -> list[Any]: ...

    def bcast(self, obj: Any, root: int = 0) -> Any: ...

    def close(self) -> None: ...


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


class Loopback:
    """One rank: every collective operation returns what it was given."""

    rank = 0
    size = 1

    def alltoall(self, out: list[bytes]) -> list[bytes]:
        return [out[0]]

    def allgather(self, obj: Any) -> list[Any]:
        return [obj]

    def bcast(self, obj: Any, root: int = 0) -> Any:
        return obj

    def close(self) -> None:
        pass


class PipeMesh:
    """Rank 0 is the calling process; ranks ``1..size-1`` are forked processes that run
    ``target(mesh)``.  Every two ranks share a duplex pipe; a collective sends from
    threads while it receives, so big messages cannot deadlock.

    Workers ignore SIGINT (rank 0 alone stops the run).  Rank 0 watches the workers'
    exit: a death raises :class:`WorkerDied` with its exit status; a worker sees a dead
    peer as a closed pipe.
    """

    def __init__(self, rank: int, size: int, conns: dict[int, Connection],
                 procs: dict[int, Any]) -> None:
        self.rank, self.size = rank, size
        self.conns = conns
        self.procs = procs  # rank 0 only: rank -> Process

    @classmethod
    def start(cls, size: int, target: Callable[[PipeMesh], None]) -> PipeMesh:
        """Fork ranks ``1..size-1`` running ``target``; return rank 0's end of the mesh."""
        ctx = mp.get_context("fork")
        pipes: dict[tuple[int, int], tuple[Connection, Connection]] = {}
        for a in range(size):
            for b in range(a + 1, size):
                pipes[a, b] = ctx.Pipe()
        procs: dict[int, Any] = {}
        try:
            for r in range(1, size):
                p = ctx.Process(target=_worker_main, daemon=True,
                                args=(r, size, pipes, target))
                p.start()
                procs[r] = p
        finally:
            mine = {}
            for (a, b), (ca, cb) in pipes.items():
                if a == 0:
                    mine[b] = ca
                else:
                    ca.close()
                cb.close()
        return cls(0, size, mine, procs)

    # -- collectives -----------------------------------------------------------------

    def alltoall(self, out: list[bytes]) -> list[bytes]:
        got: list[bytes | None] = [None] * self.size
        got[self.rank] = out[self.rank]
        senders = self._send({r: out[r] for r in self.conns})
        self._receive(got, set(self.conns))
        self._joined(senders)
        return got  # type: ignore[return-value]

    def allgather(self, obj: Any) -> list[Any]:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return [pickle.loads(b) for b in self.alltoall([data] * self.size)]

    def bcast(self, obj: Any, root: int = 0) -> Any:
        if self.rank == root:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            self._joined(self._send({r: data for r in self.conns}))
            return obj
        got: list[bytes | None] = [None] * self.size
        self._receive(got, {root})
        return pickle.loads(got[root])  # type: ignore[arg-type]

    def close(self, abort: bool = False) -> None:
        """Close this rank's pipes; on rank 0, end the workers (at once when ``abort``:
        they may be deep in a level, or in a step function that never returns)."""
        for c in self.conns.values():
            c.close()
        for p in self.procs.values():
            if abort and p.is_alive():
                p.kill()
        for p in self.procs.values():
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, msgs: dict[int, bytes]) -> list[tuple[threading.Thread, list[Any]]]:
        out = []
        for r, data in msgs.items():
            err: list[Any] = []
            t = threading.Thread(target=_send_one, args=(self.conns[r], data, err),
                                 daemon=True)
            t.start()
            out.append((t, err))
        return out

    def _joined(self, senders: list[tuple[threading.Thread, list[Any]]]) -> None:
        for t, _err in senders:
            t.join()
        for (_t, err), r in zip(senders, list(self.conns), strict=True):
            if err:
                raise self._died(r)

    def _receive(self, got: list[bytes | None], want: set[int]) -> None:
        """Fill ``got[r]`` for every rank in ``want`` with its next message."""
        pending = {self.conns[r]: r for r in want}
        sentinels = {p.sentinel: r for r, p in self.procs.items()}
        while pending:
            ready = mp_wait([*pending, *sentinels])
            for c in ready:
                if c in pending:
                    r = pending.pop(c)  # type: ignore[call-overload]
                    try:
                        got[r] = c.recv_bytes()  # type: ignore[union-attr]
                    except (EOFError, OSError):
                        raise self._died(r) from None
            for c in ready:
                if c in sentinels:
                    r = sentinels.pop(c)  # type: ignore[call-overload]
                    conn = self.conns[r]
                    if conn in pending:
                        if conn.poll(0):  # its last message is read first
                            continue
                        raise self._died(r)

    def _died(self, r: int) -> WorkerDied:
        """The error for rank ``r``, whose pipe closed without a message."""
        p = self.procs.get(r)
        if p is None:
            return WorkerDied(r, "closed its pipe")
        p.join(timeout=2)
        code = p.exitcode
        return WorkerDied(r, "closed its pipe" if code is None else how_it_ended(code))


def how_it_ended(code: int) -> str:
    """How a process ended, from its exit code (negative: the signal that killed it)."""
    if code >= 0:
        return f"exited with status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = "an unknown signal"
    return f"was killed by signal {-code} ({name})"


def _send_one(conn: Connection, data: bytes, err: list[Any]) -> None:
    """Send in a sender thread.  Any failure is recorded for the join to raise: a peer
    that died (OSError), or this rank closing the pipe under the thread on a signal
    (TypeError from the handle gone, ValueError); a thread must never print it."""
    try:
        conn.send_bytes(data)
    except Exception as e:
        err.append(e)


def _worker_main(rank: int, size: int,
                 pipes: dict[tuple[int, int], tuple[Connection, Connection]],
                 target: Callable[[PipeMesh], None]) -> None:
    # Ctrl-C goes to the whole process group: rank 0 alone handles it (and ends the
    # workers), so a worker neither prints a traceback nor dies half-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    conns = {}
    for (a, b), (ca, cb) in pipes.items():
        if a == rank:
            conns[b] = ca
            cb.close()
        elif b == rank:
            conns[a] = cb
            ca.close()
        else:  # another pair's pipe: a copy held here would hide that pair's deaths
            ca.close()
            cb.close()
    mesh = PipeMesh(rank, size, conns, {})
    status = 0
    try:
        target(mesh)
    except BaseException:  # rank 0 reports it (a dead peer, or its own death's status)
        if os.environ.get("MCHECK_DEBUG"):
            traceback.print_exc()
        status = 1
    finally:
        mesh.close()
    sys.stdout.flush()
    os._exit(status)
