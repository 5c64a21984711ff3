"""The printed forms of a matrix run: a table, Markdown, JUnit XML and KTAP.

The JSON document (also the baseline format) is :func:`mcheck.baseline.to_json`.
JUnit and KTAP report a failing cell with the race diagram of its
counterexample when the run kept its results (``run_matrix(keep=True)``).
"""

from __future__ import annotations

import textwrap
from xml.sax.saxutils import escape, quoteattr

from mcheck.explore import Verdict
from mcheck.matrix import Cell, MatrixResult
from mcheck.model import Kind
from mcheck.report import stop_reason

__all__ = ["cell_diagram", "format_junit", "format_ktap", "format_markdown", "format_table",
           "outcome", "stop_reason"]


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
    undetermined cell is an error.  A failure's body is the cell's verdict
    and counts, then, when the run kept its results, the race diagram of
    its counterexample (:func:`cell_diagram`).
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
                drawing = cell_diagram(mr, r, c)
                text = info if drawing is None else f"{info}\n\n{drawing}"
                body = (f"<failure message={quoteattr(cell.verdict + exp)} "
                        f"type={quoteattr(cell.letter)}>{escape(text)}</failure>")
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


# -- race diagrams and KTAP -----------------------------------------------------------------


def cell_diagram(mr: MatrixResult, row: str, column: str) -> str | None:
    """The race diagram of the counterexample behind a cell's letter, or None.

    The property drawn is the violated one whose explanation is the cell's
    message (the classifier's choice), else the first violated one.  The
    model's own drawing (:meth:`Model.render_trace`) is used when it has
    one, else the generic lanes of :mod:`mcheck.render`.  None when the run
    did not keep its results (``run_matrix(keep=True)``) or nothing was
    violated.
    """
    from mcheck.render import render

    result, model = mr.results.get((row, column)), mr.models.get((row, column))
    cell = mr.cells.get((row, column))
    if result is None or model is None or cell is None:
        return None
    bad = [p for p in result.properties.values()
           if p.verdict is Verdict.VIOLATED and p.kind is not Kind.METRIC and p.path is not None]
    if not bad:
        return None
    p = next((x for x in bad if cell.message and x.message == cell.message), bad[0])
    assert p.path is not None
    own = model.render_trace(p.path, p.name, p.message)
    if own is not None:
        return own.rstrip("\n")
    msg = f": {p.message}" if p.message else ""
    return render(model, p.path, title=f"{row} / {column}: {p.name} VIOLATED{msg}").rstrip("\n")


def outcome(cell: Cell) -> str:
    """How a test reports a cell: ``pass``, ``fail``, ``xfail`` (an expected failure
    reproduced) or ``skip`` (undetermined).  A cell passes when it is as expected; where
    there is no expectation, when it is no failure."""
    if cell.rank is None:
        return "skip"
    if cell.matches is False or (cell.matches is None and cell.failure):
        return "fail"
    if cell.matches and cell.failure:
        return "xfail"
    return "pass"


def _ktap_name(text: str) -> str:
    """A KTAP description: any characters but ``#`` and a newline."""
    return " ".join(text.replace("#", "_").split())


def format_ktap(mr: MatrixResult) -> str:
    """KTAP version 1, as kselftests print it: one test per row, its cells as subtests.

    A cell that is as expected (or, with no expectation, no failure) is
    ``ok``; an expected failure reproduced is ``ok ... # XFAIL`` (kselftest's
    ``ksft_test_result_xfail``); an undetermined cell is ``ok ... # SKIP``
    with the bound that stopped it; any other cell is ``not ok``, preceded
    by diagnostic lines: its verdict and expectation, then the race diagram
    of its counterexample when the run kept its results.  Subtests are
    indented by two spaces (one KTAP level) and headed by a version line,
    ``# Subtest: ROW`` and a plan.  A row fails when one of its cells
    fails, and is skipped when every cell is.  The last line is
    kselftest's ``# Totals:`` line.
    """
    out = ["KTAP version 1", f"1..{len(mr.rows)}"]
    totals = {"pass": 0, "fail": 0, "xfail": 0, "xpass": 0, "skip": 0, "error": 0}
    for i, r in enumerate(mr.rows, 1):
        cols = [c for c in mr.columns if (r, c) in mr.cells]
        out += ["  KTAP version 1", f"  # Subtest: {_ktap_name(r)}", f"  1..{len(cols)}"]
        kinds = []
        for j, c in enumerate(cols, 1):
            cell = mr.cells[(r, c)]
            kind = outcome(cell)
            kinds.append(kind)
            totals[kind] += 1
            name = _ktap_name(c)
            if kind == "pass":
                out.append(f"  ok {j} {name}")
            elif kind == "xfail":
                out.append(f"  ok {j} {name} # XFAIL {_ktap_name(cell.verdict)} "
                           f"(expected {_ktap_name(cell.letter)})")
            elif kind == "skip":
                res = mr.results.get((r, c))
                why = f": {stop_reason(res)} after {res.states} states" if res is not None \
                    else (f": {cell.message}" if cell.message else "")
                out.append(f"  ok {j} {name} # SKIP {_ktap_name(cell.verdict + why)}")
            else:
                exp = f"expected {cell.expected}" if cell.expected is not None else \
                    "expected no failure"
                out.append(f"  # {name}: {cell.letter} {cell.verdict} ({exp})"
                           + (f": {' '.join(cell.message.split())}" if cell.message else ""))
                drawing = cell_diagram(mr, r, c)
                if drawing is not None:
                    out.extend(f"  # {line}".rstrip() for line in drawing.split("\n"))
                out.append(f"  not ok {j} {name}")
        if "fail" in kinds:
            out.append(f"not ok {i} {_ktap_name(r)}")
        elif kinds and all(k == "skip" for k in kinds):
            out.append(f"ok {i} {_ktap_name(r)} # SKIP every cell undetermined")
        elif not kinds:
            out.append(f"ok {i} {_ktap_name(r)} # SKIP no cell applies")
        else:
            out.append(f"ok {i} {_ktap_name(r)}")
    out.append("# Totals: " + " ".join(f"{k}:{v}" for k, v in totals.items()))
    return "\n".join(out) + "\n"
