"""Symmetry reduction: what it saves, what canonicalising costs, what the proof costs.

Usage::

    python bench/bench_symmetry.py                 # toy, matrix factors, open search, S15 proofs
    python bench/bench_symmetry.py --proofs open   # also the open-search proofs (minutes each)
    python bench/bench_symmetry.py --domain        # every reachable state of every cell in D

Sections (all figures from this one run):

* the Increments(4) toy, unreduced and reduced, one after the other in this
  process (best of ``--rounds``), with the proof's cost;
* the scenario matrix: per scenario, states unreduced and reduced under each
  era and the reduction factor;
* the open-search configurations of tests/cow/test_open.py under E6: states,
  reduction factor, wall time full and reduced, and the share of the
  reduced run spent canonicalising (timed around every call);
* the proof's one-time cost per policy (fresh cache): the S15 scenario under
  each era by default; ``--proofs open`` adds the open-search configurations;
* the proof cache (``--cache-only``: this section alone): what computing the
  key costs on every run (objects walked, source files digested), a cache
  hit, and the proof it saves.

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.toys import Increments  # noqa: E402
from mcheck import check  # noqa: E402
from mcheck.symmetry import Canonicaliser  # noqa: E402
from models.cow import mcheck_models  # noqa: E402
from models.cow.catalogue import CATALOGUE  # noqa: E402
from models.cow.scenario import ERA_ORDER  # noqa: E402

OPEN = [
    ("CVE-2020-29374 shape", {"budget": "fork=1,get=1,unmap=1,write=2",
                              "gup_modes": "ro-slow,ro-fast"}),
    ("RDMA fork", {"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-slow"}),
    ("fork vs GUP-fast", {"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-fast",
                          "threads": 2}),
    ("pin racing reclaim", {"budget": "pin=1,swapout=1,write=2,read=1",
                            "gup_modes": "rw-slow,rw-fast"}),
]


def _timed(fn):
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


class _Meter:
    """A canonicaliser that times itself."""

    def __init__(self, canon):
        self.canon = canon
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, s):
        t0 = time.perf_counter()
        r = self.canon(s)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return r


def toy(rounds: int) -> None:
    from mcheck.proof import certify

    m = Increments(4)
    decl = m.symmetry()
    cert = certify(m, decl, use_cache=False)
    best_full = best_red = float("inf")
    for _ in range(rounds):
        full, t = _timed(lambda: check(m))
        best_full = min(best_full, t)
        red, t = _timed(lambda: check(m, canonical=Canonicaliser(decl)))
        best_red = min(best_red, t)
    print("## Increments(4): 4 identical processes, declared symmetric in them")
    print(f"unreduced: {full.states:,} states, {full.verdict}, {best_full:.2f}s")
    print(f"reduced:   {red.states:,} states, {red.verdict}, {best_red:.2f}s "
          f"(x{full.states / red.states:.1f} fewer states, x{best_full / best_red:.1f} faster)")
    print(f"proof:     {cert.summary()}")
    print()


def matrix() -> None:
    print("## Scenario matrix: states unreduced -> reduced (frames and slots interchangeable)")
    print(f"{'scenario':<22}" + "".join(f"{e:>12}" for e in ERA_ORDER) + "   factor (E6)")
    tot_f = tot_r = 0
    t_red = t_canon = 0.0
    for s in CATALOGUE:
        cells = []
        f6 = r6 = 1
        for era in ERA_ORDER:
            [m] = mcheck_models({"policy": era, "scenario": s.name})
            f = check(m, stop_at_first=False, deadlock=True).states
            meter = _Meter(Canonicaliser(m.symmetry()))
            t0 = time.perf_counter()
            r = check(m, canonical=meter, stop_at_first=False, deadlock=True).states
            t_red += time.perf_counter() - t0
            t_canon += meter.seconds
            tot_f += f
            tot_r += r
            cells.append(f"{f}->{r}")
            if era == "E6":
                f6, r6 = f, r
        print(f"{s.name:<22}" + "".join(f"{c:>12}" for c in cells) + f"   x{f6 / r6:.2f}")
    print(f"all cells: {tot_f:,} -> {tot_r:,} states (x{tot_f / tot_r:.2f}); "
          f"canonicalising: {t_canon / t_red:.0%} of the reduced runs' time")
    print()


def open_search(rounds: int) -> None:
    print("## Open search (tests/cow/test_open.py configurations), E6, exhaustive")
    print(f"{'configuration':<22}{'full':>8}{'reduced':>9}{'factor':>8}{'t full':>9}"
          f"{'t reduced':>11}{'canon share':>13}{'us/canon':>10}  symmetric sets")
    for name, opts in OPEN:
        [m] = mcheck_models({"policy": "E6", **opts})
        decl = m.symmetry()
        best_f = best_r = float("inf")
        share = per = 0.0
        for _ in range(rounds):
            full, t = _timed(lambda m=m: check(m))
            best_f = min(best_f, t)
            meter = _Meter(Canonicaliser(decl))
            red, t = _timed(lambda m=m, meter=meter: check(m, canonical=meter))
            if t < best_r:
                best_r = t
                share = meter.seconds / t
                per = meter.seconds / meter.calls * 1e6
        print(f"{name:<22}{full.states:>8}{red.states:>9}{full.states / red.states:>7.1f}x"
              f"{best_f:>8.2f}s{best_r:>10.2f}s{share:>12.0%}{per:>10.1f}  {decl.describe()}")
    print()


def proofs(which: str) -> None:
    from mcheck.proof import certify

    print("## The proof's one-time cost (fresh cache)")
    jobs = [(f"S15 {era}", {"policy": era, "scenario": "S15"}) for era in ERA_ORDER]
    jobs += [(f"S01 {era}", {"policy": era, "scenario": "S01"}) for era in ("E1", "E6")]
    jobs += [("S07 E3", {"policy": "E3", "scenario": "S07"})]  # the costliest scenario proof
    if which == "open":
        jobs += [(f"{name} E6", {"policy": "E6", **opts}) for name, opts in OPEN]
    for label, opts in jobs:
        [m] = mcheck_models(opts)
        cert = certify(m, m.symmetry(), use_cache=False, budget=3600)
        print(f"{label:<28} {cert.summary()}")
    print()


_CACHE_RUN = """
import sys, time
sys.path.insert(0, {root!r})
from mcheck.proof import certify, proof_inputs
from models.cow import mcheck_models
from examples.toys import Increments
m = {make}
d = m.symmetry()
keys = []
for _ in range({rounds}):
    t0 = time.perf_counter()
    inputs = proof_inputs(m, d)
    keys.append(time.perf_counter() - t0)
