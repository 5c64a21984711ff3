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
exit 1.  So does a letter that cannot be ranked against the old one, and,
unless allowed, a row, column or cell on one side only (new or missing): a
comparison that compared nothing must not pass.  A change in the number of
states is reported on its own line but never fails the run: state counts
measure the model, not the variant under test, they move with every
refinement of the model, and the exact counts are fixed by the test suite,
where a change is a reviewed diff.  A cell that became undetermined (a
bound stopped its search) is reported and gives exit status 3 unless
something failed.

A baseline is validated as a whole when it is read (:func:`load_baseline`),
before any cell runs: the matrix it belongs to, every field's type, no cell
twice, and one rank per letter and one letter per determined rank, the
rule :func:`run_matrix` also holds the classifier to.
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
    "Baseline",
    "Cell",
    "Change",
    "Comparison",
    "Distinction",
    "Matrix",
    "MatrixResult",
    "check_letter_ranks",
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
    check_letter_ranks(list(out.cells.values()), "the matrix classifier",
                       "give each letter one rank, verdict and failure flag, and each rank "
                       "one letter")
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


def _fix(file: str, model_path: str) -> str:
    return (f"regenerate it with `mcheck compare {model_path} --baseline {file} "
            "--update-baseline` (and the run's matrix flags)")


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return "a deeply nested value"
    return text if len(text) <= 40 else text[:37] + "..."


