"""Write tests/compact.json: the compact store's exact size on a fixed run.

    python tests/update_compact.py            # rewrite the file
    python tests/update_compact.py --check    # exit 1 if the file differs

The run is the full search of the Philosophers toy with 12 philosophers
(39,202 states: the fingerprint set doubles its buckets three times).  The bytes are
what :meth:`mcheck.store.CompactStore.nbytes` counts: the arrays as
allocated, so they change with the store's layout or CPython's array growth;
the file is their one home, and a commit that changes it says why.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FILE = Path(__file__).resolve().parent / "compact.json"
PROCS = 12


def compute() -> dict[str, object]:
    from examples.toys import Philosophers
    from mcheck import check

    r = check(Philosophers(PROCS), store="compact")
    assert r.store is not None
    python = "{}.{}".format(*sys.version_info[:2])
    return {"model": "philosophers", "procs": PROCS, "python": python, "states": r.states,
            "bytes_per_state": r.store.bytes_per_state}


def load() -> dict[str, object]:
    return json.loads(FILE.read_text())


def main(argv: list[str]) -> int:
    now = compute()
    if "--check" in argv:
        if load() != now:
            print(f"{FILE.name} differs: now {now}", file=sys.stderr)
            return 1
        return 0
    FILE.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n")
    print(f"wrote {FILE.relative_to(ROOT)}: {now}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
