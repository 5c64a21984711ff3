"""Matrices of models: one check per (row, column) cell.

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

This module runs every cell (:func:`run_matrix`) and holds the classifier to
one rank per letter (:func:`check_letter_ranks`).  Baselines and
regressions are in :mod:`mcheck.baseline`, the printed forms in
:mod:`mcheck.matrix_format`, distinguishing traces in :mod:`mcheck.compare`.
It knows nothing about what the rows and columns mean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcheck.errors import UsageError
from mcheck.explore import Bounds, Result, check
from mcheck.model import Model

__all__ = [
    "Cell",
    "Matrix",
    "MatrixResult",
    "check_letter_ranks",
    "letter_rank_clash",
    "run_matrix",
    "short_repr",
    "stderr_progress",
]


def short_repr(value: Any) -> str:
    """``repr(value)`` cut to 40 characters, for one-line messages about bad input."""
    try:
        text = repr(value)
    except RecursionError:
        return "a deeply nested value"
    return text if len(text) <= 40 else text[:37] + "..."


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



def letter_rank_clash(cells: Sequence[tuple[str, Cell]],
                      bad: Callable[[str], UsageError]) -> None:
    """Raise ``bad(cause)`` unless a letter always has one rank, verdict and failure flag
    and no two determined letters share a rank (else a changed letter could not be
    ranked); each cell comes with the words that place it in the message."""
    seen: dict[str, tuple[str, Cell]] = {}
    by_rank: dict[int, tuple[str, Cell]] = {}
    for where, cell in cells:
        first = seen.setdefault(cell.letter, (where, cell))
        w0, c0 = first
        for attr in ("rank", "verdict", "failure"):
            a, b = getattr(c0, attr), getattr(cell, attr)
            if a != b:
                raise bad(f"gives letter {cell.letter!r} {attr} {short_repr(a)} in {w0} and "
                          f"{attr} {short_repr(b)} in {where}")
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

    letter_rank_clash([(f"{c.row} / {c.column}", c) for c in cells], bad)



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