def _jtype(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                        type(value).__name__)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _DuplicateKey(Exception):
    """A JSON object that names one key twice (``json`` would keep the last silently)."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


@dataclass(frozen=True)
class Baseline:
    """A baseline file, read and validated: the matrix it was written from and its cells.

    ``rows`` and ``columns`` are the run's selection when it was written, in
    order; ``cells`` maps ``(row, column)`` to the cell.  A mapping of cells
    alone (:meth:`of`) has no name, and its rows and columns are those of its
    cells.
    """

    cells: Mapping[tuple[str, str], Cell]
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    name: str = ""
    file: str = ""
    model_path: str = ""
    row_title: str = "row"
    column_title: str = "column"

    @classmethod
    def of(cls, cells: Mapping[tuple[str, str], Cell]) -> Baseline:
        rows = tuple(dict.fromkeys(r for r, _ in cells))
        columns = tuple(dict.fromkeys(c for _, c in cells))
        return cls(dict(cells), rows, columns)


_CELL_FIELDS = ("row", "column", "letter", "verdict", "rank", "failure", "counts", "states",
                "transitions")


def _letter_ranks(cells: Sequence[tuple[str, Cell]],
                  bad: Callable[[str], UsageError]) -> None:
    """Check that a letter always has one rank, verdict and failure flag, and that no two
    determined letters share a rank (else a changed letter could not be ranked)."""
    seen: dict[str, tuple[str, Cell]] = {}
    by_rank: dict[int, tuple[str, Cell]] = {}
    for where, cell in cells:
        first = seen.setdefault(cell.letter, (where, cell))
        w0, c0 = first
        for attr in ("rank", "verdict", "failure"):
            a, b = getattr(c0, attr), getattr(cell, attr)
            if a != b:
                raise bad(f"gives letter {cell.letter!r} {attr} {_short(a)} in {w0} and "
                          f"{attr} {_short(b)} in {where}")
        if cell.rank is None:
            continue
        w1, c1 = by_rank.setdefault(cell.rank, (where, cell))
        if c1.letter != cell.letter:
            raise bad(f"gives rank {cell.rank} to letter {c1.letter!r} in {w1} and to letter "
                      f"{cell.letter!r} in {where} (one rank per letter, or a changed letter "
                      "could not be ranked)")


def check_letter_ranks(cells: Sequence[Cell], what: str, fix: str) -> None:
    """Raise :class:`UsageError` unless each letter of ``cells`` has one rank, verdict and
    failure flag and no two determined letters share a rank; ``what`` names the cells'
    source in the message (e.g. ``"the matrix classifier"``)."""
    def bad(cause: str) -> UsageError:
        return UsageError(f"{what} is inconsistent: it {cause}", fix)

    _letter_ranks([(f"{c.row} / {c.column}", c) for c in cells], bad)


def load_baseline(file: str | os.PathLike[str], *, name: str | None = None,
                  model_path: str = "MODEL_PATH") -> Baseline:
    """Read and validate a baseline file; :class:`UsageError` (one line, exit 2) on any fault.

    ``name``: the name of the matrix the baseline must be of (None: any);
    ``model_path`` is only used in messages.  Checked: the file reads as
    UTF-8 JSON (not too deeply nested, no integer beyond Python's 4300
    digits, no key twice in an object), its format and version, that it is
    a matrix of ``name``, the type of every field, that each cell's row and
    column are among the baseline's rows and columns, that no cell comes
    twice, and that a letter always has the same rank, verdict and failure
    flag while no two determined letters share a rank.  Optional fields
    (``expected``, ``matches``, ``detail``, ``message``, ``fingerprint``,
    ``exhausted``) may be absent, as in older files; unknown fields are
    ignored.
    """
    fname = str(file)
    fix = _fix(fname, model_path)

    def bad(cause: str) -> UsageError:
        return UsageError(f"baseline '{fname}' {cause}", fix)

    try:
        with open(file, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError as e:
        raise UsageError(f"no baseline file at '{fname}'",
                         f"write one with `mcheck compare {model_path} --baseline {fname} "
                         "--update-baseline`") from e
    except IsADirectoryError as e:
        raise UsageError(f"baseline '{fname}' is a directory",
                         "give --baseline a baseline file") from e
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise bad(f"cannot be read: {why}") from e
    except ValueError as e:  # an embedded NUL byte in the path
        raise UsageError(f"cannot open baseline {fname!r}: {e}",
                         "give --baseline a file path") from e
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as e:
        raise bad(f"is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from e
    except _DuplicateKey as e:
        raise bad(f"names the key {_short(e.args[0])} twice in one object (JSON would keep "
                  "the last one silently)") from e
    except RecursionError as e:
        raise bad("is nested too deeply to read (Python's JSON reader raised "
                  "RecursionError)") from e
    except ValueError as e:
        if "digits" in str(e):
            raise bad("holds an integer of more than 4300 digits (Python refuses to convert "
                      "it: ValueError)") from e
        raise bad(f"is not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise bad(f"is not an mcheck matrix (it is {_jtype(doc)}, expected an object with "
                  f"format {FORMAT!r})")
    if doc.get("format") != FORMAT:
        raise bad(f"is not an mcheck matrix (format {_short(doc.get('format'))}, expected "
                  f"{FORMAT!r})")
    version = doc.get("version")
    if version != VERSION or isinstance(version, bool):
        raise bad(f"has matrix format version {_short(version)}; this mcheck reads version "
                  f"{VERSION}")
    for key in ("name", "rows", "columns", "cells"):
        if key not in doc:
            raise bad(f"has no {key!r} field")
    for key in ("name", "model_path", "row_title", "column_title"):
        if key in doc and not isinstance(doc[key], str):
            raise bad(f"has {_jtype(doc[key])} for {key!r}, expected a string")
    bname, bpath = doc["name"], doc.get("model_path", "")
    if name is not None and bname != name:
        raise UsageError(f"baseline '{fname}' is the matrix of the model {bname!r}"
                         + (f" ({bpath})" if bpath else "")
                         + f", not of {name!r} ({model_path})",
                         f"give --baseline a baseline of {model_path}, or write one with "
                         f"`mcheck compare {model_path} --baseline {fname} --update-baseline`")
    keys: dict[str, tuple[str, ...]] = {}
    for key in ("rows", "columns"):
        value = doc[key]
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise bad(f"has {_jtype(value)} for {key!r}, expected an array of strings")
        dup = next((x for i, x in enumerate(value) if x in value[:i]), None)
        if dup is not None:
            raise bad(f"lists {dup!r} twice in {key!r}")
        keys[key] = tuple(value)
    rows, columns = set(keys["rows"]), set(keys["columns"])
    cells = doc["cells"]
    if not isinstance(cells, list):
        raise bad(f"has {_jtype(cells)} for 'cells', expected an array of cells")
    out: dict[tuple[str, str], Cell] = {}
    first: dict[tuple[str, str], int] = {}
    for i, c in enumerate(cells, 1):
        cell = _read_cell(c, f"cell {i}", bad)
        key = (cell.row, cell.column)
        where = f"cell {i} ({cell.row} / {cell.column})"
        if cell.row not in rows:
            raise bad(f"has {where} whose row is not among its 'rows'")
        if cell.column not in columns:
            raise bad(f"has {where} whose column is not among its 'columns'")
        if key in first:
            raise bad(f"has two cells for {cell.row} / {cell.column} (cells {first[key]} and "
                      f"{i})")
        first[key] = i
        if isinstance(c, dict) and "matches" in c and c["matches"] != cell.matches:
            raise bad(f"is inconsistent: {where} has matches {_short(c['matches'])}, but "
                      f"letter {cell.letter!r} with expected {cell.expected!r} and rank "
                      f"{cell.rank!r} gives {cell.matches!r}")
        out[key] = cell

    def inconsistent(cause: str) -> UsageError:
        return bad(f"is inconsistent: it {cause}")

    _letter_ranks([(f"cell {first[k]} ({k[0]} / {k[1]})", c) for k, c in out.items()],
                  inconsistent)
    return Baseline(out, keys["rows"], keys["columns"], bname, fname, bpath,
                    doc.get("row_title", "row"), doc.get("column_title", "column"))


def _read_cell(c: Any, where: str, bad: Callable[[str], UsageError]) -> Cell:
    if not isinstance(c, dict):
        raise bad(f"has {where} as {_jtype(c)}, expected an object")
    for key in _CELL_FIELDS:
        if key not in c:
            raise bad(f"has {where} without the field {key!r}")
    if isinstance(c["row"], str) and isinstance(c["column"], str):
        where = f"{where} ({c['row']} / {c['column']})"

    def want(key: str, ok: bool, what: str) -> None:
        if not ok:
            raise bad(f"has {where} with {_jtype(c[key])} for {key!r}, expected {what}")

    for key in ("row", "column", "letter", "verdict"):
        want(key, isinstance(c[key], str), "a string")
    if len(c["letter"]) != 1:
        raise bad(f"has {where} with letter {_short(c['letter'])}, expected one character")
    rank = c["rank"]
    want("rank", rank is None or (isinstance(rank, int) and not isinstance(rank, bool)),
         "a whole number or null")
    want("failure", isinstance(c["failure"], bool), "true or false")
    for key in ("states", "transitions"):
        want(key, _is_count(c[key]), "a whole number >= 0")
    counts = c["counts"]
    want("counts", isinstance(counts, dict) and all(_is_count(v) for v in counts.values()),
         "an object of whole numbers >= 0")
    if "expected" in c:
        want("expected", c["expected"] is None or isinstance(c["expected"], str),
             "a string or null")
    if "matches" in c:
        want("matches", c["matches"] is None or isinstance(c["matches"], bool),
             "true, false or null")
    for key in ("detail", "message", "fingerprint"):
        if key in c:
            want(key, isinstance(c[key], str), "a string")
    if "exhausted" in c:
        want("exhausted", isinstance(c["exhausted"], bool), "true or false")
    return Cell(c["row"], c["column"], c["letter"], c["verdict"], rank, c["failure"],
                dict(counts), c["states"], c["transitions"], c.get("expected"),
                c.get("detail", ""), c.get("message", ""), c.get("fingerprint", ""),
                c.get("exhausted", True))


@dataclass(frozen=True)
class Change:
    """How one cell, row or column differs from the baseline.

    ``column`` is None for a whole row, ``row`` None for a whole column.
    ``kind`` is the most serious of ``regression`` (a worse rank or a grown
    count), ``changed`` (another letter that cannot be ranked against the
    old one: the baseline's cell was undetermined), ``missing`` (in the
    baseline, not produced by the run: a cell of a row and column that both
    ran, or a row or column the model no longer knows), ``new`` (produced
    by the run, not in the baseline), ``undetermined``, ``improvement``,
    ``states`` (only the state count moved) and ``model`` (only the model's
    fingerprint moved).  Regressions and changes fail the run; new and
    missing ones too unless allowed (:meth:`Comparison.fails`).
    """

    row: str | None
    column: str | None
    kind: str
    what: tuple[str, ...]


_KIND_ORDER = ("regression", "changed", "missing", "new", "undetermined", "improvement",
               "states", "model")


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`: the changes in matrix order and what was compared."""

    changes: tuple[Change, ...]
    compared: int
    """Cells of the run that had a baseline cell."""
    not_run: int
    """Baseline cells outside the run's rows and columns (not compared)."""
    row_map: Mapping[str, str] = field(default_factory=dict)
    row_title: str = "row"
    column_title: str = "column"

    def kinds(self) -> set[str]:
        return {ch.kind for ch in self.changes}

    def fails(self, allow_new: bool = False) -> bool:
        """Whether the run fails (exit 1): a regression or a changed letter, or, unless
        ``allow_new``, a new or missing cell, row or column."""
        bad = {"regression", "changed"} | (set() if allow_new else {"new", "missing"})
        return bool(self.kinds() & bad)


