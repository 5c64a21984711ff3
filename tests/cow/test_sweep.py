"""The E6 sweep (bench/sweep_e6.py) against its recorded rows (tests/cow/sweep_e6.json).

Every budget of one to three operation kinds (each at 1, ``write`` also at 2) with 1
and 2 threads per process, explored to exhaustion under E6.  CI re-runs the pairs
(budgets of one or two kinds) with both thread settings and the triples with one
thread (about 4 s together); the triples with two threads (about 35 s) are re-checked
by ``python bench/sweep_e6.py --kinds 3 --check``.  The numbers live in the JSON file
only: ``python bench/sweep_e6.py --kinds 3 --write`` records them.
"""

from __future__ import annotations

import pytest

from bench.sweep_e6 import (
    FIELDS,
    O_DIRECT_FORK,
    ROOT,
    budgets,
    load_expected,
    markdown_table,
    run_one,
)
from models.cow.open import format_budget, parse_budget

ROWS = load_expected()
CI = [r for r in ROWS if r["budget"].count(",") < 2 or r["threads"] == 1]


def test_the_record_has_every_budget_and_thread_setting_once() -> None:
    keys = [(r["budget"], r["threads"]) for r in ROWS]
    assert len(keys) == len(set(keys))
    assert set(keys) == {(format_budget(b), t) for b in budgets(3) for t in (1, 2)}


def test_every_violation_is_the_documented_o_direct_fork_case() -> None:
    bad = [r for r in ROWS if r["verdict"] != "HOLDS"]
    assert bad, "the sweep reaches the R/W FOLL_GET across fork (X24)"
    for r in bad:
        kinds = parse_budget(r["budget"])
        assert r["verdict"] == "VIOLATED wrong_cow"
        assert r["explanation"].startswith(O_DIRECT_FORK)
        assert kinds.get("fork") and kinds.get("get")


@pytest.mark.parametrize("row", CI, ids=[f"{r['budget']}-t{r['threads']}" for r in CI])
def test_row(row: dict) -> None:
    got = run_one(parse_budget(row["budget"]), row["threads"])
    assert {k: got[k] for k in FIELDS} == row


def test_the_readme_shows_the_recorded_table() -> None:
    readme = open(f"{ROOT}/README.md", encoding="utf-8").read()
    assert markdown_table(ROWS) in readme, "run python bench/sweep_e6.py --kinds 3 --markdown"
