"""Partial-order reduction: states, analysis time and wall time, reduced against full.

Usage::

    python bench/bench_reduce.py [--rounds N]             # the workers example
    python bench/bench_reduce.py --cow T1 [--full]        # an issue-11 target (long)

The workers example (``examples/workers.py``, 4 workers of 6 private steps and 6
of 4) runs in this process: the full search, ``--reduce`` alone, symmetry alone
and both, with the state count of each and the wall-time ratio to the full search
(min / median / max over alternating rounds; the footprint analysis and the
symmetry proof are timed apart, once, uncached).

``--cow T1|T2|T3`` runs one of issue 11's E6 targets through the command line
(``mcheck explore models/cow --json``), with a fresh proof cache: ``--reduce on``
alone, then ``--reduce on --symmetry on``, each reporting states, the analysis and
proof seconds, and the wall time; ``--full`` adds the unreduced search (with
``--workers 2``: it can take many minutes).  Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

TARGETS = {
    "T1": ["--budget", "fork=1,pin=1,get=1,write=2,unmap=1,swapout=1",
           "--gup-modes", "rw-slow,rw-fast,ro-fast",
           "--property", "missed_cow", "--property", "model_error"],
    "T2": ["--budget", "fork=1,pin=1,get=1,write=2,unmap=1,mprotect=1,clear_refs=1",
           "--gup-modes", "rw-slow,rw-fast,ro-fast",
           "--property", "missed_cow", "--property", "model_error"],
    "T3": ["--budget", "fork=1,pin=1,write=2,swapout=1,mprotect=1", "--threads", "2"],
}


def _spread(xs: list[float]) -> str:
    return f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"


def workers(rounds: int) -> None:
    from workers import Workers

    from mcheck import check
    from mcheck.proof import certify
    from mcheck.proof.footprint import analyse
    from mcheck.reduce import Reduction
    from mcheck.symmetry import Canonicaliser

    for n, steps in ((4, 6), (6, 4)):
        m = Workers(n, steps)
        decl = m.symmetry()
        t0 = time.perf_counter()
        an = analyse(m, decl, use_cache=False)
        t_an = time.perf_counter() - t0
        t0 = time.perf_counter()
        cert = certify(m, decl, use_cache=False)
        t_proof = time.perf_counter() - t0
        assert an.ok and cert.ok
        canon = Canonicaliser(decl)
        variants = {
            "full": {},
            "reduce": {"reduction": True},
            "symmetry": {"canonical": canon},
            "reduce+symmetry": {"reduction": True, "canonical": canon},
        }
        times: dict[str, list[float]] = {k: [] for k in variants}
        states: dict[str, int] = {}
        for _ in range(rounds):
            for name, kw in variants.items():
                kw = dict(kw)
                if kw.pop("reduction", False):
                    kw["reduction"] = Reduction(m, decl, an, m.properties())
                t0 = time.perf_counter()
                r = check(m, **kw)
                times[name].append(time.perf_counter() - t0)
                states[name] = r.states
        print(f"workers n={n} steps={steps}: footprint analysis {t_an:.2f} s, symmetry proof "
              f"{t_proof:.2f} s (uncached)")
        for name in variants:
            ratio = [t / f for t, f in zip(times[name], times["full"], strict=True)]
            print(f"  {name:16} {states[name]:>8} states ({states['full'] / states[name]:6.1f}x "
                  f"fewer)  time / full: {_spread(ratio)}")


def _explore(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mcheck", "explore", "models/cow", "--policy",
                        "E6", "--json", "-q", *args], capture_output=True, text=True,
                       cwd=ROOT, env=env)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        raise SystemExit(f"mcheck failed ({p.returncode}): {p.stderr.strip()[-400:]}")
    doc = json.loads(p.stdout)["models"][0]
    doc["wall"] = wall
    return doc


def cow(target: str, full: bool) -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, MCHECK_CACHE_DIR=cache)
        base = TARGETS[target]
        runs = [("reduce", ["--reduce", "on"]),
                ("reduce+symmetry", ["--reduce", "on", "--symmetry", "on"])]
        if full:
            runs.insert(0, ("full (2 workers)", ["--workers", "2", "--store", "fingerprint"]))
        for name, extra in runs:
            d = _explore(base + extra, env)
            red = d.get("reduce", {})
            sym = d.get("symmetry", {})
            print(f"{target} {name:18} {d['states']:>10} states  wall {d['wall']:8.1f} s  "
                  f"analysis {red.get('seconds', '-')} s  proof {sym.get('seconds', '-')} s  "
                  f"expanded in part {red.get('reduced_states', '-')}  verdict {d['verdict']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cow", choices=sorted(TARGETS))
    ap.add_argument("--full", action="store_true", help="with --cow: the unreduced search too")
    a = ap.parse_args()
    if a.cow:
        cow(a.cow, a.full)
    else:
        workers(a.rounds)


if __name__ == "__main__":
    main()