def _cell_change(old: Cell, new: Cell) -> tuple[str, tuple[str, ...]] | None:
    kinds: list[str] = []
    what: list[str] = []
    if old.letter != new.letter or old.rank != new.rank:
        what.append(f"{old.verdict} -> {new.verdict}")
        if new.rank is None:
            kinds.append("undetermined")
        elif old.rank is None or new.rank == old.rank:
            kinds.append("changed")
        elif new.rank > old.rank:
            kinds.append("regression")
        else:
            kinds.append("improvement")
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
    if not kinds:
        return None
    return min(kinds, key=_KIND_ORDER.index), tuple(what)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def compare(mr: MatrixResult, baseline: Baseline | Mapping[tuple[str, str], Cell], *,
            row_map: Mapping[str, str] | None = None,
            knows_row: Callable[[str], bool] | None = None,
            knows_column: Callable[[str], bool] | None = None) -> Comparison:
    """Compare every cell of ``mr`` with ``baseline``.

    ``row_map`` maps a row of the run to the baseline row it is compared
    with (a renamed row; default: the row of the same name).  A row or
    column of the run that the baseline lacks is one ``new`` change; a cell
    of a row and a column that both ran, present on one side only, is a
    ``new`` or ``missing`` cell.  A baseline row or column the run did not
    select is not compared (counted in ``not_run``) when the model still
    knows it, and is ``missing`` when ``knows_row``/``knows_column`` says it
    does not (None: assume it does).  Raises :class:`UsageError` when the run
    and the baseline rank a letter differently, or give one rank to two
    letters (the classifier changed: every regression would be a guess).
    """
    base = baseline if isinstance(baseline, Baseline) else Baseline.of(baseline)
    row_map = dict(row_map or {})
    where = f"baseline '{base.file}'" if base.file else "the baseline"

    def clash(cause: str) -> UsageError:
        return UsageError(f"{where} does not match this run: it {cause}",
                          "the classifier's letters or ranks changed since the baseline was "
                          "written: regenerate it with --update-baseline")

    _letter_ranks([(f"the baseline's {r} / {c}", x) for (r, c), x in base.cells.items()]
                  + [(f"this run's {r} / {c}", x) for (r, c), x in mr.cells.items()], clash)
    m = mr.matrix

    def brow(r: str) -> str:
        return row_map.get(r, r)

    base_rows = set(base.rows) | {r for r, _ in base.cells}
    base_cols = set(base.columns) | {c for _, c in base.cells}
    ran = {k for k in mr.cells}
    out: list[Change] = []
    new_rows = [r for r in mr.rows if brow(r) not in base_rows]
    new_cols = [c for c in mr.columns if c not in base_cols]
    for r in new_rows:
        n = sum(1 for c in mr.columns if (r, c) in ran)
        out.append(Change(r, None, "new", (f"not in the baseline ({_plural(n, 'cell')})",)))
    for c in new_cols:
        n = sum(1 for r in mr.rows if (r, c) in ran)
        out.append(Change(None, c, "new", (f"not in the baseline ({_plural(n, 'cell')})",)))
    compared = 0
    for r in mr.rows:
        if r in new_rows:
            continue
        for c in mr.columns:
            if c in new_cols:
                continue
            new, old = mr.cells.get((r, c)), base.cells.get((brow(r), c))
            if new is None and old is not None:
                out.append(Change(r, c, "missing", (f"{old.verdict} in the baseline, not "
                                                    "produced by this run",)))
            elif new is not None and old is None:
                out.append(Change(r, c, "new", (f"{new.verdict} (not in the baseline)",)))
            elif new is not None and old is not None:
                compared += 1
                ch = _cell_change(old, new)
                if ch is not None:
                    out.append(Change(r, c, ch[0], ch[1]))
    run_rows = {brow(r) for r in mr.rows}
    run_cols = set(mr.columns)
    gone_rows = [r for r in base.rows if r not in run_rows
                 and knows_row is not None and not knows_row(r)]
    gone_cols = [c for c in base.columns if c not in run_cols
                 and knows_column is not None and not knows_column(c)]
    for r in gone_rows:
        n = sum(1 for k in base.cells if k[0] == r)
        out.append(Change(r, None, "missing", (f"in the baseline ({_plural(n, 'cell')}) "
                                               "but neither run nor known to the model",)))
    for c in gone_cols:
        n = sum(1 for k in base.cells if k[1] == c)
        out.append(Change(None, c, "missing", (f"in the baseline ({_plural(n, 'cell')}) "
                                               "but neither run nor known to the model",)))
    not_run = sum(1 for r, c in base.cells if (r not in run_rows or c not in run_cols)
                  and r not in gone_rows and c not in gone_cols)
    return Comparison(tuple(out), compared, not_run, row_map, m.row_title, m.column_title)


