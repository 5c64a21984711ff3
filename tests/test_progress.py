"""The progress sink and its ETA estimate."""

from __future__ import annotations

import io
import math
import subprocess
import sys

from examples.toys import Increments
from mcheck import check
from mcheck.progress import Progress, estimate_remaining, progress_for

# The BFS level sizes of Increments(4).
LEVELS = [1, 4, 10, 32, 95, 240, 547, 1116, 2035, 3368, 5149, 7408, 10231, 13684, 17827,
          22732, 28466, 35032, 42171, 49296, 55882, 61416, 65422, 67404, 66759, 63888, 59088,
          52692, 45028, 36720, 28890, 21752, 15567, 10524, 6791, 4272, 2553, 1452, 797, 440,
          250, 124, 49, 12]


def test_levels_of_the_benchmark_toy():
    seen = []

    class Sink:
        def level(self, depth, size):
            seen.append(size)

        def update(self, *counts):
            pass

        def close(self):
            pass

    check(Increments(2), progress=Sink())
    assert sum(seen) == 1012 and seen[0] == 1
    assert sum(LEVELS) == 907_216


def test_eta_unknown_while_levels_grow():
    assert estimate_remaining(LEVELS[:3]) is None
    assert estimate_remaining(LEVELS[:15]) is None or estimate_remaining(LEVELS[:15]) > 0
    assert estimate_remaining([2 ** i for i in range(10)]) is None


def test_eta_close_after_the_widest_level():
    for k in range(27, len(LEVELS) - 3):
        est = estimate_remaining(LEVELS[:k])
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
    assert "depth 29" in text and "ETA" in text


def test_tqdm_is_imported_lazily():
    code = "import mcheck.cli, mcheck.trace, mcheck.render, sys; print('tqdm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
