"""The proof cache shared across policies, and the cost of ``symmetry.differs`` in the search.

Usage::

    python bench/bench_proof_cache.py cache [--first E6] [--then E6-no-swp-exclusive] [--rounds 3]
    python bench/bench_proof_cache.py differs [--rounds 7]

``cache``: each round makes a fresh cache directory and secret and a snapshot of the
sources (mcheck/, models/, examples/: the key digests them), then runs
``mcheck explore models/cow --policy FIRST --budget BUDGET --symmetry on`` (a
cold proof), then the same with ``--policy THEN`` (answered from FIRST's entry
when the two policies agree on every switch the proof read: docs/proof.md,
"Sharing a proof across switch boards"), each as its own process, timed from
outside; it prints min/median/max of both and the ratio of the medians, and
whether THEN's proof came from the cache.

``differs``: the open search ``--policy E6 --budget fork=1,pin=1,write=2``
without symmetry, in this process, alternating each round between the
search with the former ``differs`` (a global flag, then ``a != b``) and the
current one; states/s min/median/max of each and the ratio of the medians.

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET = "fork=1,pin=1,write=2"


def _spread(xs: list[float]) -> str:
    return f"min {min(xs):.3f}  median {statistics.median(xs):.3f}  max {max(xs):.3f}"


def _explore(policy: str, budget: str, env: dict[str, str], cwd: Path) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "mcheck", "explore", "models/cow", "--policy", policy,
           "--budget", budget, "--symmetry", "on"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return seconds, out.stdout + out.stderr


def bench_cache(first: str, then: str, budget: str, rounds: int) -> None:
    print(f"mcheck explore models/cow --budget {budget} --symmetry on: "
          f"--policy {first} (cold), then --policy {then}; {rounds} rounds, fresh cache each")
    cold: list[float] = []
    after: list[float] = []
    proved_again = 0
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            # a snapshot of the sources: the key digests them, and an edit in the checkout
            # between the two runs would make the second a fresh proof
            src = Path(tmp) / "src"
            for d in ("mcheck", "models", "examples"):
                shutil.copytree(ROOT / d, src / d,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            env = dict(os.environ, MCHECK_CACHE_DIR=os.path.join(tmp, "cache"),
                       MCHECK_PROOF_SECRET=os.path.join(tmp, "secret"))
            env.pop("PYTHONPATH", None)
            s1, _ = _explore(first, budget, env, src)
            s2, text = _explore(then, budget, env, src)
            again = "interchangeable (once;" in text  # said only when not answered from cache
            proved_again += again
            cold.append(s1)
            after.append(s2)
            print(f"  round {r + 1}: {first} {s1:.1f}s, then {then} {s2:.1f}s "
                  f"({'proved again' if again else 'from the cache'})")
    print(f"{first} cold  (s): {_spread(cold)}")
    print(f"{then} after (s): {_spread(after)}")
    print(f"ratio of medians (after / cold): "
          f"{statistics.median(after) / statistics.median(cold):.3f}; "
          f"{then} proved again in {proved_again} of {rounds} rounds")


def _former_differs() -> Any:
    flag = [False]  # the former mcheck.symmetry.PROVING, never set during a search

    def differs(a: Any, b: Any) -> bool:
        if flag[0]:
            return a is not b
        return a != b
    return differs


def bench_differs(rounds: int) -> None:
    from mcheck import check
    from mcheck.symmetry import differs
    from models.cow import mcheck_models, vm

    [model] = mcheck_models({"policy": "E6", "budget": BUDGET})
    impls = {"former": _former_differs(), "current": differs}
    rates: dict[str, list[float]] = {k: [] for k in impls}
    states = 0
    try:
        for _ in range(rounds):
            for name, fn in impls.items():
                vm.differs = fn
                gc.collect()
                t0 = time.perf_counter()
                r = check(model)
                seconds = time.perf_counter() - t0
                states = r.states
                rates[name].append(r.states / seconds)
    finally:
        vm.differs = differs
    print(f"explore models/cow --policy E6 --budget {BUDGET} (no symmetry): {states} states, "
          f"{rounds} rounds, alternating")
    for name, xs in rates.items():
        print(f"  {name:8} states/s: {_spread(xs)}")
    print(f"ratio of medians (current / former): "
          f"{statistics.median(rates['current']) / statistics.median(rates['former']):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cache", help="a cold proof, then a second policy's")
    c.add_argument("--first", default="E6")
    c.add_argument("--then", default="E6-no-swp-exclusive")
    c.add_argument("--budget", default=BUDGET)
    c.add_argument("--rounds", type=int, default=3)
    d = sub.add_parser("differs", help="the search's states/s, former and current differs")
    d.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    if a.what == "cache":
        bench_cache(a.first, a.then, a.budget, a.rounds)
    else:
        bench_differs(a.rounds)


if __name__ == "__main__":
    main()
