"""The partitioned search on the ranks of ``mpiexec``: an mpi4py transport and a supervisor.

Every rank runs the same :func:`mcheck.parallel.partitioned_search` over an
:class:`MPITransport`.  The search runs in a forked child of the process that
``mpiexec`` started, so that a rank that dies or raises ends the run with one
line of ours and the same exit status everywhere:

* the child initialises MPI, learns every parent's notice address (a TCP port
  opened before the fork) and the key that signs notices (HMAC-SHA256, random
  from rank 0), and tells its parent its rank, then its outcome;
* rank 0's parent sends the result to every other parent, so every rank
  returns it and exits with the same status; a parent whose child died or
  raised sends every other parent the one line instead, and rank 0 prints it;
* a parent whose notice says the others are done ends its child if needed
  (after a time-out rank 0 leaves the others inside a collective), finalises
  the launcher's PMI connection in its name (hydra's PMI-1 ``cmd=finalize``)
  and exits normally, so hydra kills no one and prints no "BAD TERMINATION"
  banner;
* Ctrl-C or SIGTERM (forwarded by ``mpiexec``) raises a flag that travels with
  the next exchange, and every rank raises KeyboardInterrupt after the same
  exchange; when that has not happened within :data:`FORCE_AFTER` seconds (a
  rank inside a step that never returns), each rank stops where it is and
  rank 0 reports what it found.

mpi4py is imported only in the child (``from mpi4py import MPI`` initialises
MPI, which must not happen before the fork).
"""

from __future__ import annotations

import contextlib
import ctypes
import hmac
import importlib.util
import os
import pickle
import secrets
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from array import array
from collections.abc import Callable, Mapping
from typing import Any

from mcheck.errors import UsageError, model_bug
from mcheck.transport import how_it_ended

__all__ = ["FORCE_AFTER", "SHM_PREFIX", "MPITransport", "RankFailed", "launched_rank",
           "mpi_check", "quiet_unless_first", "require_mpi4py", "supervise",
           "unlink_shared_memory"]

