"""``mcheck compare``: matrices, baselines, formats and distinguishing traces.

The matrix run is :mod:`mcheck.matrix`, baselines and regressions
:mod:`mcheck.baseline`, the printed forms :mod:`mcheck.matrix_format`; their
public names are importable from here too.  This module holds the
distinguishing traces (``mcheck compare --diff A B``): for each column where
one row violates a property and the other does not, the minimal trace of the
one replayed under the other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from mcheck.baseline import (
    FORMAT,
    VERSION,
    Baseline,
    Change,
    Comparison,
    compare,
    comparison_json,
    format_changes,
    load_baseline,
    to_json,
)
from mcheck.diff import (
    DiffStep,
    Schedule,
    render_side_by_side,
    replay_schedule,
    run_on,
    schedule_of,
    side_by_side,
)
from mcheck.explore import Result, Verdict
from mcheck.matrix import (
    Cell,
    Matrix,
    MatrixResult,
    check_letter_ranks,
    run_matrix,
    stderr_progress,
)
from mcheck.matrix_format import (
    cell_diagram,
    format_junit,
    format_ktap,
    format_markdown,
    format_table,
)
from mcheck.model import Kind

__all__ = [
    "FORMAT",
    "VERSION",
    "Baseline",
    "Cell",
    "Change",
    "Comparison",
    "Distinction",
    "Matrix",
    "MatrixResult",
    "cell_diagram",
    "check_letter_ranks",
    "compare",
    "comparison_json",
    "distinctions_json",
    "distinguish",
    "format_changes",
    "format_distinctions",
    "format_junit",
    "format_ktap",
    "format_markdown",
    "format_table",
    "load_baseline",
    "run_matrix",
    "stderr_progress",
    "to_json",
]


@dataclass(frozen=True)
class Distinction:
    """A property that one row violates in a column and the other does not.

    ``violating`` is the row whose minimal counterexample gives the thread
    schedule; ``left`` and ``right`` are the two rows' runs of it (real
    paths of their own models), ``rows`` the table pairing them.
    """

    column: str
    prop: str
    kind: str
    violating: str
    holding: str
    left_row: str
    right_row: str
    left: Schedule
    right: Schedule
    rows: tuple[DiffStep, ...]
    preemptions: int
    message: str

    @property
    def first_difference(self) -> int | None:
        return next((r.index for r in self.rows if r.differs), None)


def _fails(result: Result, name: str) -> bool | None:
    """Whether property ``name`` fails (for a metric: its event happens); None: unknown."""
    p = result.properties.get(name)
    if p is None:
        return None
    if p.kind is Kind.METRIC:
        if p.count:
            return True
        return False if result.exhausted else None
    if p.verdict is Verdict.VIOLATED:
        return True
    return False if p.verdict is Verdict.HOLDS else None


def distinguish(mr: MatrixResult, left: str, right: str, *,
                max_states: int | None = None) -> list[Distinction]:
    """For every column where ``left`` and ``right`` disagree on a property, a distinction.

    ``mr`` must come from :func:`run_matrix` with ``keep=True``.  The schedule
    is that of the violating row's minimal counterexample (shortest, fewest
    preemptions); the other row replays it, then goes on to its end.
    """
    from mcheck.minimize import explain, minimal_path

    out = []
    for col in mr.columns:
        la, rb = mr.results.get((left, col)), mr.results.get((right, col))
        if la is None or rb is None:
            continue
        for name, prop in la.properties.items():
            fa, fb = _fails(la, name), _fails(rb, name)
            if fa is None or fb is None or fa == fb:
                continue
            bad, good = (left, right) if fa else (right, left)
            bad_model, good_model = mr.models[(bad, col)], mr.models[(good, col)]
            mini = minimal_path(bad_model, name, max_states=max_states)
            if mini is None:  # pragma: no cover - the search above found one
                continue
            sched = schedule_of(bad_model, mini.path)
            bad_run = Schedule(mini.path, (True,) * len(mini.path))
            good_run = run_on(good_model, replay_schedule(good_model, sched),
                              limit=2 * len(sched) + 20)
            runs = {bad: (bad_model, bad_run), good: (good_model, good_run)}
            lm, lr = runs[left]
            rm, rr = runs[right]
            rows = side_by_side(lm, lr, rm, rr, [t for t, _ in sched])
            kind = "deadlock" if name == "deadlock" and prop.kind is Kind.INVARIANT \
                and name not in {p.name for p in bad_model.properties()} else prop.kind.value
            out.append(Distinction(col, name, kind, bad, good, left, right, lr, rr,
                                   tuple(rows), mini.preemptions,
                                   explain(bad_model, name, mini.path)))
    return out


def format_distinctions(ds: Sequence[Distinction], left: str, right: str,
                        width: int = 100) -> str:
    """The distinctions as text: a heading and a side-by-side table each."""
    out = []
    for d in ds:
        event = "happens" if d.kind == "metric" else "violated"
        not_event = "never happens" if d.kind == "metric" else "holds"
        n = len(d.left.path) if d.violating == d.left_row else len(d.right.path)
        out.append(f"{d.column}: {d.prop} {event} under {d.violating}, {not_event} under "
                   f"{d.holding}")
        out.append(f"  {d.violating}'s minimal trace: {n} step{'s' if n != 1 else ''}, "
                   f"{d.preemptions} preemption{'s' if d.preemptions != 1 else ''}"
                   + (f": {d.message}" if d.message else ""))
        out.append(f"  {d.holding} runs the same thread schedule ('>' first difference, '!' "
                   f"later ones, '+' {d.holding} goes on after the schedule ends)")
        out.append("")
        out.append(render_side_by_side(d.rows, d.left_row, d.right_row, width=width))
    cols = list(dict.fromkeys(d.column for d in ds))
    out.append(f"{left} and {right} differ on a property in {len(cols)} column"
               f"{'s' if len(cols) != 1 else ''}" + (f": {', '.join(cols)}" if cols else "")
               + "\n")
    return "\n".join(out)


def distinctions_json(ds: Sequence[Distinction], left: str, right: str) -> str:
    """The distinctions as one JSON document (actions included, so both runs replay)."""
    from mcheck.trace import to_json_value

    doc = {
        "format": "mcheck-diff", "version": 1, "left": left, "right": right,
        "distinctions": [{
            "column": d.column, "property": d.prop, "kind": d.kind,
            "violated_under": d.violating, "holds_under": d.holding,
            "preemptions": d.preemptions, "message": d.message,
            "first_difference": d.first_difference,
            "left_actions": to_json_value(list(d.left.path.actions)),
            "right_actions": to_json_value(list(d.right.path.actions)),
            "steps": [{"step": r.index, "thread": r.thread, "left": r.left, "right": r.right,
                       "differs": r.differs, "extra": r.extra} for r in d.rows],
        } for d in ds],
    }
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
