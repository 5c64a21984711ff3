"""The progress sink and its ETA estimate."""

from __future__ import annotations

import io
import math
import re
import subprocess
import sys

import pytest

from examples.toys import Increments
from mcheck import check
from mcheck.progress import Progress, estimate_remaining, progress_for

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


def test_silent_unless_a_terminal():
    assert progress_for(quiet=False, stream=io.StringIO()) is None
    assert progress_for(quiet=True, stream=_Tty()) is None
    p = progress_for(quiet=False, stream=_Tty(), label="toy")
    assert isinstance(p, Progress)
    p.close()


def test_progress_draws_on_a_terminal():
    stream = _Tty()
    p = Progress(stream, "toy")
    for i, size in enumerate(LEVELS[:30]):
        p.level(i, size)
    p.update(sum(LEVELS[:30]) + 100, 10_000, 29, LEVELS[29])
    p._bar.refresh()
    text = stream.getvalue()
    p.close()
    assert f"depth 29, frontier {LEVELS[29]}, 10000 transitions, ETA " in text
    assert re.search(r"ETA \d+:\d\d", text), text  # an estimate, not "ETA ?"


def test_tqdm_is_imported_lazily():
    code = "import mcheck.cli, mcheck.trace, mcheck.render, sys; print('tqdm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