def format_changes(cmp: Comparison) -> str:
    """One line per change, most serious first, then a summary line.

    Cells whose model changed (fingerprint) but whose outcome did not are
    only counted in the summary.
    """
    lines = []

    def place(ch: Change) -> str:
        if ch.column is None:
            return f"{cmp.row_title} {ch.row}"
        if ch.row is None:
            return f"{cmp.column_title} {ch.column}"
        mapped = cmp.row_map.get(ch.row, ch.row)
        return f"{ch.row}{f' (as {mapped})' if mapped != ch.row else ''} / {ch.column}"

    for ch in sorted(cmp.changes, key=lambda x: _KIND_ORDER.index(x.kind)):
        if ch.kind != "model":
            lines.append(f"{ch.kind.upper():<12}  {place(ch)}: {'; '.join(ch.what)}")
    names = {"model": "with a changed model (fingerprint) and the same outcome"}
    parts = []
    for k in _KIND_ORDER:
        n = sum(1 for ch in cmp.changes if ch.kind == k and ch.row and ch.column)
        if n:
            parts.append(f"{n} {names.get(k, k)}"
                         f"{'s' if n != 1 and k in ('regression', 'improvement') else ''}")
        for title, pick in ((cmp.row_title, lambda ch: ch.row if ch.column is None else None),
                            (cmp.column_title,
                             lambda ch: ch.column if ch.row is None else None)):
            keys = [x for x in (pick(ch) for ch in cmp.changes if ch.kind == k) if x]
            if keys:
                parts.append(f"{k} {title} {', '.join(keys)}")
    tail = f"; {cmp.not_run} baseline cells not run" if cmp.not_run else ""
    lines.append(f"baseline: {cmp.compared} cells compared: "
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
