"""The partitioned search on the ranks of ``mpiexec``: an mpi4py transport and a supervisor.

Every rank runs the same :func:`mcheck.parallel.partitioned_search` over an
:class:`MPITransport`.  The search runs in a forked child of the process that
``mpiexec`` started, so that a rank that dies or raises ends the run with one
line of ours and the same exit status everywhere:

* the child initialises MPI, learns every parent's notice address (a TCP port
  opened before the fork) and reports to its parent on a pipe: its rank, then
  the result (broadcast from rank 0, so every rank exits with the same status)
  or the one-line error it raised;
* a parent whose child died or raised sends a notice to every other parent;
  each kills its child, and rank 0 prints the one line naming the rank;
* each parent then finalises the launcher's PMI connection in its child's name
  (hydra's PMI-1 ``cmd=finalize``) and exits normally, so hydra kills no one and
  prints no "BAD TERMINATION" banner;
* Ctrl-C (forwarded by ``mpiexec``) only raises a flag; the flag travels with
  the level's exchange, and every rank raises KeyboardInterrupt after the same
  exchange, so the search stops at the same level on every rank.

mpi4py is imported only in the child (``from mpi4py import MPI`` initialises
MPI, which must not happen before the fork).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import pickle
import selectors
import signal
import socket
import struct
import sys
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from mcheck.errors import UsageError, model_bug

__all__ = ["MPITransport", "RankFailed", "launched_rank", "mpi_check", "quiet_unless_first",
           "require_mpi4py", "supervise"]

#: The environment variables in which launchers give a process its rank.
_RANK_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID")
_PR_SET_PDEATHSIG = 1
_HEADER = struct.Struct("<Q")


def require_mpi4py() -> None:
    """Refuse ``--mpi`` in one line when mpi4py is not installed (without importing it)."""
    if importlib.util.find_spec("mpi4py") is None:
        raise UsageError("--mpi needs mpi4py, which is not installed",
                         "pip install -e '.[mpi]' (mpi4py and the mpich wheel), then run "
                         "`mpiexec -n N mcheck ... --mpi`")


def launched_rank(env: Mapping[str, str]) -> int:
    """This process's rank as its launcher set it in ``env`` (0 when none did)."""
    for name in _RANK_VARIABLES:
        value = env.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def quiet_unless_first(rank: int) -> None:
    """On ranks other than 0, send stdout and stderr to /dev/null: rank 0 alone prints."""
    if rank == 0:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


class RankFailed(UsageError):
    """A rank died or raised: the run stopped on every rank (rank 0 prints the line)."""


class MPITransport:
    """The partitioned search's transport (:class:`mcheck.transport.Transport`) on an
    mpi4py communicator.

    :meth:`alltoall` is two collectives: ``Alltoall`` of (length, interrupted)
    pairs, then ``Alltoallv`` of the bytes in one buffer (7x cheaper than
    mpi4py's pickled ``alltoall`` at 20 MB a destination: bench/bench_mpi.py
    ``--exchange``).  When any rank's flag is set (:meth:`interrupt`), every rank
    raises KeyboardInterrupt after the same exchange, once.
    """

    def __init__(self, comm: Any) -> None:
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()
        self.interrupted = False
        self._delivered = False

    def interrupt(self) -> None:
        """Ask every rank to stop after the next exchange (a signal handler may call it)."""
        self.interrupted = True

    def alltoall(self, out: list[bytes]) -> list[bytes]:
        """Send ``out[r]`` to rank ``r``; return what each rank sent here, by source."""
        n, mpi = self.size, self._mpi
        if len(out) != n:
            raise ValueError(f"alltoall needs one buffer per rank ({n}), got {len(out)}")
        flag = int(self.interrupted and not self._delivered)
        head = array("q", [0]) * (2 * n)
        for r, b in enumerate(out):
            head[2 * r] = len(b)
            head[2 * r + 1] = flag
        got = array("q", [0]) * (2 * n)
        self.comm.Alltoall([head, 2, mpi.INT64_T], [got, 2, mpi.INT64_T])
        sizes = array("q", [len(b) for b in out])
        rsizes = array("q", [got[2 * r] for r in range(n)])
        sdispl, rdispl = array("q", [0]) * n, array("q", [0]) * n
        for r in range(1, n):
            sdispl[r] = sdispl[r - 1] + sizes[r - 1]
            rdispl[r] = rdispl[r - 1] + rsizes[r - 1]
        send = b"".join(out)
        recv = bytearray(sum(rsizes))
        self.comm.Alltoallv([send, sizes, sdispl, mpi.BYTE], [recv, rsizes, rdispl, mpi.BYTE])
        view = memoryview(recv)
        result = [bytes(view[rdispl[r]:rdispl[r] + rsizes[r]]) for r in range(n)]
        if any(got[2 * r + 1] for r in range(n)):
            self._delivered = True
            raise KeyboardInterrupt
        return result

    def allgather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, by rank."""
        return list(self.comm.allgather(obj))

    def bcast(self, obj: Any, root: int = 0) -> Any:
        """``root``'s ``obj``, on every rank."""
        return self.comm.bcast(obj, root=root)

    def close(self) -> None:
        """Nothing to release: the communicator is the world's."""


