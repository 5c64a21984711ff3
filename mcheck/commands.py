"""The ``compare`` and ``minimize`` commands of ``mcheck`` (the parser lives in cli.py).

Kept apart from :mod:`mcheck.cli` so that the command line grows by a few
lines there; errors follow the same rule: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from mcheck.errors import ModelError, UsageError
from mcheck.explore import Bounds, PropertyResult, Result, Verdict
from mcheck.model import Kind, Model

__all__ = ["COMPARE_CODES", "MINIMIZE_CODES", "add_parsers", "minimize_result", "run"]

COMPARE_CODES = """\
exit status:
  0  no regression against --baseline (without it: every cell with an expected
     verdict has it)
  1  a cell regressed against --baseline (its verdict got worse or one of its
     counts grew; each changed cell is listed on its own line); without
     --baseline: a cell differs from its expected verdict
  2  usage or input error: bad flag, unknown row or column, corrupt baseline
  3  a cell is undetermined (a bound stopped its search) and nothing regressed
A state count that changed is listed but never fails the run (the test suite
pins the exact counts)."""

MINIMIZE_CODES = """\
exit status:
  0  the minimal trace was written
  1  the given trace replays but its violation no longer happens
  2  the trace cannot be read or replayed
  3  --max-states was reached before the minimal depth"""

_FORMATS = ("table", "markdown", "json", "junit")
_BY_EXTENSION = {".json": "json", ".xml": "junit", ".md": "markdown", ".markdown": "markdown"}


def add_parsers(sub: Any, positive: Any) -> tuple[argparse.ArgumentParser, ...]:
    """Add ``compare`` and ``minimize`` to the subcommands ``sub`` of the top parser."""
    raw = argparse.RawDescriptionHelpFormatter
    c = sub.add_parser(
        "compare", add_help=False, allow_abbrev=False,
        help="check a matrix of models (e.g. policies x scenarios), compare with a baseline",
        usage="mcheck compare MODEL_PATH [matrix flags] [options]",
        description="Check every cell of the matrix that MODEL_PATH's mcheck_matrix() hook\n"
                    "describes and print it as a table (or Markdown, JSON, JUnit XML).\n"
                    "Flags the hook adds (rows, columns) come after MODEL_PATH; `mcheck\n"
                    "compare MODEL_PATH --help` lists them.",
        epilog=COMPARE_CODES, formatter_class=raw)
    c.add_argument("-h", "--help", action="store_true",
                   help="show this help (and the matrix flags when MODEL_PATH is given)")
    c.add_argument("model", nargs="?", metavar="MODEL_PATH", help="model file or package")
    c.add_argument("--format", choices=_FORMATS, default=None,
                   help="what to print (default table; with --output: what to write, by default"
                        " chosen by the file's extension .json .xml .md)")
    c.add_argument("--output", metavar="FILE", help="also write the matrix to FILE")
    c.add_argument("--baseline", metavar="FILE",
                   help="compare with the matrix stored in FILE; exit 1 on a regression")
    c.add_argument("--update-baseline", action="store_true",
                   help="write this run's matrix to the --baseline FILE")
    c.add_argument("--diff", nargs=2, metavar=("A", "B"),
                   help="distinguishing traces between rows A and B: for each column where one"
                        " violates a property and the other does not, the minimal trace of"
                        " the one replayed under the other, side by side")
    c.add_argument("--max-states", type=positive(int, "a whole number"), metavar="N",
                   help="stop each cell's search after N states (cell undetermined)")
    c.add_argument("--timeout", type=positive(float, "a number of seconds"), metavar="SECONDS",
                   help="stop each cell's search after SECONDS (cell undetermined)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress or timing on stderr")

    m = sub.add_parser(
        "minimize", allow_abbrev=False,
        help="rewrite a trace as the shortest one with the fewest preemptions",
        usage="mcheck minimize TRACE.json [-o OUT.json] [--model PATH] [--max-states N]",
        description="Replay a trace (from any search), then find, among the shortest paths\n"
                    "that violate the same property, one with the fewest preemptions\n"
                    "(switches away from a thread that could still move), and write it as\n"
                    "a trace. Without -o the trace goes to stdout.",
        epilog=MINIMIZE_CODES, formatter_class=raw)
    m.add_argument("trace", metavar="TRACE.json")
    m.add_argument("-o", "--output", metavar="OUT.json", help="write the trace here")
    m.add_argument("--model", metavar="PATH", help="the model (default: the path in the trace)")
    m.add_argument("--max-states", type=positive(int, "a whole number"), metavar="N",
                   help="give up after storing N states")
    return c, m


def run(args: argparse.Namespace, extras: list[str]) -> int:
    """Run ``compare`` or ``minimize``."""
    if args.command == "compare":
        return _compare(args, extras)
    if extras:
        what = "flag" if extras[0].startswith("-") else "argument"
        raise UsageError(f"unknown {what} '{extras[0]}'", "see `mcheck minimize --help`")
    return _minimize(args)


# -- compare ---------------------------------------------------------------------------------


def _matrix(args: argparse.Namespace, extras: list[str]) -> Any:
    from mcheck.cli import _Parser
    from mcheck.compare import Matrix
    from mcheck.loader import load_module

    module = load_module(args.model)
    hook = getattr(module, "mcheck_matrix", None)
    if not callable(hook):
        raise UsageError(f"model '{args.model}' has no matrix: it defines no mcheck_matrix()",
                         "define mcheck_matrix(options) -> mcheck.compare.Matrix in it "
                         "(see README.md, 'Comparing')")
    mparser = _Parser(prog=f"mcheck compare {args.model}", add_help=False, allow_abbrev=False,
                      usage=f"mcheck compare {args.model} [matrix flags] [options]")
    add = getattr(module, "mcheck_matrix_arguments", None)
    if callable(add):
        try:
            add(mparser)
        except Exception as e:
            raise ModelError(f"model module '{args.model}' failed in mcheck_matrix_arguments: "
                             f"{type(e).__name__}: {e}",
                             "fix the model module (MCHECK_DEBUG=1 shows the traceback)") from e
    if args.help:
        sys.stdout.write(args.compare_parser.format_help())
        head, sep, flags = mparser.format_help().partition("options:\n")
        sys.stdout.write(f"\nmatrix flags of the model {args.model}:\n")
        sys.stdout.write(flags if sep and flags.strip() else "  (none)\n")
        return None
    margs, rest = mparser.parse_known_args(extras)
    if rest:
        what = "flag" if rest[0].startswith("-") else "argument"
        raise UsageError(f"unknown {what} '{rest[0]}' for `mcheck compare {args.model}`",
                         f"see `mcheck compare {args.model} --help` for its flags")
    try:
        matrix = hook(vars(margs))
    except ValueError as e:
        raise UsageError(f"{args.model}: {e}",
                         f"see `mcheck compare {args.model} --help`") from e
    except UsageError:
        raise
    except Exception as e:
        raise ModelError(f"model module '{args.model}' raised {type(e).__name__} in "
                         f"mcheck_matrix: {e}",
                         "this is a bug in the model (MCHECK_DEBUG=1 shows the traceback)") from e
    if not isinstance(matrix, Matrix):
        raise UsageError(f"mcheck_matrix() in '{args.model}' returned "
                         f"{type(matrix).__name__}, not a Matrix",
                         "return an mcheck.compare.Matrix")
    return matrix


def _row(matrix: Any, ref: str) -> str:
    if ref in matrix.rows:
        return ref
    key = None
    if matrix.lookup is not None:
        try:
            key = matrix.lookup(ref)
        except ValueError as e:
            raise UsageError(str(e), f"name a {matrix.row_title} of the matrix") from e
    if key is None:
        raise UsageError(f"no {matrix.row_title} '{ref}' in the matrix",
                         f"choose from: {', '.join(matrix.rows)}")
    return key


def _compare(args: argparse.Namespace, extras: list[str]) -> int:
    from mcheck import compare as C

    if args.model is None:
        if args.help:
            sys.stdout.write(args.compare_parser.format_help())
            return 0
        raise UsageError("no model given", "usage: mcheck compare MODEL_PATH [matrix flags] "
                         "[options] (see `mcheck compare --help`)")
    matrix = _matrix(args, extras)
    if matrix is None:
        return 0
    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE",
                         "give the file to write: --baseline FILE --update-baseline")
    if args.diff and (args.baseline or args.output):
        raise UsageError("--diff prints distinguishing traces, not a matrix",
                         "run --baseline/--output without --diff")
    rows = None
    if args.diff:
        a, b = (_row(matrix, r) for r in args.diff)
        if a == b:
            raise UsageError(f"--diff needs two different {matrix.row_title}s, got {a} twice",
                             f"name two {matrix.row_title}s")
        rows = [a, b]
    bounds = Bounds(max_states=args.max_states, timeout=args.timeout)
    try:
        mr = C.run_matrix(matrix, rows=rows, bounds=bounds, keep=bool(args.diff),
                          progress=C.stderr_progress(args.quiet))
    except UsageError:
        raise
    except Exception as e:
        raise ModelError(f"model '{args.model}' raised {type(e).__name__}: {e} (while "
                         "checking the matrix)",
                         "this is a bug in the model (MCHECK_DEBUG=1 shows the traceback)") from e
    out = sys.stdout
    if not args.quiet:
        sys.stderr.write(f"mcheck compare: {len(mr.cells)} cells in {mr.elapsed:.1f}s\n")
    if args.diff:
        a, b = rows  # type: ignore[misc]
        try:
            ds = C.distinguish(mr, a, b, max_states=args.max_states)
        except Exception as e:
            raise ModelError(f"model '{args.model}' raised {type(e).__name__}: {e} (while "
                             "building distinguishing traces)",
                             "this is a bug in the model (MCHECK_DEBUG=1 shows the "
                             "traceback)") from e
        if args.format == "json":
            out.write(C.distinctions_json(ds, a, b))
        else:
            out.write(C.format_distinctions(ds, a, b))
        return 0
    writers = {"table": C.format_table, "markdown": C.format_markdown,
               "junit": C.format_junit,
               "json": lambda m: C.to_json(m, args.model)}
    if args.output:
        ext = os.path.splitext(args.output)[1].lower()
        kind = args.format or _BY_EXTENSION.get(ext, "table")
        _write(args.output, writers[kind](mr), "--output")
        out.write(C.format_table(mr))
    else:
        out.write(writers[args.format or "table"](mr))
    status = 0
    undetermined = any(c.rank is None for c in mr.cells.values())
    if args.baseline:
        old = None
        try:
            old = C.load_baseline(args.baseline)
        except UsageError:
            if not args.update_baseline:
                raise
        if old is not None:
            changes = C.compare(mr, old)
            missing = sum(1 for k in old if k not in mr.cells)
            sys.stdout.write("\n" + C.format_changes(changes, len(mr.cells) - sum(
                1 for ch in changes if ch.kind == "new"), missing))
            if any(ch.kind == "regression" for ch in changes) and not args.update_baseline:
                status = 1
        if args.update_baseline:
            _write(args.baseline, C.to_json(mr, args.model), "--baseline")
            sys.stdout.write(f"wrote the baseline {args.baseline} ({len(mr.cells)} cells)\n")
    elif any(c.matches is False for c in mr.cells.values()):
        status = 1
    if status == 0 and undetermined:
        status = 3
    return status


def _write(file: str, text: str, flag: str) -> None:
    try:
        with open(file, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise UsageError(f"cannot write '{file}': {e.strerror or e}",
                         f"give {flag} a writable path") from e


# -- minimize --------------------------------------------------------------------------------


def minimize_result(model: Model, result: Result, max_states: int | None = None) -> None:
    """Replace each trace of ``result`` by its minimal one (same length, fewest preemptions)."""
    from mcheck.minimize import explain, minimal_path

    for p in result.properties.values():
        if p.path is None:
            continue
        mini = minimal_path(model, p.name, max_states=max_states)
        if mini is not None and len(mini.path) <= len(p.path):
            p.path = mini.path
            p.message = explain(model, p.name, mini.path) or p.message


def _minimize(args: argparse.Namespace) -> int:
    from mcheck.cli import _label, _load_for_trace, _replay
    from mcheck.minimize import SearchLimit, explain, minimal_path
    from mcheck.render import count_preemptions
    from mcheck.trace import Trace

    trace, model = _load_for_trace(args)
    res = _replay(trace, model)
    if not res.reproduced:
        sys.stdout.write(f"{_label(model)}: the trace replays ({len(trace)} steps) but "
                         f"{trace.property} no longer fails at its end: {res.message}; "
                         "nothing to minimise\n")
        return 1
    try:
        mini = minimal_path(model, trace.property, max_states=args.max_states)
    except SearchLimit:
        sys.stdout.write(f"{_label(model)}: --max-states {args.max_states} reached before "
                         f"the minimal depth of {trace.property}\n")
        return 3
    except ValueError as e:
        raise UsageError(str(e), "the trace names a property the model does not have") from e
    except Exception as e:
        raise ModelError(f"model '{model.name}' raised {type(e).__name__}: {e} (while "
                         "minimising)",
                         "this is a bug in the model (MCHECK_DEBUG=1 shows the traceback)") from e
    assert mini is not None  # the trace itself violates the property
    kind = Kind(trace.kind) if trace.kind != "deadlock" else Kind.INVARIANT
    prop = PropertyResult(trace.property, kind, Verdict.VIOLATED, mini.path, 1,
                          explain(model, trace.property, mini.path) or trace.message)
    new = Trace.from_path(model, mini.path, prop, args.model or trace.model_path)
    before = count_preemptions(model, res.path)
    summary = (f"{_label(model)}: {trace.property}: {len(trace)} steps, {before} "
               f"preemption{'s' if before != 1 else ''} -> {len(new)} steps, "
               f"{mini.preemptions} preemption{'s' if mini.preemptions != 1 else ''}")
    if args.output:
        new.save(args.output)
        sys.stdout.write(f"{summary}; wrote {args.output}\n")
    else:
        sys.stdout.write(new.to_json())
        sys.stderr.write(summary + "\n")
    return 0
