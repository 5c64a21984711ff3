"""Write tests/cow/reduced.json: the reduced state count of every catalogue cell.

    python tests/cow/update_reduced.py            # rewrite the file
    python tests/cow/update_reduced.py --check    # exit 1 and name the cells that differ

Each count is the number of states of the cell's search under symmetry
reduction (frames and slots interchangeable), collecting every violation,
with deadlock detection: what tests/cow/test_symmetry.py runs and compares.
The file is the counts' one home; a change is a change of the model or of its
declared symmetry, and its commit says why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FILE = Path(__file__).resolve().parent / "reduced.json"


def cells() -> list[tuple[str, str]]:
    """Every (scenario, policy) cell: each era, and the scenario's other expectations."""
    from models.cow.catalogue import CATALOGUE
    from models.cow.scenario import ERA_ORDER

    return [(s.name, pol) for s in CATALOGUE
            for pol in list(ERA_ORDER) + [k for k in s.expect if k not in ERA_ORDER]]


def reduced_states(scenario: str, policy: str) -> int:
    """The reduced search's state count of one cell."""
    from mcheck import check
    from mcheck.symmetry import Canonicaliser
    from models.cow import mcheck_models

    [m] = mcheck_models({"policy": policy, "scenario": scenario})
    return check(m, canonical=Canonicaliser(m.symmetry()), stop_at_first=False,
                 deadlock=True).states


def compute() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for scenario, policy in cells():
        out.setdefault(scenario, {})[policy] = reduced_states(scenario, policy)
    return out


def load() -> dict[str, dict[str, int]]:
    return json.loads(FILE.read_text())


def main(argv: list[str]) -> int:
    now = compute()
    if "--check" in argv:
        old = load()
        off = [f"{s}/{p}: {old.get(s, {}).get(p)} -> {n}" for s, row in now.items()
               for p, n in row.items() if old.get(s, {}).get(p) != n]
        off += [f"{s}: no longer a scenario" for s in old if s not in now]
        for line in off:
            print(line)
        return 1 if off else 0
    FILE.write_text(json.dumps(now, indent=1) + "\n")
    print(f"wrote {sum(len(r) for r in now.values())} counts to {FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
