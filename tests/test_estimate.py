"""``check --estimate``: states, time and memory extrapolated from the first BFS levels.

Pinned on the toy whose true numbers are known.  ``examples/toys.py --toy increments
--procs 4`` has 907,216 states (tests/test_progress.py checks its levels); measured on
the 2-core development machine, the full search took 6.12 s with a peak of 161 MB, and
``--estimate --max-depth 25`` (levels 0-25, 620,215 states, 4.0 s) printed:

    states   about 925,000 (823,000 to 1,030,000)
    time     about 6s (5.3s to 8.3s)
    memory   about 153 MB (139 MB to 169 MB) at 149 bytes a state

The time and memory depend on the machine; the states do not, and are pinned below.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcheck.estimate import Estimate, extrapolate, format_estimate

ROOT = Path(__file__).resolve().parent.parent
TOYS = str(ROOT / "examples" / "toys.py")

# The BFS level sizes of Increments(4), 907,216 states (as in tests/test_progress.py).
LEVELS = (1, 4, 10, 32, 95, 240, 547, 1116, 2035, 3368, 5149, 7408, 10231, 13684, 17827,
          22732, 28466, 35032, 42171, 49296, 55882, 61416, 65422, 67404, 66759, 63888, 59088,
          52692, 45028, 36720, 28890, 21752, 15567, 10524, 6791, 4272, 2553, 1452, 797, 440,
          250, 124, 49, 12)
# Increments(3), 31,976 states.
LEVELS3 = (1, 3, 6, 16, 36, 69, 116, 174, 240, 308, 387, 486, 608, 756, 930, 1125, 1338, 1551,
           1745, 1920, 2076, 2214, 2319, 2313, 2229, 2067, 1830, 1521, 1152, 852, 602, 402, 249,
           145, 96, 57, 28, 9)


def run(*args):
    env = {k: v for k, v in os.environ.items() if k != "MCHECK_DEBUG"}
    return subprocess.run([sys.executable, "-m", "mcheck", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_the_levels_are_the_toys():
    assert (sum(LEVELS), sum(LEVELS3)) == (907_216, 31_976)


def test_after_the_widest_level_the_range_holds_the_truth():
    est = extrapolate(LEVELS[:26], sum(LEVELS[:26]), 4.0)
    assert est.states == pytest.approx((823_334.53, 924_789.06, 1_031_002.14), rel=1e-6)
    for levels in (LEVELS, LEVELS3):
        truth = sum(levels)
        widest = levels.index(max(levels))
        for k in range(widest + 2, len(levels)):
            e = extrapolate(levels[:k], sum(levels[:k]), 1.0)
            assert e.states is not None, k
            assert e.states[0] <= truth <= e.states[2], (k, e.states, truth)


def test_before_the_widest_level_only_a_lower_bound():
    # At level 10 the fits say 56,000-68,000 states: 14 times too few.  None is printed.
    for k in range(2, LEVELS.index(max(LEVELS)) + 1):
        e = extrapolate(LEVELS[:k], sum(LEVELS[:k]) + 5, 1.0)
        assert (e.states, e.seconds, e.memory, e.at_least) == (None, None, None,
                                                                sum(LEVELS[:k]) + 5), k
    assert extrapolate(LEVELS[:12], 20_005, 1.0).growth == pytest.approx(7408 / 5149)


def test_time_and_memory_scale_with_the_states():
    mb = 2 ** 20
    e = extrapolate(LEVELS[:26], 620_215, 4.0, rss_before=20 * mb, rss_after=120 * mb)
    lo, mid, hi = e.states
    per = 4.0 / 620_215
    assert e.seconds == pytest.approx((lo * per, mid * per, hi * per * 1.25))
    assert e.bytes_per_state == pytest.approx(100 * mb / 620_215)
    assert e.memory == pytest.approx(tuple(20 * mb + s * e.bytes_per_state for s in e.states))
    small = extrapolate(LEVELS[:26], 620_215, 4.0, rss_before=20 * mb, rss_after=23 * mb)
    assert (small.memory, small.bytes_per_state) == (None, None)  # under 4 MB: not measured


def test_the_report():
    mb = 2 ** 20
    e = extrapolate(LEVELS[:26], 620_215, 4.0, rss_before=20 * mb, rss_after=120 * mb)
    assert format_estimate("toy", e, "--max-depth 25 reached") == (
        "toy: estimate from a sample of levels 0-25, 620215 states in 4.00s "
        "(--max-depth 25 reached)\n"
        "  states   about 925,000 (823,000 to 1,030,000)\n"
        "  time     about 6s (5.3s to 8.3s) at the sample's 155,000 states/s\n"
        "  memory   about 169 MB (153 MB to 186 MB) at 169 bytes a state\n")
    grow = extrapolate(LEVELS[:12], 20_005, 0.5)
    assert format_estimate("toy", grow, "a sample of 10s") == (
        "toy: estimate from a sample of levels 0-11, 20005 states in 0.50s (a sample of 10s)\n"
        "  states   at least 20005: the widest level so far is the last one (level 11, x1.44 "
        "on the one before), so the total cannot be extrapolated yet; sample longer "
        "(--timeout, --max-depth)\n"
        "  time     at least 0.5s\n")
    done = extrapolate(LEVELS, 907_216, 6.0, exhausted=True, rss_after=161 * mb)
    assert isinstance(done, Estimate) and done.exact
    assert format_estimate("toy", done, "exhausted") == (
        "toy: the sample finished the search: 907216 states, 6.00s, peak memory 161 MB "
        "(exact, no extrapolation)\n")


def test_check_estimate_on_the_toy():
    p = run("check", TOYS, "--toy", "increments", "--procs", "3", "--estimate",
            "--max-depth", "25", "-q")
    assert p.returncode == 3, p.stderr  # a sample decides nothing: undetermined
    lines = p.stdout.splitlines()
    assert lines[0].startswith("increments toy=increments procs=3: estimate from a sample of "
                               "levels 0-25, 25033 states in "), lines[0]
    assert lines[0].endswith("s (--max-depth 25 reached)")
    # The truth is 31,976 states.
    assert lines[1] == "  states   about 33,600 (29,900 to 38,700)"
    assert lines[2].startswith("  time     about ")
    assert lines[3].startswith("  memory   ")
    done = run("check", TOYS, "--toy", "philosophers", "--estimate", "-q")
    assert done.returncode == 0
    assert done.stdout.startswith("philosophers toy=philosophers procs=3: the sample finished "
                                  "the search: 14 states, ")


@pytest.mark.parametrize("flag", [["--dfs"], ["--json"], ["--all"], ["--workers", "2"],
                                  ["--minimal"]])
def test_estimate_refuses_what_it_cannot_sample(flag):
    p = run("check", TOYS, "--toy", "philosophers", "--estimate", *flag)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"mcheck: --estimate does not combine with {flag[0]}; drop {flag[0]}: "
                        "the estimate samples a breadth-first search with one worker and "
                        "prints text\n")