def mpi_check(model: Any, props: list[Any], bounds: Any, stop_at_first: bool, deadlock: bool,
              progress: Any, canonical: Callable[[Any], Any] | None, *, store_kind: str,
              checkpoint: Any = None, checkpoint_every: float | None = None,
              resume: Any = None) -> Any:
    """This rank's share of the partitioned search of ``model`` (every rank calls it).

    Returns the :class:`~mcheck.result.Result` on every rank (rank 0's,
    broadcast), so that every rank exits with the same status.  Raises
    :class:`RankFailed` on every rank when one died or raised.
    """
    require_mpi4py()

    def search(transport: MPITransport) -> Any:
        from mcheck.parallel import partitioned_search

        return partitioned_search(model, props, bounds, stop_at_first, deadlock, progress,
                                  canonical, transport, store_kind=store_kind,
                                  checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                                  resume=resume)

    return supervise(search, getattr(model, "name", "model"))


def supervise(search: Callable[[MPITransport], Any], model_name: str) -> Any:
    """Run ``search`` on an :class:`MPITransport` in a forked child; see the module docstring."""
    listener = socket.create_server(("", 0), backlog=64)
    port = _listener_port(listener)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in os._exit (tests run it under mpiexec)
        listener.close()
        os.close(read_fd)
        _child(search, write_fd, port, model_name)
    os.close(write_fd)
    try:
        return _parent(pid, read_fd, listener)
    finally:
        os.close(read_fd)
        listener.close()


def _listener_port(listener: socket.socket) -> int:
    """The port a parent takes notices on."""
    return int(listener.getsockname()[1])


