"""The E6 sweep: every budget of one to three operation kinds, to exhaustion under E6.

Each budget gives every kind in it 1 (``write`` also 2), with 1 and 2
threads per process (2 processes, 1 page, 3 frames, 1 swap slot, pins and
gets in every GUP mode).  Every run explores the whole reachable space
(``stop_at_first=False``), so each row's state count is exact, and prints
the verdict and its explanation: a HOLDS needs none; every violation must be
a named catalogue row that cites the kernel source or documentation saying
the kernel does the same (today only X24, the R/W FOLL_GET across fork that
open(2) documents for O_DIRECT; the sweep checks it by rerunning the budget
with gets R/O only, which must hold).  Anything else is UNEXPLAINED, and the
script exits 1.

    python bench/sweep_e6.py                      # the pairs (1-2 kinds), 1 and 2 threads
    python bench/sweep_e6.py --kinds 3 --threads 1
    python bench/sweep_e6.py --kinds 3 --write     # record every row: tests/cow/sweep_e6.json
    python bench/sweep_e6.py --kinds 3 --check     # re-run and compare with the record
    python bench/sweep_e6.py --markdown           # the README table

``--write`` records each row (states, transitions, verdict, explanation) in
``tests/cow/sweep_e6.json``, which tests/cow/test_sweep.py re-checks: the
numbers live there and nowhere else.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mcheck import Verdict, check  # noqa: E402
from models.cow.open import BUDGET_KINDS, OpenCowModel, format_budget  # noqa: E402
from models.cow.policy import get_policy  # noqa: E402

__all__ = ["EXPECTED", "FIELDS", "SWEEP_KINDS", "budgets", "run_one", "explain", "load_expected",
           "markdown_table", "main"]

EXPECTED = os.path.join(ROOT, "tests", "cow", "sweep_e6.json")

#: The named catalogue row for R/W FOLL_GET across fork (models/cow/catalogue.py).
O_DIRECT_FORK = "X24: R/W FOLL_GET across fork, real (open(2): O_DIRECT and fork)"
RO_GETS = "ro-slow,ro-fast"


#: Kinds that are never enabled without another: exit (of a child, open.py), a device
#: write or unpin (of a live handle).
_INERT = (("exit", ("fork",), "only a child exits: no fork"),
          ("dma", ("pin", "get"), "no pin or get"),
          ("unpin", ("pin", "get"), "no pin or get"))


#: The kinds the sweep combines: every budget kind but ``migrate`` (issue 15), whose rows
#: would change the README's recorded table; its E6 runs are in tests/cow/test_migrate.py.
SWEEP_KINDS = tuple(k for k in BUDGET_KINDS if k != "migrate")


def budgets(max_kinds: int) -> list[dict[str, int]]:
    """Every budget of 1..max_kinds kinds, each at 1, ``write`` also at 2, in a fixed order."""
    out: list[dict[str, int]] = []
    for n in range(1, max_kinds + 1):
        for kinds in itertools.combinations(SWEEP_KINDS, n):
            out.append({k: 1 for k in kinds})
            if "write" in kinds:
                out.append({k: 2 if k == "write" else 1 for k in kinds})
    return out


def _model(budget: dict[str, int], threads: int, get_modes: str | None = None) -> OpenCowModel:
    return OpenCowModel(get_policy("E6"), budget, threads=threads, get_modes=get_modes)


def _violated(result: Any) -> list[str]:
    return [n for n, p in result.properties.items() if p.verdict is Verdict.VIOLATED]


def explain(budget: dict[str, int], threads: int, result: Any, store: str) -> str:
    """Why the run's verdict is right: "" for HOLDS, a catalogue row, or UNEXPLAINED."""
    bad = _violated(result)
    if not bad:
        # Every page starts unmapped and only a write maps one (GUP, reclaim, munmap,
        # mprotect and clear_refs need a mapped page; fork copies none): nothing to check.
        if not budget.get("write"):
            return "vacuous: no write, no page is ever mapped"
        return "; ".join(f"{k} never enabled ({why})" for k, needs, why in _INERT
                         if budget.get(k) and not any(budget.get(n) for n in needs))
    msgs = [result.properties[n].message for n in bad]
    if bad == ["wrong_cow"] and budget.get("fork") and budget.get("get") and \
            all("'s get)" in m for m in msgs):
        ro = check(_model(budget, threads, RO_GETS), stop_at_first=False, store=store)
        if ro.verdict is Verdict.HOLDS:
            return O_DIRECT_FORK + f"; with R/O gets it holds ({ro.states} states)"
    return "UNEXPLAINED: " + "; ".join(f"{n}: {m}" for n, m in zip(bad, msgs, strict=True))


