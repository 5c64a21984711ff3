"""Open-search throughput and memory: stores, worker processes, the machine's own ceiling.

Usage: ``python bench/bench_open.py [--quick] [--rounds N] [--save]``

For each open-search configuration (the rediscovery runs of
tests/cow/test_open.py, exhausted under E6, plus a larger E6 run) this prints,
from one run of this script:

* states per second with the exact store, the fingerprint store, and the
  fingerprint store with 2 worker processes (best of ``--rounds``
  alternating runs, in this process);
* the speedup of 2 workers over 1, next to the *machine ceiling*: how much
  faster two independent single-worker searches of the same configuration
  finish side by side than one after the other.  On a shared 2-core machine
  that ceiling moves from run to run (1.3x-2x seen here); parallel
  efficiency is speedup / ceiling;
* peak memory: each store's search runs again in a fresh subprocess that
  reports its own peak resident set growth (VmHWM) and, for the fingerprint
  store, the store's bytes per state;
* the previous numbers stored in bench/results.json (``--save`` updates them).

Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcheck import check  # noqa: E402
from models.cow import mcheck_models  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"

CONFIGS = {
    "cve-shape": {"budget": "fork=1,get=1,unmap=1,write=2", "gup_modes": "ro-slow,ro-fast"},
    "rdma-fork": {"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-slow"},
    "fork-vs-gup-fast": {"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-fast",
                         "threads": 2},
    "pin-vs-reclaim": {"budget": "pin=1,swapout=1,write=2,read=1",
                       "gup_modes": "rw-slow,rw-fast"},
    "e6-mixed": {"budget": "fork=1,pin=1,get=1,write=2,unmap=1",
                 "gup_modes": "rw-slow,rw-fast,ro-fast"},
}
# E6 has one known wrong COW in reach of R/W gets (FOLL_GET is not a pin: O_DIRECT
# across fork); the mixed run, which allows them, checks the other properties.
PROPS_OF = {"e6-mixed": ["missed_cow", "model_error"]}
QUICK = ("fork-vs-gup-fast", "e6-mixed")
PROPS = ["missed_cow", "wrong_cow", "model_error"]


def _model(name: str):
    [m] = mcheck_models({"policy": "E6", **CONFIGS[name]})
    return m


def _run(name: str, store: str = "exact", workers: int = 1) -> tuple[float, int, int, float]:
    m = _model(name)
    t = time.perf_counter()
    r = check(m, properties=PROPS_OF.get(name, PROPS), store=store, workers=workers)
    dt = time.perf_counter() - t
    bps = r.store.bytes_per_state if r.store is not None else 0.0
    return dt, r.states, r.transitions, bps


def _solo(name: str) -> float:
    return _run(name, "fingerprint")[0]


def _ceiling(name: str) -> float:
    """2 x one run / two runs side by side (fork start, as the workers use)."""
    one = _solo(name)
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        t = time.perf_counter()
        pool.map(_solo, [name, name])
        both = time.perf_counter() - t
    return 2 * one / both


def _peak(name: str, store: str) -> dict:
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) * 1024\n"
        f"sys.argv = ['x']\n"
        "from bench.bench_open import _model, PROPS, PROPS_OF\n"
        "from mcheck import check\n"
        f"m = _model({name!r})\n"
        "before = hwm()\n"
        f"r = check(m, properties=PROPS_OF.get({name!r}, PROPS), store={store!r})\n"
        "print(json.dumps({'growth': hwm() - before, 'states': r.states}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--save", action="store_true", help="store the numbers in results.json")
    args = ap.parse_args()
    names = QUICK if args.quick else tuple(CONFIGS)
    previous = json.loads(RESULTS.read_text()).get("open", {}) if RESULTS.exists() else {}
    saved = {}
    for name in names:
        best: dict[str, float] = {}
        states = transitions = 0
        bps = 0.0
        for _ in range(args.rounds):
            for label, store, workers in (("exact", "exact", 1), ("fingerprint", "fingerprint", 1),
                                          ("2 workers", "fingerprint", 2)):
                dt, states, transitions, b = _run(name, store, workers)
                best[label] = min(best.get(label, dt), dt)
                if label == "fingerprint":
                    bps = b
        ceiling = _ceiling(name)
        exact_mem = _peak(name, "exact")
        fp_mem = _peak(name, "fingerprint")
        rate = {k: states / v for k, v in best.items()}
        speedup = best["fingerprint"] / best["2 workers"]
        print(f"{name}: E6 {CONFIGS[name]} -> {states} states, {transitions} transitions")
        for k, v in rate.items():
            print(f"  {k:12s} {v:10,.0f} states/s  ({best[k]:.2f}s)")
        print(f"  2 workers / 1: {speedup:.2f}x; machine ceiling now {ceiling:.2f}x; "
              f"efficiency {speedup / ceiling:.0%}")
        print(f"  peak RSS growth: exact {exact_mem['growth'] / 2**20:.1f} MiB "
              f"({exact_mem['growth'] / states:.0f} B/state), fingerprint "
              f"{fp_mem['growth'] / 2**20:.1f} MiB ({fp_mem['growth'] / states:.0f} B/state); "
              f"fingerprint store itself {bps:.0f} B/state")
        if name in previous:
            p = previous[name]
            print(f"  previous: exact {p['exact']:,.0f}, fingerprint {p['fingerprint']:,.0f}, "
                  f"2 workers {p['2 workers']:,.0f} states/s (speedup {p['speedup']:.2f}x, "
                  f"ceiling {p['ceiling']:.2f}x)")
        saved[name] = {**{k: round(v) for k, v in rate.items()}, "speedup": round(speedup, 2),
                       "ceiling": round(ceiling, 2), "states": states,
                       "store_bytes_per_state": round(bps)}
    if args.save:
        data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        data.setdefault("open", {}).update(saved)
        RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        print(f"saved to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
