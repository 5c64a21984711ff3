"""``--mpi`` under a real ``mpiexec`` (the mpich wheel's hydra) on loopback.

Every run goes through ``mpiexec -n 2`` or ``-n 3`` (3 ranks on this 2-core
machine: oversubscribed, which hydra allows without a flag), with timeouts so
that nothing hangs.  These tests must run in CI: there a missing mpi4py is a
failure naming the README's install command; elsewhere the tests skip.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mcheck.cli import main

ROOT = Path(__file__).resolve().parent.parent
TOYS = str(ROOT / "examples" / "toys.py")
INSTALL = "pip install -e '.[test,mpi]'"


def _mpi_missing() -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed"
    if shutil.which("mpiexec") is None:
        return "mpiexec is not on PATH"
    return None


@pytest.fixture(scope="module", autouse=True)
def mpi_installed():
    missing = _mpi_missing()
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing}: CI must run the README's test command ({INSTALL} && "
                    "python -m pytest), which installs the [mpi] extra")
    pytest.skip(f"{missing} ({INSTALL} installs it)")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("MCHECK_DEBUG", None)
    return env


def mpiexec(n: int, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``mpiexec -n N python ARGV`` from the repository root, with a timeout."""
    return subprocess.run(["mpiexec", "-n", str(n), sys.executable, *argv], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=timeout)


def test_without_mpi4py_the_flag_is_one_line(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mpi4py" else real(name, *a))
    assert main(["check", TOYS, "--toy", "ladder", "--mpi"]) == 2
    err = capsys.readouterr().err
    assert err == ("mcheck: --mpi needs mpi4py, which is not installed; pip install -e "
                   "'.[mpi]' (mpi4py and the mpich wheel), then run `mpiexec -n N mcheck ... "
                   "--mpi`\n")


# -- the transport and the supervisor, on a search written here --------------------------

PROBE = textwrap.dedent('''\
    """Runs under mpiexec: a few levels of exchanges through mcheck.mpi.supervise."""
    import os
    import sys
    import time

    from mcheck.errors import UsageError
    from mcheck.mpi import launched_rank, quiet_unless_first, supervise

    mode, levels = sys.argv[1], int(sys.argv[2])


    def search(t):
        got = None
        for level in range(levels):
            if t.rank == t.size - 1 and level == 2:
                if mode == "raise":
                    raise ValueError(f"no state at level {level}")
                if mode == "kill":
                    with open(sys.argv[3], "w") as f:
                        f.write(str(os.getpid()))
                    time.sleep(60)
            if mode == "slow" and t.rank == 0 and level == 1:
                with open(sys.argv[3], "w") as f:
                    f.write(str(os.getpid()))
            time.sleep(0.05 if mode == "slow" else 0)
            got = t.alltoall([f"{t.rank}>{r}@{level}".encode() * (r + 1)
                              for r in range(t.size)])
        return {"got": got, "gathered": t.allgather(t.rank * 10),
                "bcast": t.bcast(f"from {t.size - 1}", root=t.size - 1)}


    rank = launched_rank(os.environ)
    quiet_unless_first(rank)
    try:
        print(supervise(search, "probe"), flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(130)
    except UsageError as e:
        sys.stderr.write(str(e) + "\\n")
        sys.exit(2)
''')


@pytest.fixture
def probe(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text(PROBE)
    return str(path)


@pytest.mark.parametrize("n", [2, 3])
def test_transport_exchanges_bytes_and_objects(probe, n):
    p = mpiexec(n, probe, "ok", "4")
    assert (p.returncode, p.stderr) == (0, "")
    got = [f"{r}>0@3".encode() for r in range(n)]
    assert p.stdout == (f"{{'got': {got!r}, 'gathered': {[10 * r for r in range(n)]!r}, "
                        f"'bcast': 'from {n - 1}'}}\n")


@pytest.mark.parametrize("n", [2, 3])
def test_a_rank_that_raises_ends_every_rank_with_one_line(probe, n):
    p = mpiexec(n, probe, "raise", "5")
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr == (f"mcheck: model 'probe' raised ValueError: no state at level 2 (on rank "
                        f"{n - 1} of {n}); this is a bug in the model (MCHECK_DEBUG=1 shows the "
                        "traceback)\n")


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{path} never appeared")


def _popen(n: int, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["mpiexec", "-n", str(n), sys.executable, *argv], cwd=ROOT,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("n", [2, 3])
def test_a_rank_killed_with_sigkill_ends_every_rank_with_one_line(probe, tmp_path, n):
    pid_file = tmp_path / "pid"
    proc = _popen(n, probe, "kill", "5", str(pid_file))
    os.kill(_wait_for(pid_file, proc), signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (2, "")
    assert err == (f"mcheck: rank {n - 1} of {n} was killed by signal 9 (SIGKILL); the search "
                   "stopped on every rank; a rank killed by signal 9 is usually the system's "
                   "out-of-memory killer: give --max-memory, or more ranks\n")


def test_ctrl_c_stops_every_rank_after_the_same_exchange(probe, tmp_path):
    pid_file = tmp_path / "pid"
    proc = _popen(3, probe, "slow", "100000", str(pid_file))
    _wait_for(pid_file, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    # Every rank raised KeyboardInterrupt after the same exchange: all exit 130, rank 0 says
    # so.  mpiexec itself prints its two lines on stdout.
    host = os.uname().nodename
    assert (proc.returncode, err) == (130, "")
    assert out == (f"[mpiexec@{host}] Sending Ctrl-C to processes as requested\n"
                   f"[mpiexec@{host}] Press Ctrl-C again to force abort\n"
                   "interrupted\n")
