"""mcheck's search against a bare dict-plus-deque BFS on the Increments toy (4 processes).

Usage: ``python bench/bench_toy.py [--rounds N] [--procs N]``

Throughput: both searches run in this one process, alternating (mcheck, bare,
mcheck, bare, ...), with the cyclic GC off for both (``check()`` turns it off
itself), and the best run of each is kept.  Both call the same
``successors`` function of the same model and store the same ``state ->
parent`` dict, so the difference is the engine's own overhead.

Peak memory: each search runs once more in a fresh subprocess, which reports
its peak resident set (VmHWM, else ``ru_maxrss``) before and after the search; the
figure compared is the growth during the search (the interpreter and imports
are the same in both and cancel out).

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.toys import Increments  # noqa: E402
from mcheck import check  # noqa: E402


def bare_bfs(model) -> tuple[int, int]:
    """The baseline: a dict of parents and a deque, nothing else."""
    successors = model.successors
    parents = {}
    queue = deque()
    for s in model.initial_states():
        if s not in parents:
            parents[s] = None
            queue.append(s)
    transitions = 0
    while queue:
        s = queue.popleft()
        for _a, t in successors(s):
            transitions += 1
            if t not in parents:
                parents[t] = s
                queue.append(t)
    return len(parents), transitions


def mcheck_bfs(model) -> tuple[int, int]:
    r = check(model)
    return r.states, r.transitions


RUNNERS = {"mcheck": mcheck_bfs, "bare": bare_bfs}


def timed(name: str, procs: int) -> tuple[float, int, int]:
    model = Increments(procs)
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        states, transitions = RUNNERS[name](model)
        elapsed = time.perf_counter() - t0
    finally:
        if was:
            gc.enable()
    return elapsed, states, transitions


def _maxrss() -> int:
    """Peak resident set of this process in bytes.

    VmHWM from /proc (Linux) is this process image's own high-water mark;
    ``ru_maxrss`` is the fallback, but after fork+exec it starts at the
    parent's peak, so the subprocesses are started before the timed runs.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def memory_child(name: str, procs: int) -> None:
    model = Increments(procs)
    gc.disable()
    before = _maxrss()
    states, _ = RUNNERS[name](model)
    after = _maxrss()
    print(json.dumps({"before": before, "after": after, "states": states}))


def measure_memory(name: str, procs: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", name,
                          "--procs", str(procs)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--save", action="store_true", help="store the numbers in results.json")
    ap.add_argument("--memory-child", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.procs)
        return

    # Memory first, while this parent process is still small (see _maxrss).
    mem = {k: measure_memory(k, args.procs) for k in ("mcheck", "bare")}
    grow = {k: v["after"] - v["before"] for k, v in mem.items()}

    best = {"mcheck": float("inf"), "bare": float("inf")}
    counts = {}
    for i in range(args.rounds):
        for name in ("mcheck", "bare"):
            elapsed, states, transitions = timed(name, args.procs)
            counts[name] = (states, transitions)
            best[name] = min(best[name], elapsed)
            print(f"round {i + 1} {name:6s} {states} states {transitions} transitions "
                  f"{elapsed:.3f}s {states / elapsed:,.0f} states/s")
    if counts["mcheck"] != counts["bare"]:
        sys.exit(f"the searches disagree: mcheck {counts['mcheck']}, bare {counts['bare']}")
    states = counts["mcheck"][0]
    rate = {k: states / v for k, v in best.items()}
    ratio = rate["mcheck"] / rate["bare"]
    print(f"throughput (best of {args.rounds}, gc off, same process): "
          f"mcheck {rate['mcheck']:,.0f} states/s, bare {rate['bare']:,.0f} states/s, "
          f"ratio {ratio:.2f}x")

    mratio = grow["mcheck"] / grow["bare"]
    for k in ("mcheck", "bare"):
        print(f"peak RSS ({k}, fresh subprocess, VmHWM): {mem[k]['after'] / 2**20:.1f} MiB, "
              f"of which the search {grow[k] / 2**20:.1f} MiB")
    print(f"SUMMARY increments procs={args.procs} {states} states: mcheck "
          f"{rate['mcheck']:,.0f} states/s vs bare {rate['bare']:,.0f} states/s "
          f"({ratio:.2f}x); peak RSS growth (VmHWM, own subprocess) "
          f"{grow['mcheck'] / 2**20:.1f} MiB vs {grow['bare'] / 2**20:.1f} MiB ({mratio:.2f}x)")
    results = ROOT / "bench" / "results.json"
    data = json.loads(results.read_text()) if results.exists() else {}
    key = f"toy-procs-{args.procs}"
    prev = data.get("toy", {}).get(key)
    if prev:
        print(f"previous: mcheck {prev['mcheck']:,} vs bare {prev['bare']:,} states/s "
              f"({prev['ratio']:.2f}x); memory {prev['memory_ratio']:.2f}x")
    if args.save:
        data.setdefault("toy", {})[key] = {
            "mcheck": round(rate["mcheck"]), "bare": round(rate["bare"]),
            "ratio": round(ratio, 2), "memory_ratio": round(mratio, 2), "states": states}
        results.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        print(f"saved to {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