def run_one(budget: dict[str, int], threads: int, store: str = "exact") -> dict[str, Any]:
    """One row of the table."""
    t0 = time.perf_counter()
    r = check(_model(budget, threads), stop_at_first=False, store=store)
    row = {"budget": format_budget(budget), "threads": threads, "states": r.states,
           "transitions": r.transitions,
           "verdict": r.verdict.name + ("" if r.verdict is Verdict.HOLDS
                                        else " " + ",".join(_violated(r))),
           "explanation": explain(budget, threads, r, store)}
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """One line per budget, a states and a verdict column per thread setting; the vacuous
    budgets (no write) summed up in one line."""
    threads = sorted({r["threads"] for r in rows})
    by: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["budget"], {})[r["threads"]] = r
    vac = [b for b, rs in by.items() if all(r["explanation"].startswith("vacuous")
                                            for r in rs.values())]
    head = "| budget | " + " | ".join(f"states, {t} thr." for t in threads) + \
        " | verdict | explanation |"
    lines = [head, "|" + " --- |" * (len(threads) + 3)]
    for b, rs in by.items():
        if b in vac:
            continue
        verdicts = [rs[t]["verdict"] if t in rs else "-" for t in threads]
        verdict = verdicts[0] if len(set(verdicts)) == 1 else \
            " / ".join(f"{t}: {v}" for t, v in zip(threads, verdicts, strict=True))
        why = sorted({r["explanation"].split(";")[0] for r in rs.values() if r["explanation"]})
        lines.append(f"| `{b}` | " + " | ".join(str(rs[t]["states"]) if t in rs else "-"
                                               for t in threads) +
                     f" | {verdict} | {'; '.join(why)} |")
    if vac:
        n = [r["states"] for b in vac for r in by[b].values()]
        lines.append(f"\n{len(vac)} budgets without a write (vacuous: no page is ever "
                     f"mapped) hold with {min(n)}-{max(n)} states each.")
    return "\n".join(lines)


def _table(rows: list[dict[str, Any]], markdown: bool) -> str:
    if markdown:
        return markdown_table(rows)
    lines = [f"{'budget':34} {'thr':>3} {'states':>8} {'secs':>6}  verdict  explanation"]
    lines += [f"{r['budget']:34} {r['threads']:>3} {r['states']:>8} {r['seconds']:>6}  "
              f"{r['verdict']}  {r['explanation']}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", type=int, default=2, choices=(1, 2, 3),
                    help="budgets of 1..KINDS operation kinds (default 2)")
    ap.add_argument("--exactly", action="store_true",
                    help="only the budgets of exactly KINDS kinds")
    ap.add_argument("--threads", default="1,2",
                    help="threads per process to run, e.g. 1 or 1,2 (default 1,2)")
    ap.add_argument("--store", default="exact", choices=("exact", "fingerprint"),
                    help="visited-state store (default exact)")
    ap.add_argument("--only", default=None,
                    help="run one budget, e.g. fork=1,get=1 (with --threads)")
    ap.add_argument("--write", action="store_true",
                    help=f"record the rows in {os.path.relpath(EXPECTED, ROOT)}")
    ap.add_argument("--check", action="store_true",
                    help=f"compare every row with {os.path.relpath(EXPECTED, ROOT)}; exit 1 on"
                         " a difference")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    a = ap.parse_args(argv)
    try:
        threads = [int(x) for x in a.threads.split(",") if x.strip()]
    except ValueError:
        print(f"sweep_e6: --threads {a.threads!r}: give positive counts, e.g. 1,2",
              file=sys.stderr)
        return 2
    if not threads or any(t < 1 for t in threads):
        print(f"sweep_e6: --threads {a.threads!r}: give positive counts, e.g. 1,2",
              file=sys.stderr)
        return 2
    if a.only:
        from models.cow.open import parse_budget

        try:
            todo = [parse_budget(a.only)]
        except ValueError as e:
            print(f"sweep_e6: --only: {e}", file=sys.stderr)
            return 2
    else:
        todo = budgets(a.kinds)
        if a.exactly:
            todo = [b for b in todo if len(b) == a.kinds]
    want: dict[tuple[str, int], dict[str, Any]] = {}
    if a.check:  # read the record before running anything
        try:
            want = {(r["budget"], r["threads"]): r for r in load_expected()}
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"sweep_e6: cannot read {os.path.relpath(EXPECTED, ROOT)} ({e}); record it "
                  "with --kinds 3 --write", file=sys.stderr)
            return 2
    rows = []
    t0 = time.perf_counter()
    for b in todo:
        for t in threads:
            row = run_one(b, t, a.store)
            rows.append(row)
            if not a.markdown:
                print(_table([row], False).splitlines()[1], flush=True)
    total = time.perf_counter() - t0
    if a.markdown:
        print(_table(rows, True))
    bad = [r for r in rows if r["explanation"].startswith("UNEXPLAINED")]
    print(f"# {len(rows)} runs, {sum(r['states'] for r in rows)} states, {total:.1f}s; "
          f"{sum(1 for r in rows if r['verdict'] == 'HOLDS')} hold, "
          f"{len(rows) - len(bad) - sum(1 for r in rows if r['verdict'] == 'HOLDS')} "
          f"explained violations, {len(bad)} unexplained", file=sys.stderr)
    keep = [{k: r[k] for k in FIELDS} for r in rows]
    status = 1 if bad else 0
    if a.check:
        for r in keep:
            w = want.get((r["budget"], r["threads"]))
            if w != r:
                print(f"DIFFERS  {r['budget']} threads={r['threads']}: expected {w}, got {r}",
                      file=sys.stderr)
                status = 1
        print(f"# checked {len(keep)} rows against {os.path.relpath(EXPECTED, ROOT)}",
              file=sys.stderr)
    if a.write:
        with open(EXPECTED, "w", encoding="utf-8") as fh:
            fh.write('{"policy": "E6", "rows": [\n')
            fh.write(",\n".join(json.dumps(r) for r in keep))
            fh.write("\n]}\n")
        print(f"# wrote {os.path.relpath(EXPECTED, ROOT)}", file=sys.stderr)
    return status


FIELDS = ("budget", "threads", "states", "transitions", "verdict", "explanation")


def load_expected() -> list[dict[str, Any]]:
    """The rows ``--write`` recorded."""
    with open(EXPECTED, encoding="utf-8") as fh:
        return list(json.load(fh)["rows"])


if __name__ == "__main__":
    sys.exit(main())
