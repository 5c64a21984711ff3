"""``--mpi`` under a real ``mpiexec`` (the mpich wheel's hydra) on loopback.

Every run goes through ``mpiexec -n 2`` or ``-n 3`` (3 ranks on this 2-core
machine: oversubscribed, which hydra allows without a flag), with timeouts so
that nothing hangs.  These tests must run in CI: there a missing mpi4py is a
failure naming the README's install command; elsewhere the tests skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
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
from mcheck.mpi import SHM_PREFIX, unlink_shared_memory

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
            return int(path.read_text().split()[0])
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{path} never appeared")


def _popen(n: int, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["mpiexec", "-n", str(n), sys.executable, *argv], cwd=ROOT,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("n", [2, 3])
def test_a_rank_killed_with_sigkill_ends_every_rank_with_one_line(probe, tmp_path, n,
                                                                  no_leftovers):
    pid_file = tmp_path / "pid"
    proc = _popen(n, probe, "kill", "5", str(pid_file))
    no_leftovers.append(proc)
    os.kill(_wait_for(pid_file, proc), signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (2, "")
    assert err == (f"mcheck: rank {n - 1} of {n} was killed by signal 9 (SIGKILL); the search "
                   "stopped on every rank; a rank killed by signal 9 is usually the system's "
                   "out-of-memory killer: give --max-memory, or more ranks\n")


def test_ctrl_c_stops_every_rank_after_the_same_exchange(probe, tmp_path, no_leftovers):
    pid_file = tmp_path / "pid"
    proc = _popen(3, probe, "slow", "100000", str(pid_file))
    no_leftovers.append(proc)
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


# -- the command line: results identical to one process --------------------------------

COW = str(ROOT / "models" / "cow")
CVE = ["--budget", "fork=1,get=1,unmap=1,write=2", "--gup-modes", "ro-slow,ro-fast"]
CONFIGS = {
    "cow-violated": ["explore", COW, "--policy", "E1", *CVE],
    "cow-holds": ["explore", COW, "--policy", "E3", *CVE],
    "cow-violated-symmetry": ["check", COW, "--policy", "E3", "--scenario", "S07",
                              "--symmetry", "on"],
    "toy-violated": ["check", TOYS, "--toy", "lost-update"],
    "toy-holds-symmetry": ["check", TOYS, "--toy", "increments", "--procs", "3",
                           "--symmetry", "on"],
}


@pytest.fixture(scope="module")
def proof_cache(tmp_path_factory):
    """One proof cache for the module: the one-process run proves, the ranks read it."""
    return str(tmp_path_factory.mktemp("proofs"))


def _cli(argv: list[str], n: int | None, cache: str,
         extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**_env(), "MCHECK_CACHE_DIR": cache, **(extra_env or {})}
    cmd = [sys.executable, "-m", "mcheck", *argv, "--json", "-q"]
    if n is not None:
        cmd = ["mpiexec", "-n", str(n), *cmd, "--mpi"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _comparable(stdout: str) -> dict:
    """The JSON document without times, store fields and how the proof was obtained.

    (The COW model's proofs cost 10-60 s each: one, of a scenario, is enough here.)
    """
    doc = json.loads(stdout)
    for m in doc["models"]:
        m.pop("elapsed")
        m.pop("store")
        for key in ("proof", "seconds", "cached", "cache"):
            m.get("symmetry", {}).pop(key, None)
    return doc


@pytest.fixture(scope="module")
def one_process(proof_cache):
    done: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(name: str) -> subprocess.CompletedProcess[str]:
        if name not in done:
            done[name] = _cli(CONFIGS[name], None, proof_cache)
        return done[name]
    return run


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_json_is_one_process_s_apart_from_times_and_store(name, n, one_process, proof_cache):
    one = one_process(name)
    assert one.returncode == (1 if "violated" in name else 0), one.stderr
    p = _cli(CONFIGS[name], n, proof_cache)
    assert (p.returncode, p.stderr) == (one.returncode, "")
    assert _comparable(p.stdout) == _comparable(one.stdout)
    [model] = json.loads(p.stdout)["models"]
    assert model["store"]["kind"] == "compact"


def test_a_model_that_raises_reads_as_without_mpi(proof_cache):
    argv = ["check", str(ROOT / "tests" / "bad_inputs" / "models" / "step_raises.py")]
    one = _cli(argv, None, proof_cache)
    assert one.returncode == 2 and "raised ZeroDivisionError: step at 2" in one.stderr
    for n in (2, 3):
        p = _cli(argv, n, proof_cache)
        assert (p.returncode, p.stdout, p.stderr) == (2, "", one.stderr)


# -- a rank killed, Ctrl-C, kill and resume, through the command line --------------------

GRID = textwrap.dedent('''\
    """A 2-D counter that stalls at the state SLOW_STALL_AT, writing its pid and rank."""
    import os
    import time

    from mcheck import Model, invariant

    STALL = os.environ.get("SLOW_STALL_AT")
    PIDS = os.environ.get("SLOW_PID_FILE")


    class Grid(Model):
        name = "grid"

        def params(self):
            return {}

        def initial_states(self):
            return [(0, 0)]

        def actions(self, s):
            return [("x",), ("y",)] if s[0] + s[1] < 40 else []

        def step(self, s, a):
            if STALL is not None and s == tuple(map(int, STALL.split(","))):
                with open(PIDS + ".tmp", "w") as f:
                    f.write(f"{os.getpid()} {os.environ.get('PMI_RANK', '0')}")
                os.rename(PIDS + ".tmp", PIDS)
                time.sleep(600)
            return (s[0] + 1, s[1]) if a == ("x",) else (s[0], s[1] + 1)

        def properties(self):
            return [invariant("small", lambda s: s[0] * s[1] < 10_000)]


    def mcheck_models(options):
        return [Grid()]
''')


@pytest.fixture
def grid(tmp_path):
    path = tmp_path / "grid.py"
    path.write_text(GRID)
    return str(path)


@pytest.fixture(autouse=True)
def no_leftovers():
    """A failed test must not leave a rank asleep in its step: end what it started."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            for pid in _tree(proc.pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            proc.communicate()


def _tree(root: int) -> list[int]:
    """``root`` and the processes below it (found through /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _popen_cli(n: int, argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(["mpiexec", "-n", str(n), sys.executable, "-m", "mcheck", *argv,
                             "--json", "-q", "--mpi"], cwd=ROOT, env={**_env(), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("stall", ["5,5", "6,2"])
def test_a_killed_rank_through_the_command_line(grid, tmp_path, stall, no_leftovers):
    pid_file = tmp_path / "pid"
    proc = _popen_cli(2, ["check", grid], {"SLOW_STALL_AT": stall,
                                          "SLOW_PID_FILE": str(pid_file)})
    no_leftovers.append(proc)
    pid = _wait_for(pid_file, proc)
    rank = pid_file.read_text().split()[1]
    # MPICH's shared-memory file is unlinked while the ranks run (mcheck.mpi
    # unlink_shared_memory): a killed rank, which never finalises, leaves nothing in /dev/shm
    shm = [line.split(maxsplit=5)[5] for line in Path(f"/proc/{pid}/maps").read_text()
           .splitlines() if SHM_PREFIX in line]
    assert shm and all(path.endswith(" (deleted)") for path in shm), shm
    os.kill(pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (2, "")
    assert err == (f"mcheck: rank {rank} of 2 was killed by signal 9 (SIGKILL); the search "
                   "stopped on every rank; a rank killed by signal 9 is usually the system's "
                   "out-of-memory killer: give --max-memory, or more ranks\n")
    assert not any(os.path.exists(path.removesuffix(" (deleted)")) for path in shm)


def test_unlink_shared_memory_takes_the_mapped_mpich_files_only(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(
        "7f00-7f10 rw-s 00000000 00:1a 123 /dev/shm/mpich_shm_test_absent_0\n"
        "7f10-7f20 rw-s 00000000 00:1a 123 /dev/shm/mpich_shm_test_absent_0\n"
        "7f20-7f30 r--p 00000000 08:01 456 /usr/lib/libc.so.6\n"
        "7f30-7f40 rw-p 00000000 00:00 0\n"
        "7f40-7f50 rw-s 00000000 00:1a 789 /dev/shm/other_segment\n")
    assert unlink_shared_memory(str(maps)) == ["/dev/shm/mpich_shm_test_absent_0"]
    assert unlink_shared_memory(str(tmp_path / "no-such-maps")) == []


@pytest.mark.parametrize("how, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_every_rank_even_one_stuck_in_a_step(grid, tmp_path, how, status,
                                                            no_leftovers):
    # The stuck rank never reaches the level's end: 2 s later every rank stops where it is.
    pid_file = tmp_path / "pid"
    proc = _popen_cli(3, ["check", grid], {"SLOW_STALL_AT": "6,2",
                                          "SLOW_PID_FILE": str(pid_file)})
    no_leftovers.append(proc)
    _wait_for(pid_file, proc)
    proc.send_signal(how)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    what = "Ctrl-C (SIGINT)" if how == signal.SIGINT else "SIGTERM"
    assert err == (f"mcheck: interrupted by {what}: the search stopped early and the report is "
                   "what it found so far; give --timeout or --max-states to bound a long "
                   "search\n")
    doc = json.loads(out[out.index("{"):])
    [model] = doc["models"]
    assert (doc["interrupted"], model["verdict"], model["stopped_by"]) == (
        True, "undetermined", "interrupt")


def test_kill_and_resume_at_another_rank_count(grid, tmp_path, proof_cache, no_leftovers):
    pid_file, ck = tmp_path / "pid", tmp_path / "ck"
    proc = _popen_cli(2, ["check", grid, "--checkpoint", str(ck)],
                      {"SLOW_STALL_AT": "12,10", "SLOW_PID_FILE": str(pid_file)})
    no_leftovers.append(proc)
    os.kill(_wait_for(pid_file, proc), signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "was killed by signal 9" in err
    resumed = _cli(["check", grid, "--resume", str(ck)], 3, proof_cache)
    one = _cli(["check", grid], None, proof_cache)
    assert (resumed.returncode, resumed.stderr) == (one.returncode, "") == (0, "")
    assert _comparable(resumed.stdout) == _comparable(one.stdout)
    assert json.loads(one.stdout)["models"][0]["states"] == 861