def _send(fd: int, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _child(search: Callable[[MPITransport], Any], fd: int, port: int,
           model_name: str) -> None:  # pragma: no cover - runs under mpiexec only
    """The search process of one rank: never returns."""
    status = 1
    try:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:
            os._exit(1)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        transport = MPITransport(comm)
        peers = comm.allgather((socket.gethostname(), port))
        _send(fd, ("rank", transport.rank, transport.size, peers))

        def on_signal(_signum: int, _frame: Any) -> None:
            transport.interrupt()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            result = search(transport)
        except KeyboardInterrupt:  # every rank raised it after the same exchange
            _send(fd, ("interrupted",))
            MPI.Finalize()
        except UsageError as e:
            _send(fd, ("error", f"rank {transport.rank} of {transport.size}: {e.cause}", e.fix))
        except (Exception, SystemExit) as e:
            err = model_bug(model_name, e, f"on rank {transport.rank} of {transport.size}")
            _send(fd, ("error", err.cause, err.fix))
        else:
            result = transport.bcast(result if transport.rank == 0 else None)
            _send(fd, ("result", result))
            MPI.Finalize()
            status = 0
    except BaseException as e:
        with contextlib.suppress(BaseException):
            _send(fd, ("error", f"a rank could not start the search: {type(e).__name__}: {e}",
                       "check the MPI installation (`mpiexec -n 2 python -m mpi4py.bench "
                       "helloworld`)"))
    finally:
        os._exit(status)


def _read_message(fd: int, buffer: bytearray) -> list[Any]:
    """Read what the child wrote; return the complete messages (empty list at EOF too)."""
    chunk = os.read(fd, 1 << 20)
    if not chunk:
        raise EOFError
    buffer += chunk
    out = []
    while len(buffer) >= _HEADER.size:
        (n,) = _HEADER.unpack_from(buffer)
        if len(buffer) < _HEADER.size + n:
            break
        out.append(pickle.loads(bytes(buffer[_HEADER.size:_HEADER.size + n])))
        del buffer[:_HEADER.size + n]
    return out


def _parent(pid: int, fd: int, listener: socket.socket) -> Any:
    """Wait for the child's result; on a failure anywhere stop every rank (module docstring)."""
    rank, size, peers = None, None, []
    buffer = bytearray()
    result: Any = None
    error: tuple[str, str] | None = None
    notice: tuple[str, str] | None = None
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, "child")
    sel.register(listener, selectors.EVENT_READ, "notice")
    got_result = interrupted = False
    child_open = True
    try:
        while child_open and notice is None:
            try:
                events = sel.select()
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the child stops at a level's end
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGINT)
                continue
            for key, _ in events:
                if key.data == "notice":
                    notice = _take_notice(listener)
                    continue
                try:
                    messages = _read_message(fd, buffer)
                except EOFError:
                    child_open = False
                    continue
                for m in messages:
                    if m[0] == "rank":
                        rank, size, peers = m[1], m[2], m[3]
                    elif m[0] == "result":
                        result, got_result = m[1], True
                    elif m[0] == "error":
                        error = (m[1], m[2])
                    elif m[0] == "interrupted":
                        interrupted = True
    finally:
        sel.close()
    if notice is not None:  # another rank failed: stop ours, say nothing but on rank 0
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        _finalize_pmi()
        raise RankFailed(*notice)
    status = _reap(pid)
    _finalize_pmi()
    if got_result and status == 0:
        return result
    if interrupted and error is None:
        raise KeyboardInterrupt
    if error is None:
        how = _how_it_ended(status)
        where = f"rank {rank} of {size}" if rank is not None else "a rank"
        fix = ("a rank killed by signal 9 is usually the system's out-of-memory killer: "
               "give --max-memory, or more ranks" if "signal 9" in how else
               "run again; without --mpi the same error shows its cause")
        error = (f"{where} {how}; the search stopped on every rank", fix)
    _notify(peers, rank, error)
    raise RankFailed(*error)


def _reap(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except KeyboardInterrupt:
            continue
        except ChildProcessError:
            return 0


def _how_it_ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by signal {sig} ({name})"
    return f"exited with status {os.waitstatus_to_exitcode(status)} without a result"


def _take_notice(listener: socket.socket) -> tuple[str, str]:
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(5)
        data = b""
        while True:
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    try:
        cause, fix = pickle.loads(data)
        return str(cause), str(fix)
    except Exception:
        return "another rank failed; the search stopped on every rank", ""


def _notify(peers: list[tuple[str, int]], rank: int | None,
            error: tuple[str, str]) -> None:
    """Tell every other rank's parent that this rank failed (best effort, a few seconds)."""
    data = pickle.dumps(error)
    for r, (host, port) in enumerate(peers):
        if r == rank:
            continue
        with contextlib.suppress(OSError):
            with socket.create_connection((host, port), timeout=5) as conn:
                conn.sendall(data)


def _finalize_pmi() -> None:
    """Finalise hydra's PMI-1 connection from the process hydra started, once its child ended.

    Without it hydra may take our exit for an abort (when its child died, and
    at random even after the child's own ``MPI_Finalize``: 1 run in 3 at
    ``-n 3``), kill every rank with SIGKILL and print its banner.  Only under
    hydra's PMI-1 (``PMI_FD`` set, not under Slurm, not
    ``MPIR_CVAR_PMI_VERSION=2``); elsewhere the launcher cleans up its own way.
    """
    env = os.environ
    fd_text = env.get("PMI_FD", "")
    if (not fd_text.isdigit() or "SLURM_STEP_ID" in env
            or env.get("MPIR_CVAR_PMI_VERSION", "1") != "1"):
        return
    fd = int(fd_text)
    with contextlib.suppress(OSError):
        os.write(fd, b"cmd=finalize\n")
        sel = selectors.DefaultSelector()
        try:
            sel.register(fd, selectors.EVENT_READ)
            if sel.select(timeout=5):
                os.read(fd, 4096)
        finally:
            sel.close()
