"""Checkpoints: a killed run resumes at any rank count with the uninterrupted run's result.

The walk model kills the run itself (SIGKILL to the pid in ``WALK_KILL``) when
it steps a state at a given depth, so the kill lands at the same place every
time; a checkpoint is written at every level boundary before it.
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mcheck import Bounds, Verdict, check
from mcheck.checkpoint import CheckpointError

ROOT = Path(__file__).resolve().parent.parent

WALK = '''\
"""A walk on a 10 x 10 grid; stepping a state at depth d >= D SIGKILLs pid P when
WALK_KILL is "P:D"."""

import os
import signal

from mcheck import Model, invariant, metric, transition


class Walk(Model):
    name = "walk"

    def __init__(self, n):
        self.n = n

    def params(self):
        return {"n": self.n}

    def initial_states(self):
        return [(0, 0)]

    def actions(self, s):
        x, y = s
        out = []
        if x < self.n - 1:
            out.append(("x",))
        if y < self.n - 1:
            out.append(("y",))
        if x != y:
            out.append(("swap",))
        return out

    def step(self, s, a):
        kill = os.environ.get("WALK_KILL")
        if kill:
            pid, depth = map(int, kill.split(":"))
            if s[0] + s[1] >= depth:
                os.kill(pid, signal.SIGKILL)
        x, y = s
        return (x + 1, y) if a == ("x",) else (x, y + 1) if a == ("y",) else (y, x)

    def is_final(self, s):
        return s == (self.n - 1, self.n - 1)

    def properties(self):
        return [invariant("not_3_1", lambda s: s != (3, 1)),
                invariant("not_7_7", lambda s: s != (7, 7)),
                transition("no_swap_from_5",
                           lambda s, a, t: not (a == ("swap",) and s[0] == 5)),
                metric("swaps", lambda s, a, t: a == ("swap",))]


def mcheck_models(options):
    return [Walk(10)]
'''

#: The uninterrupted run with --all --deadlock: states, transitions, depth, swaps.
FULL = (100, 270, 18, 90)


@pytest.fixture
def walk(tmp_path: Path) -> Path:
    path = tmp_path / "walk.py"
    path.write_text(WALK)
    return path


def _model(path: Path, n: int = 10) -> Any:
    spec = importlib.util.spec_from_file_location("walk_model", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Walk(n)


def _mcheck(walk: Path, *flags: str, kill_at: int | None = None) -> subprocess.CompletedProcess:
    """``mcheck check walk --all --deadlock --json`` with ``flags``; killed (SIGKILL) when
    it steps a state at depth ``kill_at``."""
    cmd = [sys.executable, "-m", "mcheck", "check", str(walk), "--all", "--deadlock",
           "--json", *flags]
    if kill_at is not None:  # the shell's pid is the checker's: exec keeps it
        cmd = ["sh", "-c", f'WALK_KILL=$$:{kill_at} exec "$@"', "sh", *cmd]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _doc(out: str) -> Any:
    """The JSON result without its timing and store fields."""
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in ("elapsed", "store")}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(json.loads(out))


def _key(r: Any) -> tuple[Any, ...]:
    return (r.verdict, r.states, r.transitions, r.depth, r.stopped_by, r.exhausted,
            [(p.name, p.verdict, p.count, p.path, p.message) for p in r.properties.values()])


def _counts(doc: Any) -> tuple[int, ...]:
    [m] = doc["models"]
    swaps = next(p["count"] for p in m["properties"] if p["name"] == "swaps")
    return m["states"], m["transitions"], m["depth"], swaps


def test_a_killed_run_resumes_at_one_and_three_ranks_with_the_uninterrupted_result(
        walk: Path, tmp_path: Path) -> None:
    full = _mcheck(walk)
    assert full.returncode == 1, full.stderr  # VIOLATED: not_3_1, no_swap_from_5, not_7_7
    ref = _doc(full.stdout)
    assert _counts(ref) == FULL
    d = tmp_path / "ckpt"
    killed = _mcheck(walk, "--workers", "2", "--checkpoint", str(d), kill_at=8)
    assert killed.returncode == -9, killed.stderr
    # The boundary before level 8 is written before any state of level 8 is stepped,
    # unless the kill came while rank 0 was still renaming it into place.
    assert (d / "CURRENT").read_text() in ("ckpt-000007\n", "ckpt-000008\n")
    first = int((d / "CURRENT").read_text()[5:])
    for workers in ("1", "3"):
        resumed = _mcheck(walk, "--workers", workers, "--resume", str(d))
        assert resumed.returncode == 1, resumed.stderr
        assert _doc(resumed.stdout) == ref, workers
    # Resumed at 3 ranks into the same directory and killed again: levels 0-7 keep the
    # 2-rank layout, the later ones have the 3-rank one; traces walk through both.
    again = _mcheck(walk, "--workers", "3", "--resume", str(d), "--checkpoint", str(d),
                    kill_at=13)
    assert again.returncode == -9, again.stderr
    assert (d / "CURRENT").read_text() in ("ckpt-000012\n", "ckpt-000013\n")
    second = int((d / "CURRENT").read_text()[5:])
    files = {p.name for p in (d / "levels").iterdir()}
    assert files >= {f"L{k:06d}-n2-r{r}.bin" for k in range(first) for r in range(2)} | \
        {f"L{k:06d}-n3-r{r}.bin" for k in range(first, second + 1) for r in range(3)}
    last = _mcheck(walk, "--resume", str(d))
    assert last.returncode == 1, last.stderr
    assert _doc(last.stdout) == ref


def test_a_depth_bounded_run_resumed_without_the_bound_gives_the_full_result(
        walk: Path, tmp_path: Path) -> None:
    m = _model(walk)
    d = tmp_path / "ckpt"
    kw: dict[str, Any] = {"stop_at_first": False, "deadlock": True}
    cut = check(m, bounds=Bounds(max_depth=5), checkpoint=d, **kw)
    assert (cut.stopped_by, cut.states, cut.transitions) == ("depth", 21, 60)
    assert _key(cut) == _key(check(m, bounds=Bounds(max_depth=5), **kw))
    assert (d / "CURRENT").read_text() == "ckpt-000005\n"
    full = check(m, **kw)
    for workers in (1, 2):
        r = check(m, resume=d, workers=workers, **kw)
        assert (r.states, r.transitions, r.depth, r.properties["swaps"].count) == FULL
        assert _key(r) == _key(full)
    # Resumed into a second directory (which gets copies of the old level files), cut
    # again, and resumed from there.
    d2 = tmp_path / "ckpt2"
    cut = check(m, resume=d, checkpoint=d2, workers=3, bounds=Bounds(max_depth=9), **kw)
    assert _key(cut) == _key(check(m, bounds=Bounds(max_depth=9), **kw))
    assert _key(check(m, resume=d2, workers=2, **kw)) == _key(full)
    with pytest.raises(CheckpointError) as e:
        check(m, resume=d, bounds=Bounds(max_depth=4), **kw)
    assert str(e.value) == (f"mcheck: checkpoint {d} is at depth 5, beyond --max-depth 4; "
                            "resume with a larger --max-depth, or none")
    with pytest.raises(CheckpointError) as e:
        check(m, resume=d, bounds=Bounds(max_states=21), **kw)
    assert str(e.value) == (f"mcheck: checkpoint {d} holds 21 states already, --max-states "
                            "21 stops before; resume with a larger --max-states, or none")


def test_a_checkpoint_from_another_model_or_flags_or_corrupt_is_one_line(
        walk: Path, tmp_path: Path) -> None:
    d = tmp_path / "ckpt"
    check(_model(walk), bounds=Bounds(max_depth=2), checkpoint=d, deadlock=True)
    fix = "resume with the model and flags it was written with, or start again with --checkpoint"
    cases = [
        ({"deadlock": False}, f"checkpoint {d} was written for another --deadlock setting"),
        ({"deadlock": True, "stop_at_first": False},
         f"checkpoint {d} was written for another --all setting"),
        ({"deadlock": True, "properties": ["not_3_1"]},
         f"checkpoint {d} was written for other properties"),
    ]
    for kw, cause in cases:
        with pytest.raises(CheckpointError) as e:
            check(_model(walk), resume=d, **kw)
        assert str(e.value) == f"mcheck: {cause}; {fix}", kw
    with pytest.raises(CheckpointError) as e:
        check(_model(walk, 9), resume=d, deadlock=True)
    assert str(e.value) == (f"mcheck: checkpoint {d} was written for another model (its name, "
                            f"version, parameters or initial states differ); {fix}")
    front = d / "ckpt-000002" / "front-r0.bin"
    good = front.read_bytes()
    front.write_bytes(pickle.dumps(("mcheck-checkpoint", 1, "junk")))
    with pytest.raises(CheckpointError) as e:
        check(_model(walk), resume=d, deadlock=True)
    assert str(e.value) == (f"mcheck: checkpoint {d} is corrupt: front-r0.bin cannot be read "
                            "(its contents are not a rank's slice); resume from an intact "
                            "copy, or start again with --checkpoint")
    front.write_bytes(good)
    assert check(_model(walk), resume=d, deadlock=True).verdict is Verdict.VIOLATED
    (d / "ckpt-000002" / "meta.pickle").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError) as e:
        check(_model(walk), resume=d, deadlock=True)
    assert str(e.value) == (f"mcheck: checkpoint {d} is corrupt: meta.pickle cannot be read "
                            "(UnpicklingError); resume from an intact copy, or start again "
                            "with --checkpoint")
    (d / "ckpt-000002" / "front-r0.bin").unlink()
    (d / "ckpt-000002" / "meta.pickle").unlink()
    with pytest.raises(CheckpointError) as e:
        check(_model(walk), resume=d, deadlock=True)
    assert str(e.value) == (f"mcheck: checkpoint {d} is incomplete: meta.pickle is missing; "
                            "resume from an intact copy, or start again with --checkpoint")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError) as e:
        check(_model(walk), resume=empty, deadlock=True)
    assert str(e.value) == (f"mcheck: no checkpoint in {empty}; give --resume the directory "
                            "a --checkpoint run wrote")


class _Payload:
    """Unpickled, it would create the file it names: what a crafted checkpoint could do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize("name", ["meta.pickle", "front-r0.bin", "seen-r0.bin"])
