"""The progress sink and its ETA estimate."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys

import pytest

from examples.toys import Increments
from mcheck import check
from mcheck.progress import (
    DEFAULT_INTERVAL,
    LogProgress,
    Progress,
    estimate_remaining,
    interval_from_env,
    progress_for,
    stable_remaining,
    status_line,
)

# The BFS level sizes of Increments(4) (907,216 states; tests/test_explore.py counts them).
LEVELS = (1, 4, 10, 32, 95, 240, 547, 1116, 2035, 3368, 5149, 7408, 10231, 13684, 17827,
          22732, 28466, 35032, 42171, 49296, 55882, 61416, 65422, 67404, 66759, 63888, 59088,
          52692, 45028, 36720, 28890, 21752, 15567, 10524, 6791, 4272, 2553, 1452, 797, 440,
          250, 124, 49, 12)


def _level_sizes(model, levels=None):
    """BFS level sizes by a loop of its own (the first ``levels`` of them)."""
    seen = set(model.initial_states())
    level, sizes = list(seen), []
    while level and (levels is None or len(sizes) < levels):
        sizes.append(len(level))
        nxt = []
        for s in level:
            for _a, t in model.successors(s):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        level = nxt
    return sizes


def test_the_estimators_data_are_the_toys_levels():
    assert _level_sizes(Increments(4), 13) == list(LEVELS[:13])  # 22,047 states: the cheap part


def test_the_search_reports_each_bfs_level_once():
    seen = []

    class Sink:
        def level(self, depth, size):
            seen.append((depth, size))

        def update(self, *counts):
            pass

        def close(self):
            pass

    check(Increments(2), progress=Sink())
    sizes = _level_sizes(Increments(2))
    assert (len(sizes), sum(sizes)) == (32, 1012)
    assert seen == list(enumerate(sizes))


def test_eta_unknown_while_levels_grow():
    assert estimate_remaining(list(LEVELS[:5])) is None  # fewer levels than the fit's window
    assert estimate_remaining([2 ** i for i in range(10)]) is None  # no sign of a peak
    assert estimate_remaining([10] * 10) is None  # flat: no sign of an end either


def test_eta_before_the_widest_level_is_an_underestimate():
    # Level 15 of 44: the growth slows, so the fit bends down, but too early.
    est = estimate_remaining(list(LEVELS[:15]))
    assert est == pytest.approx(390_342.28, rel=1e-6)
    assert est < sum(LEVELS[15:]) / 2


def test_eta_close_after_the_widest_level():
    for k in range(27, len(LEVELS) - 3):
        est = estimate_remaining(list(LEVELS[:k]))
        actual = sum(LEVELS[k:])
        assert est is not None and math.isclose(est, actual, rel_tol=0.15), (k, est, actual)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_on_a_terminal_status_lines_elsewhere_nothing_when_quiet():
    assert progress_for(quiet=True, stream=_Tty()) is None
    assert progress_for(quiet=True, stream=io.StringIO()) is None
    log = progress_for(quiet=False, stream=io.StringIO())
    assert type(log) is LogProgress
    p = progress_for(quiet=False, stream=_Tty(), label="toy")
    assert type(p) is Progress
    p.close()


def test_the_eta_waits_until_the_estimate_is_stable():
    # The bare estimate at level 18 is 1.9 times the truth; the stable one stays silent
    # until the widest level (23) is behind and three estimates agree within 5%.
    first = [k for k in range(1, len(LEVELS) + 1) if stable_remaining(list(LEVELS[:k]))
             is not None][0]
    assert first == 25
    assert stable_remaining(list(LEVELS[:25])) == pytest.approx(384_425.9, rel=1e-5)
    assert sum(LEVELS[25:]) == 350_889  # the truth: 9.6% less
    assert estimate_remaining(list(LEVELS[:18])) + sum(LEVELS[:18]) == pytest.approx(
        1_531_312, rel=1e-3)  # the unstable figure it no longer shows


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_status_line_every_interval_in_a_log():
    stream, clock = io.StringIO(), _Clock()
    p = LogProgress(stream, "toy procs=4", interval=30, clock=clock)
    for i, size in enumerate(LEVELS[:20]):
        p.level(i, size)
    clock.now = 129.0
    p.update(200_000, 500_000, 19, 49_296)
    assert stream.getvalue() == ""  # 29 s: not yet
    clock.now = 130.0
    p.update(239_000, 600_000, 19, 49_296)
    clock.now = 140.0
    p.update(250_000, 650_000, 20, 55_882)  # 10 s after the last line: silent
    for i, size in enumerate(LEVELS[20:26], start=20):
        p.level(i, size)
    clock.now = 161.0
    p.update(630_000, 1_500_000, 25, 63_888)
    p.close()
    assert stream.getvalue() == (
        "progress toy procs=4: 239000 states, depth 19, frontier 49296, 7967 states/s, "
        "0:30 elapsed\n"
        "progress toy procs=4: 630000 states, depth 25, frontier 63888, 10328 states/s, "
        "1:01 elapsed, ETA 0:29\n")


def test_the_interval_comes_from_the_environment():
    assert interval_from_env({}) == DEFAULT_INTERVAL == 30.0
    assert interval_from_env({"MCHECK_PROGRESS_INTERVAL": "0.5"}) == 0.5
    for bad in ("0", "-1", "nan", "inf", "soon"):
        with pytest.raises(ValueError, match="MCHECK_PROGRESS_INTERVAL="):
            interval_from_env({"MCHECK_PROGRESS_INTERVAL": bad})


def test_the_terminal_line_fits_80_columns_with_the_eta():
    label = "cow policy=E6 scenario=S07 bias=8 spurious_trylock=False alloc_lowest=False"
    line = status_line(label, 1_234_567, 23, 56_789, 45_678.9, 83.2, 95.0, width=80)
    assert line == ("cow policy=E6 scenario...: 1.23M states 45.7k/s depth 23 frontier 56.8k "
                    "ETA 1:35")
    assert len(line) == 80
    assert status_line("toy", 12, 1, 3, 4.0, 1.0, None, width=80) == \
        "toy: 12 states 4/s depth 1 frontier 3 ETA ?"


def test_progress_draws_on_a_terminal():
    stream, clock = _Tty(), _Clock()
    p = Progress(stream, "toy", clock=clock)
    for i, size in enumerate(LEVELS[:30]):
        p.level(i, size)
    clock.now = 160.0
    p.update(sum(LEVELS[:30]) + 100, 10_000, 29, LEVELS[29])
    p._bar.refresh()
    text = stream.getvalue()
    p.close()
    assert "toy: 814k states 13.6k/s depth 29 frontier 36.7k ETA 0:07" in text, text


def test_a_log_shows_status_lines_while_the_search_runs(tmp_path):
    # stderr to a file, as in CI; a short interval stands for the 30 s one.
    err = tmp_path / "err.log"
    env = {**os.environ, "MCHECK_PROGRESS_INTERVAL": "0.01"}
    with open(err, "w") as f:
        out = subprocess.run([sys.executable, "-m", "mcheck", "check", "examples/toys.py",
                              "--toy", "increments", "--procs", "3"], stdout=subprocess.PIPE,
                             stderr=f, text=True, env=env)
    assert out.returncode == 0, out.stdout
    lines = err.read_text().splitlines()
    assert lines, "no progress line"
    for line in lines:
        assert re.fullmatch(r"progress increments toy=increments procs=3: \d+ states, "
                            r"depth \d+, frontier \d+, \d+ states/s, 0:\d\d elapsed"
                            r"(, ETA \d+:\d\d)?", line), line
    quiet = subprocess.run([sys.executable, "-m", "mcheck", "check", "examples/toys.py", "--toy",
                            "increments", "--procs", "3", "-q"], capture_output=True, text=True,
                           env=env)
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_tqdm_is_imported_lazily():
    code = "import mcheck.cli, mcheck.trace, mcheck.render, sys; print('tqdm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
