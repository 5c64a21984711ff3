"""The compact store against the fingerprint store: bytes a state and search time.

Usage: ``python bench/bench_compact.py [--rounds N] [--config NAME] [--save]``

A configuration is a full breadth-first search: ``philosophers-16`` (the
default; the Philosophers toy of ``examples/toys.py`` with 16 philosophers,
1,331,714 states and 13,774,112 transitions, a cheap step: the store's
worst case) or ``cow-e6-mixed`` (the COW model under E6, 197,341 states, the
properties ``missed_cow`` and ``model_error`` as in ``bench_fingerprint.py``:
a real model's step cost).  Each round runs it once with each store,
alternating in this one process (fingerprint, compact; then compact,
fingerprint; ...) so both see the same machine load.  It prints, per round
and as min / median / max over the rounds:

* each store's bytes a state, as the store counts them (its sets and arrays
  as allocated; ``StoreInfo.bytes_per_state``), and the ratio compact /
  fingerprint;
* the search time of each, and the ratio compact / fingerprint: the CPU
  time of this process (``time.process_time``; other work on a shared
  machine inflates it less than the wall time) and the wall time.

Both searches must give the same states, transitions and verdict, or the
benchmark stops.  ``--save`` writes the figures into ``bench/results.json``
under ``compact`` and the configuration's name.  Not a test: nothing asserts a
time.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.toys import Philosophers  # noqa: E402
from mcheck import Model, check  # noqa: E402

STORES = ("fingerprint", "compact")


def _cow_e6_mixed() -> Model:
    from models.cow import mcheck_models

    [m] = mcheck_models({"policy": "E6", "budget": "fork=1,pin=1,get=1,write=2,unmap=1",
                         "gup_modes": "rw-slow,rw-fast,ro-fast"})
    return m


#: name -> (the model, the properties checked: None for all)
CONFIGS = {"philosophers-16": (lambda: Philosophers(16), None),
           "cow-e6-mixed": (_cow_e6_mixed, ["missed_cow", "model_error"])}


def run(store: str, config: str) -> tuple[float, float, Any]:
    """CPU seconds, wall seconds and the result of one search."""
    make, props = CONFIGS[config]
    model = make()
    gc.collect()
    c, t = time.process_time(), time.perf_counter()
    r = check(model, store=store, properties=props)
    return time.process_time() - c, time.perf_counter() - t, r


def spread(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


def show(d: dict[str, float], fmt: str = ".3f") -> str:
    return "  ".join(f"{k} {v:{fmt}}" for k, v in d.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="philosophers-16")
    ap.add_argument("--save", action="store_true", help="store the figures in results.json")
    args = ap.parse_args()
    cpu: dict[str, list[float]] = {s: [] for s in STORES}
    wall: dict[str, list[float]] = {s: [] for s in STORES}
    bps: dict[str, list[float]] = {s: [] for s in STORES}
    facts = set()
    for i in range(args.rounds):
        order = STORES if i % 2 == 0 else STORES[::-1]
        for store in order:
            c, t, r = run(store, args.config)
            facts.add((r.states, r.transitions, r.verdict.value))
            if len(facts) != 1:
                sys.exit(f"the stores disagree: {sorted(facts)}")
            cpu[store].append(c)
            wall[store].append(t)
            bps[store].append(r.store.bytes_per_state)
            print(f"round {i + 1} {store:11s} {r.states:,} states {r.transitions:,} "
                  f"transitions, CPU {c:.1f} s, wall {t:.1f} s, "
                  f"{r.store.bytes_per_state:.2f} bytes a state",
                  flush=True)
    [(states, transitions, verdict)] = facts
    cpu_ratio = spread([c / f for c, f in zip(cpu["compact"], cpu["fingerprint"], strict=True)])
    wall_ratio = spread([c / f for c, f in zip(wall["compact"], wall["fingerprint"],
                                               strict=True)])
    byte_ratio = spread([c / f for c, f in zip(bps["compact"], bps["fingerprint"], strict=True)])
    print(f"{args.config}: {states:,} states, {transitions:,} transitions, {verdict}")
    for store in STORES:
        print(f"  {store:11s} bytes a state: {show(spread(bps[store]), '.2f')}; "
              f"CPU s: {show(spread(cpu[store]), '.1f')}; wall s: "
              f"{show(spread(wall[store]), '.1f')}")
    print(f"  compact / fingerprint bytes:     {show(byte_ratio)}")
    print(f"  compact / fingerprint CPU time:  {show(cpu_ratio)}")
    print(f"  compact / fingerprint wall time: {show(wall_ratio)}")
    if args.save:
        results = ROOT / "bench" / "results.json"
        data = json.loads(results.read_text()) if results.exists() else {}  # read just now
        data.setdefault("compact", {})[args.config] = {
            "states": states,
            "transitions": transitions, "rounds": args.rounds,
            "bytes_per_state": {s: round(statistics.median(bps[s]), 2) for s in STORES},
            "cpu_seconds": {s: {k: round(v, 1) for k, v in spread(cpu[s]).items()}
                            for s in STORES},
            "cpu_time_ratio": {k: round(v, 3) for k, v in cpu_ratio.items()},
            "wall_time_ratio": {k: round(v, 3) for k, v in wall_ratio.items()},
            "command": f"python bench/bench_compact.py --rounds {args.rounds} "
                       f"--config {args.config} --save"}
        results.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        print(f"saved to {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
