"""Baselines of a matrix run: the versioned JSON document, reading it back, regressions.

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
rule :func:`mcheck.matrix.run_matrix` also holds the classifier to.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcheck.errors import UsageError
from mcheck.matrix import Cell, MatrixResult, letter_rank_clash, short_repr

__all__ = [
    "FORMAT",
    "VERSION",
    "Baseline",
    "Change",
    "Comparison",
    "compare",
    "comparison_json",
    "format_changes",
    "load_baseline",
    "to_json",
]

FORMAT = "mcheck-matrix"
VERSION = 1


def to_json(mr: MatrixResult, model_path: str,
            comparison: Mapping[str, Any] | None = None) -> str:
    """The versioned JSON document of a run (one cell per line; no times: deterministic).

    ``comparison`` (from :func:`comparison_json`) is added as the field
    ``baseline``, so that ``compare --format json --baseline`` prints one
    document with its regressions inside; a baseline file is written without.
    """
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
    if comparison is not None:
        doc = json.dumps(comparison, indent=2, ensure_ascii=True).replace("\n", "\n  ")
        lines.append(f'  "baseline": {doc}')
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _fix(file: str, model_path: str) -> str:
    return (f"regenerate it with `mcheck compare {model_path} --baseline {file} "
            "--update-baseline` (and the run's matrix flags)")


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
        raise bad(f"names the key {short_repr(e.args[0])} twice in one object (JSON would keep "
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
        raise bad(f"is not an mcheck matrix (format {short_repr(doc.get('format'))}, expected "
                  f"{FORMAT!r})")
    version = doc.get("version")
    if version != VERSION or isinstance(version, bool):
        raise bad(f"has matrix format version {short_repr(version)}; this mcheck reads version "
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
            raise bad(f"is inconsistent: {where} has matches {short_repr(c['matches'])}, but "
                      f"letter {cell.letter!r} with expected {cell.expected!r} and rank "
                      f"{cell.rank!r} gives {cell.matches!r}")
        out[key] = cell

    def inconsistent(cause: str) -> UsageError:
        return bad(f"is inconsistent: it {cause}")

    letter_rank_clash([(f"cell {first[k]} ({k[0]} / {k[1]})", c) for k, c in out.items()],
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
        raise bad(f"has {where} with letter {short_repr(c['letter'])}, expected one character")
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

    letter_rank_clash([(f"the baseline's {r} / {c}", x) for (r, c), x in base.cells.items()]
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


def comparison_json(cmp: Comparison | None, file: str, *, allow_new: bool = False,
                    not_compared: str = "") -> dict[str, Any]:
    """A comparison as the ``baseline`` field of the JSON document (:func:`to_json`).

    ``changes`` lists every change as :func:`format_changes` does, most
    serious first (``row`` or ``column`` null for a whole column or row,
    ``baseline_row`` the row it was compared with); ``regressions`` counts
    the cells that regressed; ``fails`` says whether the comparison fails the
    run (exit 1).  ``cmp`` None: the baseline was not compared, and
    ``not_compared`` says why.
    """
    if cmp is None:
        return {"file": file, "compared": None, "not_compared": not_compared, "fails": False,
                "regressions": 0, "changes": [], "summary": f"not compared: {not_compared}"}
    changes = [{"kind": ch.kind, "row": ch.row, "column": ch.column,
                "baseline_row": None if ch.row is None else cmp.row_map.get(ch.row, ch.row),
                "what": list(ch.what)}
               for ch in sorted(cmp.changes, key=lambda x: _KIND_ORDER.index(x.kind))]
    return {"file": file, "compared": cmp.compared, "not_run": cmp.not_run,
            "allow_new": allow_new, "fails": cmp.fails(allow_new),
            "regressions": sum(1 for ch in cmp.changes if ch.kind == "regression"),
            "changes": changes,
            "summary": format_changes(cmp).rstrip("\n").split("\n")[-1]}