t0 = time.perf_counter()
c = certify(m, d, budget=3600)
print(min(keys), inputs.nodes, len(inputs.files), time.perf_counter() - t0, c.cached)
"""


def cache_cost(rounds: int) -> None:
    """What keying the cache costs on every ``--symmetry`` run, against the proof it saves.

    Each figure comes from a fresh process, as from one run of the command line to the next
    (in one process, a memo that a proof or a search filled, e.g. the COW oracle's last
    state, is part of the next key)."""
    import subprocess

    print("## The proof cache: the key's cost on every run, a proof, then a hit (fresh "
          "processes)")
    print(f"{'model':<28}{'objects':>9}{'files':>7}{'key':>9}{'proof':>10}{'hit':>10}")
    jobs = [("Increments(4)", "Increments(4)")]
    jobs += [(f"S15 {era}", f"mcheck_models({{'policy': {era!r}, 'scenario': 'S15'}})[0]")
             for era in ("E1", "E6")]
    jobs += [(f"{name} E6", f"mcheck_models({{'policy': 'E6', **{opts!r}}})[0]")
             for name, opts in OPEN[:2]]
    for label, make in jobs:
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", _CACHE_RUN.format(
                root=str(ROOT), make=make, rounds=rounds)], capture_output=True, text=True,
                check=True).stdout.split()
            runs.append((float(out[0]), int(out[1]), int(out[2]), float(out[3]),
                         out[4] == "True"))
        (t_key, nodes, files, t_proof, first_hit), (_k, _n, _f, t_hit, hit) = runs
        assert not first_hit
        print(f"{label:<28}{nodes:>9}{files:>7}{t_key * 1e3:>7.1f}ms{t_proof:>9.2f}s"
              f"{t_hit * 1e3:>8.1f}ms{'' if hit else '  (a miss: the proof ran again)'}")
    print()


def domain() -> None:
    from mcheck.explore import reachable
    from models.cow.policy import POLICIES
    from models.cow.symmetry import in_domain

    n = bad = 0
    for pol in POLICIES:
        for s in CATALOGUE:
            [m] = mcheck_models({"policy": pol, "scenario": s.name})
            for st in reachable(m):
                n += 1
                if in_domain(m, st):
                    bad += 1
    print(f"## Domain: {n:,} reachable states of {len(POLICIES)} policies x {len(CATALOGUE)} "
          f"scenarios, {bad} outside the proof's domain")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed runs per figure (best kept)")
    ap.add_argument("--proofs", choices=("scenario", "open", "none"), default="scenario")
    ap.add_argument("--domain", action="store_true")
    ap.add_argument("--cache-only", action="store_true",
                    help="only the proof cache's section (the key's cost, a hit, a proof)")
    args = ap.parse_args()
    os.environ.setdefault("MCHECK_CACHE_DIR", tempfile.mkdtemp(prefix="mcheck-bench-"))
    os.environ.setdefault("MCHECK_PROOF_SECRET",
                          os.path.join(tempfile.mkdtemp(prefix="mcheck-bench-"), "secret"))
    if args.cache_only:
        cache_cost(args.rounds)
        return
    toy(args.rounds)
    matrix()
    open_search(args.rounds)
    if args.proofs != "none":
        proofs(args.proofs)
    cache_cost(args.rounds)
    if args.domain:
        domain()


if __name__ == "__main__":
    main()
