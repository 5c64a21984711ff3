"""The COW model's per-state cost: states/s of plain exploration and of property checking.

Usage: ``python bench/bench_cow_cost.py [--rounds N] [--budget B] [--gup-modes M]``

The configuration is issue 11's E6 open search (``mcheck explore models/cow
--policy E6 --budget fork=1,pin=1,get=1,write=2,unmap=1 --gup-modes
rw-slow,rw-fast,ro-fast``, 197,341 states).  Each round runs, in this one
process and in this order, three searches of it with the exact store:

* ``plain``: no property checked (the successor function and the store);
* ``model_error``: the accounting invariants (``oracle.accounting_ok`` over
  its keys) on every state;
* ``missed+model``: ``--property missed_cow --property model_error``.

It prints states/s as min/median/max over the rounds, and the cost of
property checking as the ratio of each property run's states/s to the plain
run's of the same round (min/median/max), so a slower or busier machine
moves the ratios less than the rates.  To compare two commits, run this file
in a worktree of each (``git worktree add /tmp/before COMMIT``, copy this file
there, run it there), alternately.

Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mcheck  # noqa: E402
from mcheck import check  # noqa: E402
from models.cow import mcheck_models  # noqa: E402

BUDGET = "fork=1,pin=1,get=1,write=2,unmap=1"
GUP_MODES = "rw-slow,rw-fast,ro-fast"
RUNS: dict[str, list[str]] = {
    "plain": [],
    "model_error": ["model_error"],
    "missed+model": ["missed_cow", "model_error"],
}


def timed(budget: str, gup_modes: str, props: list[str]) -> tuple[float, int, int]:
    """Seconds, states and transitions of one search (a fresh model: a cold memo)."""
    [m] = mcheck_models({"policy": "E6", "budget": budget, "gup_modes": gup_modes})
    t0 = time.perf_counter()
    r = check(m, properties=props)
    elapsed = time.perf_counter() - t0
    if not r.exhausted or r.violations:
        sys.exit(f"{props}: {r.summary()}")
    return elapsed, r.states, r.transitions


def spread(xs: list[float], fmt: str = ",.0f") -> str:
    return (f"{min(xs):{fmt}} / {statistics.median(xs):{fmt}} / {max(xs):{fmt}}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the three runs (default 3)")
    ap.add_argument("--budget", default=BUDGET, help=f"open-search budget (default {BUDGET})")
    ap.add_argument("--gup-modes", default=GUP_MODES,
                    help=f"GUP modes (default {GUP_MODES})")
    args = ap.parse_args()
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")
    print(f"mcheck from {Path(mcheck.__file__).resolve().parent.parent}; E6 budget "
          f"{args.budget} gup-modes {args.gup_modes}")
    rates: dict[str, list[float]] = {k: [] for k in RUNS}
    counts: dict[str, tuple[int, int]] = {}
    for i in range(args.rounds):
        for name, props in RUNS.items():
            elapsed, states, transitions = timed(args.budget, args.gup_modes, props)
            counts[name] = (states, transitions)
            rates[name].append(states / elapsed)
            print(f"round {i + 1} {name:13s} {states} states {transitions} transitions "
                  f"{elapsed:6.2f}s {states / elapsed:9,.0f} states/s", flush=True)
    if len(set(counts.values())) != 1:
        sys.exit(f"the runs disagree on the space: {counts}")
    print(f"states/s, min / median / max over {args.rounds} rounds:")
    for name in RUNS:
        us = [1e6 / r for r in rates[name]]
        print(f"  {name:13s} {spread(rates[name])} states/s  "
              f"({spread(sorted(us), '.1f')} us a state)")
    print("property run / plain run of the same round (states/s ratio), min / median / max:")
    for name in RUNS:
        if name != "plain":
            ratio = [a / b for a, b in zip(rates[name], rates["plain"], strict=True)]
            print(f"  {name:13s} {spread(ratio, '.2f')}")


if __name__ == "__main__":
    main()
