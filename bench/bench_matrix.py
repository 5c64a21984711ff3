"""The scenario matrix: every named policy x every scenario, against a bare BFS.

Usage: ``python bench/bench_matrix.py [--rounds N] [--save]``

mcheck checks every cell (all properties, collecting one trace per violated
property, deadlock detection on, as tests/cow/test_matrix.py does); the
baseline, in the same process and alternating with it, is a bare
dict-plus-deque BFS over the same models' successor functions that checks
nothing.  Prints states per second of both, the ratio (what checking the
oracle and the accounting invariants costs), the peak resident set growth of
each in a fresh subprocess, and the previous numbers from bench/results.json.
It also times reading and validating baselines/cow.json (what ``mcheck
compare --baseline`` does before any cell runs) against the mcheck run, and
what the formats that draw each failing cell's race diagram (KTAP, JUnit)
cost over the table on the default matrix (the run keeps its results).

Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_toy import bare_bfs  # noqa: E402
from mcheck import check  # noqa: E402
from mcheck.baseline import load_baseline  # noqa: E402
from mcheck.matrix import run_matrix  # noqa: E402
from mcheck.matrix_format import format_junit, format_ktap, format_table  # noqa: E402
from models.cow import mcheck_matrix, mcheck_models  # noqa: E402
from models.cow.catalogue import CATALOGUE  # noqa: E402
from models.cow.policy import CONTROLS, ERAS, PROPOSALS, VARIANTS  # noqa: E402

POLICIES = tuple(p.name for p in ERAS + VARIANTS + PROPOSALS + CONTROLS)


def models():
    for pol in POLICIES:
        for s in CATALOGUE:
            yield from mcheck_models({"policy": pol, "scenario": s.name})


def bare(m) -> tuple[int, int]:
    return bare_bfs(m)


def full(m) -> tuple[int, int]:
    r = check(m, stop_at_first=False, deadlock=True)
    return r.states, r.transitions


RUNNERS = MappingProxyType({"mcheck": full, "bare": bare})


def run_all(name: str) -> tuple[float, int, int]:
    gc.disable()
    states = transitions = 0
    t = time.perf_counter()
    for m in models():
        s, tr = RUNNERS[name](m)
        states += s
        transitions += tr
    return time.perf_counter() - t, states, transitions


def _hwm() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def memory(name: str) -> int:
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.argv = ['x']\n"
            "from bench.bench_matrix import run_all, _hwm\n"
            f"b = _hwm(); run_all({name!r}); print(_hwm() - b)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return int(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--save", action="store_true")
    args = ap.parse_args()
    mem = {k: memory(k) for k in RUNNERS}
    best = {k: float("inf") for k in RUNNERS}
    counts = {}
    for _ in range(args.rounds):
        for k in RUNNERS:
            dt, states, transitions = run_all(k)
            best[k] = min(best[k], dt)
            counts[k] = (states, transitions)
    if counts["mcheck"] != counts["bare"]:
        sys.exit(f"the searches disagree: {counts}")
    states, transitions = counts["mcheck"]
    cells = len(POLICIES) * len(CATALOGUE)
    rate = {k: states / v for k, v in best.items()}
    print(f"{cells} cells ({len(POLICIES)} policies x {len(CATALOGUE)} scenarios): "
          f"{states} states, {transitions} transitions")
    print(f"  mcheck {rate['mcheck']:,.0f} states/s ({best['mcheck']:.2f}s), bare "
          f"{rate['bare']:,.0f} states/s ({best['bare']:.2f}s), ratio "
          f"{rate['mcheck'] / rate['bare']:.2f}x")
    print(f"  peak RSS growth: mcheck {mem['mcheck'] / 2**20:.1f} MiB, bare "
          f"{mem['bare'] / 2**20:.1f} MiB")
    baseline = ROOT / "baselines" / "cow.json"
    loads = []
    for _ in range(max(args.rounds, 5)):
        t = time.perf_counter()
        n = len(load_baseline(baseline, name="cow").cells)
        loads.append(time.perf_counter() - t)
    print(f"  baseline check: {min(loads) * 1000:.1f} ms for the {n} cells of "
          f"{baseline.relative_to(ROOT)} ({min(loads) / best['mcheck']:.1%} of the mcheck run)")
    formats(max(args.rounds, 3))
    results = ROOT / "bench" / "results.json"
    data = json.loads(results.read_text()) if results.exists() else {}
    prev = data.get("matrix")
    if prev:
        print(f"  previous: mcheck {prev['mcheck']:,} vs bare {prev['bare']:,} states/s "
              f"({prev['ratio']:.2f}x), {prev['seconds']:.2f}s for {prev['cells']} cells")
    if args.save:
        data["matrix"] = {"mcheck": round(rate["mcheck"]), "bare": round(rate["bare"]),
                          "ratio": round(rate["mcheck"] / rate["bare"], 2),
                          "seconds": round(best["mcheck"], 2), "cells": cells,
                          "states": states}
        results.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        print(f"saved to {results.relative_to(ROOT)}")


def formats(rounds: int) -> None:
    """Time the default matrix as a table (no results kept) and as KTAP and JUnit (kept,
    every failing cell drawn); best of ``rounds``."""
    best = {"table": float("inf"), "ktap": float("inf"), "junit": float("inf")}
    sizes = {}
    for _ in range(rounds):
        for name, keep, fmt in (("table", False, format_table), ("ktap", True, format_ktap),
                                ("junit", True, format_junit)):
            t = time.perf_counter()
            text = fmt(run_matrix(mcheck_matrix({}), keep=keep))
            best[name] = min(best[name], time.perf_counter() - t)
            sizes[name] = len(text.splitlines())
    print("  default matrix, run + format: " + ", ".join(
        f"{k} {v:.2f}s ({sizes[k]} lines)" for k, v in best.items())
        + f"; KTAP costs {best['ktap'] / best['table']:.2f}x the table")


if __name__ == "__main__":
    main()
