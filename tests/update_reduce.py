"""Write tests/reduce.json: the exact counts of the reduction's example runs.

    python tests/update_reduce.py            # rewrite the file
    python tests/update_reduce.py --check    # exit 1 and name the counts that differ

For ``examples/workers.py`` (n workers, each with a number of private steps
before it adds to a shared total) at (3, 4) and (4, 6): the full search's
states and transitions, and the same under ``--reduce`` (stubborn sets from
the footprint analysis).  tests/test_reduce.py runs the same searches and
compares.  The file is the counts' one home; a change is a change of the
search, the analysis or the reduction, and its commit says why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "examples"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

FILE = Path(__file__).resolve().parent / "reduce.json"
#: (workers, steps) of each pinned run
RUNS = ((3, 4), (4, 6))


def counts(n: int, steps: int) -> dict[str, list[int]]:
    """``{"full": [states, transitions], "reduced": [...]}`` of ``Workers(n, steps)``."""
    from workers import Workers

    from mcheck import check
    from mcheck.proof.footprint import analyse
    from mcheck.reduce import Reduction

    m = Workers(n, steps)
    an = analyse(m, m.symmetry(), use_cache=False)
    full = check(m)
    red = check(m, reduction=Reduction(m, m.symmetry(), an, m.properties()))
    return {"full": [full.states, full.transitions], "reduced": [red.states, red.transitions]}


def compute() -> dict[str, dict[str, list[int]]]:
    return {f"workers {n}x{steps}": counts(n, steps) for n, steps in RUNS}


def load() -> dict[str, dict[str, list[int]]]:
    return json.loads(FILE.read_text())


def main(argv: list[str]) -> int:
    now = compute()
    if "--check" in argv:
        old = load()
        off = [f"{k}: {old.get(k)} -> {v}" for k, v in now.items() if old.get(k) != v]
        for line in off:
            print(line)
        return 1 if off else 0
    FILE.write_text(json.dumps(now, indent=1) + "\n")
    print(f"wrote {len(now)} runs to {FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
