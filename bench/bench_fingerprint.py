"""What the collision-free fingerprint costs against CPython's hash, in the same process.

Usage: ``python bench/bench_fingerprint.py [--rounds N] [--config NAME]``

The fingerprint store used to key states by CPython's ``hash`` of int
tuples, which gives -1 and -2 alike (a structural collision: two states
that differ only there merge in every run).  It now keys them by
:func:`mcheck.fingerprint.state_fingerprint`, a BLAKE2b digest of the
marshal-v2 encoding.  This prints, per round and as min / median / max over
rounds, alternating the two in this process on the same machine load:

* the cost of one fingerprint over the reachable states of an E6 open-search
  configuration (microseconds a state, and the ratio new / old);
* the end-to-end fingerprint-store search of the same configuration with
  each key (seconds, and the ratio new / old): the new one also checks every
  new state's encoding for anything but ints and tuples.  The old insertion
  is put back for the measurement only, by replacing the store's method.

Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mcheck.store as store_module  # noqa: E402
from mcheck import check  # noqa: E402
from mcheck.explore import reachable  # noqa: E402
from mcheck.fingerprint import state_fingerprint  # noqa: E402
from models.cow import mcheck_models  # noqa: E402

CONFIGS = {
    "fork-vs-gup-fast": {"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-fast",
                         "threads": 2},
    "e6-mixed": {"budget": "fork=1,pin=1,get=1,write=2,unmap=1",
                 "gup_modes": "rw-slow,rw-fast,ro-fast"},
}
PROPS = {"fork-vs-gup-fast": ["missed_cow", "wrong_cow", "model_error"],
         "e6-mixed": ["missed_cow", "model_error"]}


def _model(name: str) -> Any:
    [m] = mcheck_models({"policy": "E6", **CONFIGS[name]})
    return m


def _per_state(fn: Any, states: list[Any]) -> float:
    t = time.perf_counter()
    for s in states:
        fn(s)
    return (time.perf_counter() - t) / len(states) * 1e6


def _old_new(self: Any, state: Any) -> int | None:
    """The store's insertion as it was: CPython's hash, a sampled int check (none here)."""
    fp = hash(state)
    if fp in self.seen:
        return None
    self.seen.add(fp)
    return fp


def _search(name: str, old: bool) -> tuple[float, int]:
    cls = store_module.FingerprintStore
    saved = cls._new
    if old:
        cls._new = _old_new  # type: ignore[method-assign]
    try:
        t = time.perf_counter()
        r = check(_model(name), properties=PROPS[name], store="fingerprint")
        return time.perf_counter() - t, r.states
    finally:
        cls._new = saved  # type: ignore[method-assign]


def _spread(xs: list[float]) -> str:
    return f"min {min(xs):.3f}  median {statistics.median(xs):.3f}  max {max(xs):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="fork-vs-gup-fast")
    args = ap.parse_args()
    name = args.config
    states = sorted(reachable(_model(name)))
    print(f"{name}: E6 {CONFIGS[name]}, {len(states)} reachable states")
    key_ratio, search_ratio = [], []
    for i in range(args.rounds):
        old = _per_state(hash, states)
        new = _per_state(state_fingerprint, states)
        t_old, n_old = _search(name, old=True)
        t_new, n_new = _search(name, old=False)
        key_ratio.append(new / old)
        search_ratio.append(t_new / t_old)
        print(f"  round {i + 1}: key {old:.2f} -> {new:.2f} us a state ({new / old:.2f}x); "
              f"search {t_old:.2f} -> {t_new:.2f} s ({t_new / t_old:.2f}x); "
              f"states {n_old} / {n_new}")
    print(f"key cost new/old:    {_spread(key_ratio)}")
    print(f"search time new/old: {_spread(search_ratio)}")


if __name__ == "__main__":
    main()