#: The environment variables in which launchers give a process its rank.
_RANK_VARIABLES = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID")
_PR_SET_PDEATHSIG = 1
_HEADER = struct.Struct("<Q")
#: Seconds a rank waits for the level to end after Ctrl-C before it stops where it is.
FORCE_AFTER = 2.0


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

    Every operation is one exchange of bytes: ``Ialltoall`` of (length,
    interrupted) pairs, then ``Ialltoallv`` of the bytes in one buffer (as fast
    as mpi4py's pickled ``alltoall`` from 10 kB to 1 MB a destination, 1.9x-7x
    faster at 20 MB: ``python bench/bench_mpi.py --exchange``); ``allgather`` and
    ``bcast`` pickle their object into it.  Waits poll with short sleeps, so
    signals (Ctrl-C, the time bound's timer) are handled while waiting and an
    idle rank does not spin.  When any rank's flag is set (:meth:`interrupt`),
    every rank raises KeyboardInterrupt after the same exchange, once;
    :meth:`force` raises it wherever the rank is (``aligned`` becomes False).
    """

    def __init__(self, comm: Any) -> None:
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()
        self.interrupted = False
        self.forced = False
        self.delivered = False

    @property
    def aligned(self) -> bool:
        """Whether every rank is at the same collective (no forced interrupt was raised)."""
        return not self.forced

    def interrupt(self) -> None:
        """Ask every rank to stop after the next exchange (a signal handler may call it)."""
        self.interrupted = True

    def force(self) -> None:
        """From now on, a KeyboardInterrupt may leave the ranks at different collectives."""
        self.forced = True

    def _wait(self, request: Any) -> None:
        spins = 0
        while not request.Test():
            spins += 1
            if spins > 50:
                time.sleep(0.0002 if spins < 1000 else 0.002)

    def _exchange(self, out: list[bytes]) -> list[bytes]:
        n, mpi = self.size, self._mpi
        if len(out) != n:
            raise ValueError(f"an exchange needs one buffer per rank ({n}), got {len(out)}")
        flag = int(self.interrupted and not self.delivered)
        head = array("q", [0]) * (2 * n)
        for r, b in enumerate(out):
            head[2 * r] = len(b)
            head[2 * r + 1] = flag
        got = array("q", [0]) * (2 * n)
        self._wait(self.comm.Ialltoall([head, 2, mpi.INT64_T], [got, 2, mpi.INT64_T]))
        sizes = array("q", [len(b) for b in out])
        rsizes = array("q", [got[2 * r] for r in range(n)])
        sdispl, rdispl = array("q", [0]) * n, array("q", [0]) * n
        for r in range(1, n):
            sdispl[r] = sdispl[r - 1] + sizes[r - 1]
            rdispl[r] = rdispl[r - 1] + rsizes[r - 1]
        send = b"".join(out)
        recv = bytearray(sum(rsizes))
        self._wait(self.comm.Ialltoallv([send, sizes, sdispl, mpi.BYTE],
                                        [recv, rsizes, rdispl, mpi.BYTE]))
        view = memoryview(recv)
        result = [bytes(view[rdispl[r]:rdispl[r] + rsizes[r]]) for r in range(n)]
        if any(got[2 * r + 1] for r in range(n)):
            self.delivered = True
            raise KeyboardInterrupt
        return result

    def alltoall(self, out: list[bytes]) -> list[bytes]:
        """Send ``out[r]`` to rank ``r``; return what each rank sent here, by source."""
        return self._exchange(out)

    def allgather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, by rank."""
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return [pickle.loads(b) for b in self._exchange([data] * self.size)]

    def bcast(self, obj: Any, root: int = 0) -> Any:
        """``root``'s ``obj``, on every rank."""
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL) if self.rank == root else b""
        return pickle.loads(self._exchange([data] * self.size)[root])

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
        unlink_shared_memory()  # every rank is past MPI_Init: all have attached
        key = comm.bcast(secrets.token_bytes(32) if transport.rank == 0 else None)
        _send(fd, ("rank", transport.rank, transport.size, peers, key))

        main = threading.main_thread().ident
        assert main is not None

        def on_signal(_signum: int, _frame: Any) -> None:
            if transport.forced:
                raise KeyboardInterrupt
            if not transport.interrupted:
                transport.interrupt()
                threading.Timer(FORCE_AFTER, force).start()

        def force() -> None:  # the level did not end in time: stop wherever each rank is
            if not transport.delivered:
                transport.force()
                signal.pthread_kill(main, signal.SIGINT)  # wakes a sleep, unlike interrupt_main

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        where = f"rank {transport.rank} of {transport.size}"
        aligned = True  # every rank left the search at the same collective
        try:
            result = search(transport)
        except KeyboardInterrupt:  # after the same exchange on every rank, unless forced
            _send(fd, ("interrupted",) if transport.rank == 0 else ("done",))
            aligned = transport.aligned
        except UsageError as e:
            _send(fd, ("error", f"{where}: {e.cause}", e.fix))
            aligned = False
        except (Exception, SystemExit) as e:
            err = model_bug(model_name, e, f"on {where}")
            _send(fd, ("raised", _picklable(e), err.cause, err.fix))
            aligned = False
        else:
            if transport.rank == 0:
                # Rank 0 stopped by its timer leaves the others inside a collective.
                aligned = transport.aligned and getattr(result, "stopped_by", None) != "time"
                _send(fd, ("result", result, aligned))
            else:
                _send(fd, ("done",))
                aligned = transport.aligned
        if aligned:
            MPI.Finalize()
            status = 0
    except BaseException as e:
        with contextlib.suppress(BaseException):
            _send(fd, ("error", f"a rank could not start the search: {type(e).__name__}: {e}",
                       "check the MPI installation (`mpiexec -n 2 python -m mpi4py.bench "
                       "helloworld`)"))
    finally:
        os._exit(status)


#: where MPICH keeps a node's shared-memory segment (its ch3/ch4 shm transports)
SHM_PREFIX = "/dev/shm/mpich_shm_"


def unlink_shared_memory(maps: str = "/proc/self/maps") -> list[str]:
    """Unlink the MPICH shared-memory files this process has mapped; the paths unlinked.

    MPICH unlinks its node's segment in ``MPI_Finalize``, which a rank that is killed,
    or that leaves a collective others are still in, never reaches: the file then stays
    in ``/dev/shm`` (RAM) until reboot.  Once every rank on the node has attached (after
    the first collective), the name is no longer needed: the mappings outlive it, as for
    any unlinked file, so unlinking it then leaves nothing behind however the run ends.
    Another rank of the node may have unlinked it first.
    """
    try:
        with open(maps) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    done = []
    for line in lines:
        parts = line.split(maxsplit=5)
        path = parts[5] if len(parts) == 6 else ""
        if path.startswith(SHM_PREFIX) and path not in done:
            with contextlib.suppress(OSError):
                os.unlink(path)
            done.append(path)
    return done


