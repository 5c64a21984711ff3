"""Reduced against full on every catalogue cell: issue 11's self-check over the COW catalogue.

    python bench/bench_reduce_catalogue.py                  # every cell (about an hour)
    python bench/bench_reduce_catalogue.py --only S07,S21   # some scenarios
    python bench/bench_reduce_catalogue.py --shard 1/2      # every other cell (run 2/2 too)

For every (scenario, policy) cell that ``tests/cow/update_reduced.py`` lists (each
scenario under every era and under each other policy it names an expectation
for), the footprints are proved (in a fresh cache) and the cell is searched
twice, collecting every violation, with deadlock detection: in full, and under
the stubborn-set reduction.  Every property's verdict must be the same, every
violation's message and trace the same, and a metric must count something in
both or in neither.  The report gives the cells, how many disagree (each named),
the states of both searches and how many states the reduction expanded in part.
A disagreement exits 1.  Too long for the test suite: tests/cow/test_controls.py
runs the broken controls the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "cow"))


def cell(scenario: str, policy: str) -> tuple[str, int, int, int, float]:
    """``(disagreement or "", full states, reduced states, states expanded in part,
    analysis seconds)`` of one cell."""
    from mcheck import Kind, Verdict, check
    from mcheck.proof.footprint import analyse
    from mcheck.reduce import Reduction
    from models.cow import mcheck_models

    [m] = mcheck_models({"policy": policy, "scenario": scenario})
    t0 = time.perf_counter()
    an = analyse(m, m.symmetry(), budget=600.0)
    took = time.perf_counter() - t0
    if not an.ok:
        return f"analysis {an.status}: {an.reason}", 0, 0, 0, took
    red = Reduction(m, m.symmetry(), an, m.properties())
    full = check(m, stop_at_first=False, deadlock=True)
    got = check(m, stop_at_first=False, deadlock=True, reduction=red)
    off = []
    for name, want in full.properties.items():
        have = got.properties[name]
        if want.kind is Kind.METRIC:
            if bool(want.count) != bool(have.count):
                off.append(f"{name} counts {want.count} in full, {have.count} reduced")
        elif want.verdict is not have.verdict:
            off.append(f"{name} {want.verdict.name} in full, {have.verdict.name} reduced")
        elif want.verdict is Verdict.VIOLATED and (
                want.message != have.message or want.path.actions != have.path.actions):
            off.append(f"{name}: another message or trace")
    return "; ".join(off), full.states, got.states, red.stats.reduced, took


def main() -> int:
    from update_reduced import cells

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--shard", default="1/1", help="K/N: the K-th of N interleaved parts")
    a = ap.parse_args()
    todo = cells()
    if a.only:
        keep = set(a.only.split(","))
        todo = [(s, p) for s, p in todo if s in keep]
    try:
        k, n = map(int, a.shard.split("/"))
        if not 1 <= k <= n:
            raise ValueError
    except ValueError:
        ap.error(f"--shard {a.shard!r}: give K/N with 1 <= K <= N, e.g. 1/2")
    todo = todo[k - 1::n]
    os.environ["MCHECK_CACHE_DIR"] = tempfile.mkdtemp(prefix="mcheck-bench-reduce-")
    t0 = time.perf_counter()
    bad = []
    n_full = n_red = n_part = 0
    analysis = 0.0
    for i, (scenario, policy) in enumerate(todo, 1):
        why, f, r, part, took = cell(scenario, policy)
        n_full, n_red, n_part, analysis = n_full + f, n_red + r, n_part + part, analysis + took
        if why:
            bad.append(f"{scenario}/{policy}: {why}")
            print(f"  DISAGREE {bad[-1]}", flush=True)
        if i % 50 == 0:
            print(f"  {i} of {len(todo)} cells, {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"{len(todo)} cells: {len(todo) - len(bad)} agree, {len(bad)} disagree; states "
          f"{n_full} full, {n_red} reduced, {n_part} expanded in part; analysis "
          f"{analysis:.0f} s, wall {time.perf_counter() - t0:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