def test_a_checkpoint_that_would_run_code_is_refused_unread(walk: Path, tmp_path: Path,
                                                           name: str) -> None:
    d = tmp_path / "ckpt"
    check(_model(walk), bounds=Bounds(max_depth=2), checkpoint=d, deadlock=True)
    ran = tmp_path / "ran"
    (d / "ckpt-000002" / name).write_bytes(
        pickle.dumps(("mcheck-checkpoint", 1, _Payload(str(ran)))))
    with pytest.raises(CheckpointError) as e:
        check(_model(walk), resume=d, deadlock=True)
    assert str(e.value) == (f"mcheck: checkpoint {d} cannot be resumed safely: {name} refers "
                            "to pathlib.Path.touch, which is neither mcheck's nor the model's (it "
                            "was not read); resume only from a directory a --checkpoint run "
                            "wrote, of a model whose actions are made of its own classes")
    assert not ran.exists()


def test_a_class_the_model_only_imported_is_refused(walk: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The model's module imports mcheck's Model; a checkpoint naming it through the
    model's module is refused: only classes the model's package defines are let through."""
    spec = importlib.util.spec_from_file_location("walk_model", walk)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setitem(sys.modules, "walk_model", mod)
    d = tmp_path / "ckpt"
    check(mod.Walk(10), bounds=Bounds(max_depth=2), checkpoint=d, deadlock=True)
    # ("mcheck-checkpoint", 1, walk_model.Model()), by hand: pickle.dumps would name mcheck.model
    (d / "ckpt-000002" / "meta.pickle").write_bytes(
        b"(Vmcheck-checkpoint\nI1\ncwalk_model\nModel\n)Rt.")
    with pytest.raises(CheckpointError) as e:
        check(mod.Walk(10), resume=d, deadlock=True)
    assert "meta.pickle refers to walk_model.Model, which is neither mcheck's nor the " \
           "model's (it was not read)" in str(e.value)


STEPS = '''\
"""A counter whose actions are an enum of the model's own module."""

import enum

from mcheck import Model, invariant


class Step(enum.IntEnum):  # an int for the JSON report, a class of its own in a pickle
    UP = 1
    TWICE = 2


class Steps(Model):
    name = "steps"

    def params(self):
        return {}

    def initial_states(self):
        return [0]

    def actions(self, s):
        return [Step.UP, Step.TWICE] if s < 12 else []

    def step(self, s, a):
        return s + a.value

    def properties(self):
        return [invariant("below_3", lambda s: s < 3)]


def mcheck_models(options):
    return [Steps()]
'''


def test_a_model_s_own_classes_in_a_checkpoint_are_read(tmp_path: Path) -> None:
    """A violation found before the checkpoint keeps its trace, whose actions are the
    model's enum: resuming reads them (the model's package is trusted, as its code is)."""
    path = tmp_path / "steps.py"
    path.write_text(STEPS)
    d = tmp_path / "ckpt"
    first = _mcheck(path, "--checkpoint", str(d), "--max-depth", "3")
    assert first.returncode == 1, first.stderr
    assert "Step" in (d / (d / "CURRENT").read_text().strip() / "meta.pickle").read_bytes().decode(
        "latin-1")
    again = _mcheck(path, "--resume", str(d))
    whole = _mcheck(path)
    assert (again.returncode, again.stderr) == (1, "")
    assert _doc(again.stdout) == _doc(whole.stdout)


def test_no_checkpoint_before_checkpoint_every_seconds(walk: Path, tmp_path: Path) -> None:
    d = tmp_path / "ckpt"
    r = check(_model(walk), checkpoint=d, checkpoint_every=1e9, deadlock=True,
              stop_at_first=False)
    assert (r.states, r.transitions) == FULL[:2]
    assert not (d / "CURRENT").exists()


def test_a_bad_resume_directory_is_one_line_on_the_command_line(walk: Path,
                                                               tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _mcheck(walk, "--resume", str(empty))
    assert (r.returncode, r.stdout, r.stderr) == (
        2, "", f"mcheck: no checkpoint in {empty}; give --resume the directory a --checkpoint "
               "run wrote\n")


def test_each_rank_keeps_only_its_slice_of_the_visited_set(walk: Path, tmp_path: Path) -> None:
    """No replica: the slices in a 3-rank checkpoint are disjoint, each holds only the
    fingerprints its rank owns, and together they are the states stored so far."""
    from mcheck.fingerprint import state_fingerprint

    d = tmp_path / "ckpt"
    m = _model(walk)
    check(m, workers=3, checkpoint=d, bounds=Bounds(max_depth=6), deadlock=True,
          stop_at_first=False)
    tag = (d / "CURRENT").read_text().strip()
    assert tag == "ckpt-000006"
    slices = []
    for r in range(3):
        with open(d / tag / f"seen-r{r}.bin", "rb") as f:
            magic, version, fps = pickle.load(f)
        assert (magic, version) == ("mcheck-checkpoint", 1)
        assert all(fp % 3 == r for fp in fps)
        slices.append(set(fps))
    within = {state_fingerprint((x, y)) for x in range(10) for y in range(10) if x + y <= 6}
    assert sorted(len(s) for s in slices) == sorted(
        sum(1 for fp in within if fp % 3 == r) for r in range(3))
    assert set().union(*slices) == within and sum(map(len, slices)) == len(within) == 28