def _picklable(e: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")


def _read_message(fd: int, buffer: bytearray) -> list[Any]:
    """Read what the child wrote; return the complete messages (EOFError at the end)."""
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
    """Wait for this rank's outcome and share it (see the module docstring).

    Rank 0 sends every other rank's parent the result; a rank whose child
    failed sends every other rank's parent the one line.  A parent ends its
    child when a notice says the others are gone, finalises PMI and returns
    (or raises) what the notice or its own child said.
    """
    rank, size, peers = None, None, []
    secret: bytes | None = None  # signs the notices (rank 0's random key)
    pending: list[bytes] = []  # notices received before the key
    buffer = bytearray()
    own: tuple[Any, ...] | None = None  # the child's last word
    notice: tuple[Any, ...] | None = None
    status: int | None = None  # the child's wait status, once reaped
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ, "child")
    sel.register(listener, selectors.EVENT_READ, "notice")
    try:
        while notice is None:
            try:
                events = sel.select()
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the child stops at a level's end
                if status is None:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGINT)
                continue
            for key, _ in events:
                if key.data == "notice":
                    pending.append(_receive(listener))
                    notice = _first_notice(pending, secret)
                    continue
                try:
                    messages = _read_message(fd, buffer)
                except EOFError:
                    sel.unregister(fd)
                    status = _reap(pid)
                    continue
                for m in messages:
                    if m[0] == "rank":
                        rank, size, peers, secret = m[1], m[2], m[3], m[4]
                        notice = _first_notice(pending, secret)
                    else:
                        own = m
            if status is not None and (rank in (0, None) or own is None or own[0] != "done"):
                break  # rank 0, or a failure here: this rank decides (a clean rank waits)
    finally:
        sel.close()
    if notice is not None:
        if status is None:
            aligned = notice[0] == "result" and notice[2]
            status = _reap(pid, grace=None if aligned else 0.0)
        _finalize_pmi()
        if notice[0] == "result":
            return notice[1]
        if notice[0] == "interrupted":
            raise KeyboardInterrupt
        raise RankFailed(notice[1], notice[2])
    _finalize_pmi()
    assert status is not None
    if own is not None and own[0] == "result":
        _notify(peers, rank, secret, ("result", own[1], own[2]))
        return own[1]
    if own is not None and own[0] == "interrupted":
        _notify(peers, rank, secret, ("interrupted",))
        raise KeyboardInterrupt
    if own is not None and own[0] in ("error", "raised"):
        cause, fix = own[-2], own[-1]
        _notify(peers, rank, secret, ("failed", cause, fix))
        if own[0] == "raised" and rank == 0:
            raise own[1]  # reads as without --mpi: the engine raises the first in order
        raise RankFailed(cause, fix)
    how = _how_it_ended(status)
    where = f"rank {rank} of {size}" if rank is not None else "a rank"
    fix = ("a rank killed by signal 9 is usually the system's out-of-memory killer: "
           "give --max-memory, or more ranks" if "signal 9" in how else
           "run again; without --mpi the same error shows its cause")
    cause = f"{where} {how}; the search stopped on every rank"
    _notify(peers, rank, secret, ("failed", cause, fix))
    raise RankFailed(cause, fix)


def _reap(pid: int, grace: float | None = None) -> int:
    """Wait for the child; after ``grace`` seconds (None: no limit) kill it first."""
    if grace is not None:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            time.sleep(0.01)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except KeyboardInterrupt:
            continue
        except ChildProcessError:
            return 0


def _how_it_ended(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return how_it_ended(code) + ("" if code < 0 else " without a result")


def _receive(listener: socket.socket) -> bytes:
    """What one connection to the notice port sent."""
    conn, _ = listener.accept()
    data = bytearray()
    with conn:
        conn.settimeout(60)
        with contextlib.suppress(OSError):
            while chunk := conn.recv(1 << 20):
                data += chunk
    return bytes(data)


def _first_notice(pending: list[bytes], secret: bytes | None) -> tuple[Any, ...] | None:
    """The first of ``pending`` signed with ``secret`` (others are dropped: not ours)."""
    if secret is None:
        return None
    while pending:
        data = pending.pop(0)
        mac, body = data[:32], data[32:]
        if not hmac.compare_digest(mac, hmac.digest(secret, body, "sha256")):
            continue  # the port is open to the network: only the ranks know the key
        notice = pickle.loads(body)
        if isinstance(notice, tuple) and notice and notice[0] in (
                "result", "interrupted", "failed"):
            return notice
    return None


def _notify(peers: list[tuple[str, int]], rank: int | None, secret: bytes | None,
            notice: tuple[Any, ...]) -> None:
    """Send ``notice``, signed, to every other rank's parent (best effort)."""
    if secret is None:
        return
    body = pickle.dumps(notice, protocol=pickle.HIGHEST_PROTOCOL)
    data = hmac.digest(secret, body, "sha256") + body
    for r, (host, port) in enumerate(peers):
        if r == rank:
            continue
        with contextlib.suppress(OSError):
            with socket.create_connection((host, port), timeout=60) as conn:
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
