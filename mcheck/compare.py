"""Matrices of models: one check per (row, column) cell, baselines, regressions.

A model module that describes a family of models indexed by two names (say,
variants of a system by workloads) defines the optional hook

``mcheck_matrix(options: dict) -> Matrix``
    The rows, the columns, a builder ``(row, column) -> Model | None`` (None:
    the cell does not apply) and a classifier ``Result -> dict`` that turns
    a search result into a cell: a one-letter verdict, a short verdict
    phrase, a severity rank (higher is worse; None when undetermined),
    whether it is a failure, and the counts that must never grow.

``mcheck_matrix_arguments(parser)`` (optional)
    Add the flags that choose rows and columns (``mcheck compare`` parses
    them after MODEL_PATH).

This module runs every cell (:func:`run_matrix`), prints the matrix as a
table, Markdown, JSON or JUnit XML, stores it as a versioned JSON baseline
and compares a run with a baseline (:func:`compare`).  It knows nothing
about what the rows and columns mean.

Regressions.  A cell *regresses* when its rank grows (e.g. held -> failure)
or when one of its counts grows; either makes ``mcheck compare --baseline``
exit 1.  A change in the number of states is reported on its own line but
never fails the run: state counts measure the model, not the variant under
test, they move with every refinement of the model, and the exact counts
are fixed by the test suite, where a change is a reviewed diff.  A cell
that became undetermined (a bound stopped its search) is reported and gives
exit status 3 unless something regressed.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from mcheck.diff import (
    DiffStep,
    Schedule,
    render_side_by_side,
    replay_schedule,
    run_on,
    schedule_of,
    side_by_side,
)
from mcheck.errors import UsageError
from mcheck.explore import Bounds, Result, Verdict, check
from mcheck.model import Kind, Model

__all__ = [
    "FORMAT",
    "VERSION",
    "Cell",
    "Change",
    "Distinction",
    "Matrix",
    "MatrixResult",
    "compare",
    "distinctions_json",
    "distinguish",
    "format_changes",
    "format_distinctions",
    "format_junit",
    "format_markdown",
    "format_table",
    "load_baseline",
    "run_matrix",
    "stderr_progress",
    "to_json",
]

FORMAT = "mcheck-matrix"
VERSION = 1


def _no_expectation(row: str, column: str) -> str | None:
    return None


@dataclass
class Matrix:
    """What a model module's ``mcheck_matrix`` hook returns.

    Parameters
    ----------
    name:
        Short name of the family (used in JUnit class names).
    rows, columns:
        Row and column keys, in display order.
    build:
        ``build(row, column)`` returns the model of a cell, or None when the
        cell does not apply.
    classify:
        ``classify(result)`` returns a mapping with ``letter`` (one
        character), ``verdict`` (a short phrase), ``rank`` (int, higher is
        worse, or None when undetermined), ``failure`` (bool), ``counts``
        (name -> int; a count that grows is a regression) and optionally
        ``detail`` (a few characters shown after the letter) and
        ``message`` (one line).
    expect:
        ``expect(row, column)``: the expected letter, or None.
    lookup:
        Optional ``lookup(reference)``: the row key of a row the user named
        that is not among ``rows`` (it is added), or None if unknown.
    row_title, column_title:
        What a row and a column are, for headers.
    legend:
        Lines explaining the letters and details.
    deadlock:
        Check for deadlocks too (:func:`mcheck.check`'s ``deadlock``).
    """

    name: str
    rows: Sequence[str]
    columns: Sequence[str]
    build: Callable[[str, str], Model | None]
    classify: Callable[[Result], Mapping[str, Any]]
    expect: Callable[[str, str], str | None] = _no_expectation
    lookup: Callable[[str], str | None] | None = None
    row_title: str = "row"
    column_title: str = "column"
    legend: Sequence[str] = ()
    deadlock: bool = False


@dataclass(frozen=True)
class Cell:
    """The outcome of one cell, as stored in a baseline."""

    row: str
    column: str
    letter: str
    verdict: str
    rank: int | None
    failure: bool
    counts: dict[str, int]
    states: int
    transitions: int
    expected: str | None = None
    detail: str = ""
    message: str = ""
    fingerprint: str = ""
    exhausted: bool = True
    """False when the search stopped early (every property failed, or a bound):
    the counts are then lower bounds and the state count partial."""

    @property
    def matches(self) -> bool | None:
        """Whether the letter is the expected one (None: no expectation, or undetermined)."""
        if self.expected is None or self.rank is None:
            return None
        return self.letter == self.expected

    def text(self) -> str:
        """The letter, the detail and the expectation mark: ``W=``, ``U1!``, ``H``."""
        mark = {True: "=", False: "!", None: ""}[self.matches]
        return f"{self.letter}{self.detail}{mark}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "column": self.column, "letter": self.letter,
            "verdict": self.verdict, "rank": self.rank, "failure": self.failure,
            "counts": dict(self.counts), "states": self.states,
            "transitions": self.transitions, "expected": self.expected,
            "matches": self.matches, "detail": self.detail, "message": self.message,
            "fingerprint": self.fingerprint, "exhausted": self.exhausted,
        }


@dataclass
class MatrixResult:
    """Every cell of a run, with the search results kept for distinguishing traces."""

    matrix: Matrix
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], Cell]
    results: dict[tuple[str, str], Result] = field(default_factory=dict)
    models: dict[tuple[str, str], Model] = field(default_factory=dict)
    elapsed: float = 0.0


def _cell_from(matrix: Matrix, row: str, column: str, model: Model, result: Result) -> Cell:
    try:
        c = matrix.classify(result)
        letter = str(c["letter"])
        rank = c["rank"]
        counts = {str(k): int(v) for k, v in dict(c.get("counts") or {}).items()}
        cell = Cell(row, column, letter, str(c["verdict"]),
                    None if rank is None else int(rank), bool(c["failure"]), counts,
                    result.states, result.transitions, matrix.expect(row, column),
                    str(c.get("detail") or ""), str(c.get("message") or ""),
                    model.fingerprint(), result.exhausted)
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"the matrix classifier returned a bad cell for {row} / {column}: "
                         f"{type(e).__name__}: {e}",
                         "return letter, verdict, rank, failure and counts") from e
    if len(letter) != 1:
        raise UsageError(f"the matrix classifier returned letter {letter!r} for {row} / "
                         f"{column}", "return a one-character letter")
    return cell


def run_matrix(matrix: Matrix, *, rows: Sequence[str] | None = None,
               columns: Sequence[str] | None = None, bounds: Bounds | None = None,
               keep: bool = False,
               progress: Callable[[int, int], None] | None = None) -> MatrixResult:
    """Check every cell of ``matrix`` (or of the given rows and columns).

    Each cell's model is explored to the end (``stop_at_first=False``) so its
    counts and state count are exact.  ``keep`` keeps each cell's model and
    :class:`~mcheck.explore.Result` (for distinguishing traces);
    ``progress(done, total)`` is called after each cell.
    """
    rows = list(matrix.rows if rows is None else rows)
    columns = list(matrix.columns if columns is None else columns)
    out = MatrixResult(matrix, rows, columns, {})
    t0 = time.monotonic()
    total = len(rows) * len(columns)
    done = 0
    for row in rows:
        for column in columns:
            model = matrix.build(row, column)
            if model is not None:
                result = check(model, stop_at_first=False, deadlock=matrix.deadlock,
                               bounds=bounds)
                out.cells[(row, column)] = _cell_from(matrix, row, column, model, result)
                if keep:
                    out.results[(row, column)] = result
                    out.models[(row, column)] = model
            done += 1
            if progress is not None:
                progress(done, total)
    out.elapsed = time.monotonic() - t0
    return out


# -- JSON and baselines ------------------------------------------------------------------


def to_json(mr: MatrixResult, model_path: str) -> str:
    """The versioned JSON document of a run (one cell per line; no times: deterministic)."""
    from mcheck import __version__

    m = mr.matrix
    head = {
        "format": FORMAT, "version": VERSION, "mcheck": __version__,
        "model_path": model_path, "name": m.name, "row_title": m.row_title,
        "column_title": m.column_title, "rows": mr.rows, "columns": mr.columns,
    }
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=True)}" for k, v in head.items()]
    cells = [json.dumps(mr.cells[(r, c)].to_dict(), ensure_ascii=True)
             for r in mr.rows for c in mr.columns if (r, c) in mr.cells]
    body = ("[\n" + ",\n".join(f"    {x}" for x in cells) + "\n  ]") if cells else "[]"
    lines.append(f'  "cells": {body}')
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _fix(file: str) -> str:
    return (f"regenerate it with `mcheck compare MODEL_PATH --baseline {file} "
            "--update-baseline`")


def load_baseline(file: str | os.PathLike[str]) -> dict[tuple[str, str], Cell]:
    """The cells of a baseline file; :class:`UsageError` (one line) on any fault."""
    name = str(file)
    try:
        with open(file, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError as e:
        raise UsageError(f"no baseline file at '{name}'",
                         f"write one with `mcheck compare MODEL_PATH --baseline {name} "
                         "--update-baseline`") from e
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read baseline '{name}': {e}", _fix(name)) from e
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"baseline '{name}' is not valid JSON ({e.msg} at line {e.lineno} "
                         f"column {e.colno})", _fix(name)) from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        what = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise UsageError(f"baseline '{name}' is not an mcheck matrix (format {what!r}, "
                         f"expected {FORMAT!r})", _fix(name))
    if doc.get("version") != VERSION:
        raise UsageError(f"baseline '{name}' has matrix format version "
                         f"{doc.get('version')!r}; this mcheck reads version {VERSION}",
                         _fix(name))
    cells = doc.get("cells")
    if not isinstance(cells, list):
        raise UsageError(f"baseline '{name}' has no list of cells", _fix(name))
    out: dict[tuple[str, str], Cell] = {}
    for i, c in enumerate(cells, 1):
        try:
            if not isinstance(c, dict):
                raise TypeError("not an object")
            rank = c["rank"]
            counts = c["counts"]
            if not isinstance(counts, dict) or not all(
                    isinstance(k, str) and isinstance(v, int) for k, v in counts.items()):
                raise TypeError("counts must map names to whole numbers")
            for key in ("row", "column", "letter", "verdict"):
                if not isinstance(c[key], str):
                    raise TypeError(f"{key} must be a string")
            for key in ("states", "transitions"):
                if not isinstance(c[key], int):
                    raise TypeError(f"{key} must be a whole number")
            if rank is not None and not isinstance(rank, int):
                raise TypeError("rank must be a whole number or null")
            cell = Cell(c["row"], c["column"], c["letter"], c["verdict"], rank,
                        bool(c["failure"]), dict(counts), c["states"], c["transitions"],
                        c.get("expected"), str(c.get("detail") or ""),
                        str(c.get("message") or ""), str(c.get("fingerprint") or ""),
                        bool(c.get("exhausted", True)))
        except (KeyError, TypeError) as e:
            what = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            raise UsageError(f"baseline '{name}': cell {i} is malformed ({what})",
                             _fix(name)) from e
        out[(cell.row, cell.column)] = cell
    return out


@dataclass(frozen=True)
class Change:
    """How one cell differs from the baseline.

    ``kind`` is the most serious of ``regression`` (fails the run),
    ``undetermined``, ``improvement``, ``changed`` (same rank, other
    letter; or the baseline was undetermined), ``states`` (only the state
    count moved), ``model`` (only the model's fingerprint moved) and
    ``new`` (no such cell in the baseline).
    """

    row: str
    column: str
    kind: str
    what: tuple[str, ...]


_KIND_ORDER = ("regression", "undetermined", "improvement", "changed", "states", "model", "new")


def compare(mr: MatrixResult, baseline: Mapping[tuple[str, str], Cell]) -> list[Change]:
    """The changes of every cell of ``mr`` against ``baseline``, in matrix order."""
    out = []
    for r in mr.rows:
        for c in mr.columns:
            new = mr.cells.get((r, c))
            if new is None:
                continue
            old = baseline.get((r, c))
            if old is None:
                out.append(Change(r, c, "new", (f"{new.verdict} (not in the baseline)",)))
                continue
            kinds: list[str] = []
            what: list[str] = []
            if old.letter != new.letter or old.rank != new.rank:
                what.append(f"{old.verdict} -> {new.verdict}")
                if new.rank is None:
                    kinds.append("undetermined")
                elif old.rank is None:
                    kinds.append("changed")
                elif new.rank > old.rank:
                    kinds.append("regression")
                elif new.rank < old.rank:
                    kinds.append("improvement")
                else:
                    kinds.append("changed")
            for k in sorted(set(old.counts) | set(new.counts)):
                a, b = old.counts.get(k, 0), new.counts.get(k, 0)
                if a == b:
                    continue
                if b < a and not new.exhausted:
                    continue  # a search that stopped early only gives a lower bound
                what.append(f"{k} {a} -> {b}")
                kinds.append("regression" if b > a else "improvement")
            if old.states != new.states and old.exhausted and new.exhausted:
                grew = "grew" if new.states > old.states else "shrank"
                what.append(f"states {old.states} -> {new.states} ({grew})")
                kinds.append("states")
            if old.fingerprint and new.fingerprint and old.fingerprint != new.fingerprint \
                    and not kinds:
                what.append("the model changed (fingerprint), the outcome did not")
                kinds.append("model")
            if kinds:
                kind = min(kinds, key=_KIND_ORDER.index)
                out.append(Change(r, c, kind, tuple(what)))
    return out


def format_changes(changes: Sequence[Change], compared: int, missing: int) -> str:
    """One line per changed cell, most serious first, then a summary line.

    Cells whose model changed (fingerprint) but whose outcome did not are
    only counted in the summary.
    """
    lines = []
    for ch in sorted(changes, key=lambda x: _KIND_ORDER.index(x.kind)):
        if ch.kind != "model":
            lines.append(f"{ch.kind.upper():<12}  {ch.row} / {ch.column}: "
                         f"{'; '.join(ch.what)}")
    counts = {k: sum(1 for ch in changes if ch.kind == k) for k in _KIND_ORDER}
    names = {"model": "with a changed model (fingerprint) and the same outcome"}
    parts = [f"{n} {names.get(k, k)}{'s' if n != 1 and k in ('regression', 'improvement') else ''}"
             for k, n in counts.items() if n]
    tail = f"; {missing} baseline cells not run" if missing else ""
    lines.append(f"baseline: {compared} cells compared: "
                 f"{', '.join(parts) if parts else 'no change'}{tail}")
    return "\n".join(lines) + "\n"


# -- tables ---------------------------------------------------------------------------------


def _grid(mr: MatrixResult) -> tuple[str, list[str], list[tuple[str, list[str]]]]:
    """(corner title, header keys, [(line key, cell texts)]): columns as lines if longer."""
    m = mr.matrix
    transpose = len(mr.columns) > len(mr.rows)
    heads = mr.rows if transpose else mr.columns
    lines = mr.columns if transpose else mr.rows
    corner = f"{m.column_title} \\ {m.row_title}" if transpose else \
        f"{m.row_title} \\ {m.column_title}"
    cells = [c for c in mr.cells.values()]
    lw = max((len(c.text()) for c in cells), default=1)
    sw = max((len(str(c.states)) for c in cells), default=1)
    body = []
    for key in lines:
        texts = []
        for h in heads:
            cell = mr.cells.get((h, key) if transpose else (key, h))
            texts.append("-" if cell is None else f"{cell.text():<{lw}} {cell.states:>{sw}}")
        body.append((key, texts))
    return corner, list(heads), body


def _legend(mr: MatrixResult) -> list[str]:
    cells = list(mr.cells.values())
    letters: dict[str, int] = {}
    for c in cells:
        letters[c.letter] = letters.get(c.letter, 0) + 1
    off = sum(1 for c in cells if c.matches is False)
    hits = sum(1 for c in cells if c.matches is True)
    out = list(mr.matrix.legend)
    out.append("After the letter: '=' as expected, '!' not as expected (no mark: no "
               "expectation); the number is the count of distinct states.")
    summary = ", ".join(f"{k} {n}" for k, n in sorted(letters.items()))
    out.append(f"{len(cells)} cells ({summary}); {hits} as expected, {off} not as expected.")
    return out


def format_table(mr: MatrixResult) -> str:
    """A plain-text table for the terminal, with the legend."""
    corner, heads, body = _grid(mr)
    first = max([len(corner)] + [len(k) for k, _ in body])
    widths = [max([len(h)] + [len(t[i]) for _, t in body]) for i, h in enumerate(heads)]
    out = ["  ".join([corner.ljust(first)] + [h.ljust(w) for h, w in zip(heads, widths,
                                                                          strict=True)]).rstrip()]
    out.append("  ".join(["-" * first] + ["-" * w for w in widths]))
    for key, texts in body:
        out.append("  ".join([key.ljust(first)] + [t.ljust(w) for t, w in zip(texts, widths,
                                                                            strict=True)])
                   .rstrip())
    out.append("")
    for line in _legend(mr):
        out.extend(textwrap.wrap(line, 100, break_on_hyphens=False) or [""])
    return "\n".join(out) + "\n"


def format_markdown(mr: MatrixResult) -> str:
    """A GitHub-flavoured Markdown table, with the legend."""
    corner, heads, body = _grid(mr)

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| " + " | ".join([esc(corner)] + [esc(h) for h in heads]) + " |",
           "|" + "|".join(["---"] + [":---:"] * len(heads)) + "|"]
    for key, texts in body:
        out.append("| " + " | ".join([esc(key)] + [f"`{t}`" if t != "-" else "-"
                                                   for t in texts]) + " |")
    out.append("")
    out.extend(_legend(mr))
    return "\n".join(out) + "\n"


def format_junit(mr: MatrixResult) -> str:
    """JUnit XML: a test suite per row, a test case per cell.

    A cell passes when it is as expected; where there is no expectation,
    when it is no failure.  An expected failure (a known bug reproduced) is
    reported as skipped with type ``xfail`` (pytest's convention); an
    undetermined cell is an error.
    """
    m = mr.matrix
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    suites = []
    tot = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for r in mr.rows:
        cases = []
        n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for c in mr.columns:
            cell = mr.cells.get((r, c))
            if cell is None:
                continue
            n["tests"] += 1
            name = quoteattr(c)
            cls = quoteattr(f"{m.name}.{r}")
            info = (f"{cell.verdict}; states {cell.states}, transitions {cell.transitions}"
                    + "".join(f", {k} {v}" for k, v in cell.counts.items())
                    + (f"; {cell.message}" if cell.message else ""))
            exp = f" (expected {cell.expected})" if cell.expected is not None else ""
            if cell.rank is None:
                n["errors"] += 1
                body = (f'<error message={quoteattr(cell.verdict + exp)} type="undetermined">'
                        f"{escape(info)}</error>")
            elif cell.matches is False or (cell.matches is None and cell.failure):
                n["failures"] += 1
                body = (f"<failure message={quoteattr(cell.verdict + exp)} "
                        f"type={quoteattr(cell.letter)}>{escape(info)}</failure>")
            elif cell.matches and cell.failure:
                n["skipped"] += 1
                body = (f'<skipped type="xfail" message='
                        f"{quoteattr('expected ' + cell.verdict + ' reproduced')}/>")
            else:
                body = ""
            if body:
                cases.append(f"    <testcase classname={cls} name={name}>\n      {body}\n"
                             "    </testcase>")
            else:
                cases.append(f"    <testcase classname={cls} name={name}/>")
        for k in tot:
            tot[k] += n[k]
        attrs = " ".join(f'{k}="{v}"' for k, v in n.items())
        suites.append(f"  <testsuite name={quoteattr(f'{m.name}.{r}')} {attrs}>\n"
                      + "\n".join(cases) + "\n  </testsuite>")
    attrs = " ".join(f'{k}="{v}"' for k, v in tot.items())
    out.append(f"<testsuites name={quoteattr(m.name)} {attrs}>")
    out.extend(suites)
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


# -- distinguishing traces -----------------------------------------------------------------


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


def stderr_progress(quiet: bool) -> Callable[[int, int], None] | None:
    """A one-line cell counter on stderr when it is a terminal (else None)."""
    stream = sys.stderr
    if quiet or not stream.isatty():
        return None

    def show(done: int, total: int) -> None:
        stream.write(f"\rmcheck compare: {done}/{total} cells")
        if done == total:
            stream.write("\r" + " " * 40 + "\r")
        stream.flush()
    return show
