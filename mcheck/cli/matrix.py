"""The ``compare`` and ``minimize`` commands of ``mcheck``: a matrix of models, and a trace
rewritten as the shortest one with the fewest preemptions.

Errors follow the rule of the whole command line: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from types import MappingProxyType
from typing import Any

from mcheck.cli.common import positive, refuse_leftover, write_model_help
from mcheck.errors import ModelError, UsageError
from mcheck.explore import Bounds, PropertyResult, Result, Verdict
from mcheck.model import Kind, Model

__all__ = ["COMPARE_CODES", "MINIMIZE_CODES", "add_parsers", "minimize_result", "run"]

COMPARE_CODES = """\
exit status:
  0  no regression against --baseline (without it: every cell with an expected
     verdict has it)
  1  against --baseline: a cell regressed (its verdict got worse or one of its
     counts grew), changed to a letter that cannot be ranked against the old
     one, or (unless --allow-new) is new or missing: a row, column or cell on
     one side only; each is listed on its own line. Without --baseline: a
     cell differs from its expected verdict
  2  usage or input error: bad flag, unknown row or column, a baseline that is
     unreadable, of another model, or inconsistent (checked before the matrix
     runs)
  3  a cell is undetermined (a bound stopped its search) and nothing failed
A state count that changed is listed but never fails the run (the test suite
pins the exact counts)."""

MINIMIZE_CODES = """\
exit status:
  0  the minimal trace was written
  1  the given trace replays but its violation no longer happens
  2  the trace cannot be read or replayed
  3  --max-states was reached before the minimal depth"""

_FORMATS = ("table", "markdown", "json", "junit", "ktap")
_BY_EXTENSION = MappingProxyType({".json": "json", ".xml": "junit", ".md": "markdown",
                                  ".markdown": "markdown", ".ktap": "ktap", ".tap": "ktap"})
#: Formats that draw the race diagram of a failing cell (the run keeps its results).
_DRAWN = frozenset({"junit", "ktap"})


def add_parsers(sub: Any) -> tuple[argparse.ArgumentParser, ...]:
    """Add ``compare`` and ``minimize`` to the subcommands ``sub`` of the top parser."""
    raw = argparse.RawDescriptionHelpFormatter
    c = sub.add_parser(
        "compare", add_help=False, allow_abbrev=False,
        help="check a matrix of models (e.g. policies x scenarios), compare with a baseline",
        usage="mcheck compare MODEL_PATH [matrix flags] [options]",
        description="Check every cell of the matrix that MODEL_PATH's mcheck_matrix() hook\n"
                    "describes and print it as a table (or Markdown, JSON, JUnit XML, KTAP).\n"
                    "Flags the hook adds (rows, columns) come after MODEL_PATH; `mcheck\n"
                    "compare MODEL_PATH --help` lists them.",
        epilog=COMPARE_CODES, formatter_class=raw)
    c.add_argument("-h", "--help", action="store_true",
                   help="show this help (and the matrix flags when MODEL_PATH is given)")
    c.add_argument("model", nargs="?", metavar="MODEL_PATH", help="model file or package")
    c.add_argument("--format", choices=_FORMATS, default=None,
                   help="what to print (default table; with --output: what to write, by default"
                        " chosen by the file's extension .json .xml .md .ktap); junit and ktap"
                        " draw the race diagram of each failing cell; json with --baseline"
                        " holds the comparison in its field 'baseline'")
    c.add_argument("--output", metavar="FILE", help="also write the matrix to FILE")
    c.add_argument("--baseline", metavar="FILE",
                   help="compare with the matrix stored in FILE (read and checked before"
                        " anything runs); exit 1 on a regression or a new or missing cell")
    c.add_argument("--update-baseline", action="store_true",
                   help="write this run's matrix to the --baseline FILE")
    c.add_argument("--allow-new", action="store_true",
                   help="with --baseline: list rows, columns and cells that are new or missing"
                        " in the baseline without failing the run")
    c.add_argument("--baseline-row", action="append", type=_row_pair, default=None,
                   metavar="ROW=BASELINE_ROW",
                   help="with --baseline: compare this run's ROW with the baseline's"
                        " BASELINE_ROW (a renamed or user-defined row, e.g. mine=base);"
                        " repeatable")
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


def _row_pair(text: str) -> tuple[str, str]:
    new, sep, old = text.partition("=")
    if not sep or not new.strip() or not old.strip():
        raise argparse.ArgumentTypeError(f"expected ROW=BASELINE_ROW, got {text!r}")
    return new.strip(), old.strip()


def run(args: argparse.Namespace, extras: list[str]) -> int:
    """Run ``compare`` or ``minimize``."""
    if args.command == "compare":
        return _compare(args, extras)
    refuse_leftover(extras, "", "see `mcheck minimize --help`")
    return _minimize(args)


# -- compare ---------------------------------------------------------------------------------


def _matrix(args: argparse.Namespace, extras: list[str]) -> Any:
    from mcheck.compare import Matrix
    from mcheck.loader import load_module

    module = load_module(args.model)
    hook = getattr(module, "mcheck_matrix", None)
    if not callable(hook):
        raise UsageError(f"model '{args.model}' has no matrix: it defines no mcheck_matrix()",
                         "define mcheck_matrix(options) -> mcheck.compare.Matrix in it "
                         "(see README.md, 'Comparing')")
    # the matrix flags get a parser of the compare parser's own class (one-line errors)
    mparser = type(args.compare_parser)(
        prog=f"mcheck compare {args.model}", add_help=False, allow_abbrev=False,
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
        write_model_help(args.compare_parser.format_help(), mparser,
                         f"matrix flags of the model {args.model}")
        return None
    margs, rest = mparser.parse_known_args(extras)
    refuse_leftover(rest, f" for `mcheck compare {args.model}`",
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

    def default() -> Any:
        """The matrix of the model's default selection (no matrix flags), or None."""
        try:
            d = hook(vars(mparser.parse_known_args([])[0]))
        except Exception:
            return None
        return d if isinstance(d, Matrix) else None

    return matrix, default


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


def _row_map(matrix: Any, baseline: Any, pairs: list[tuple[str, str]]) -> dict[str, str]:
    """``--baseline-row NEW=OLD`` as a map, each side checked against its matrix."""
    out: dict[str, str] = {}
    for new, old in pairs:
        if new not in matrix.rows:
            raise UsageError(f"--baseline-row {new}={old}: this run has no "
                             f"{matrix.row_title} '{new}'",
                             f"choose from the run's {matrix.row_title}s: "
                             f"{', '.join(matrix.rows)}")
        if new in out:
            raise UsageError(f"--baseline-row names {matrix.row_title} '{new}' twice "
                             f"({new}={out[new]} and {new}={old})",
                             f"compare each {matrix.row_title} with one baseline "
                             f"{matrix.row_title}")
        if baseline is not None and old not in baseline.rows:
            raise UsageError(f"--baseline-row {new}={old}: the baseline "
                             f"'{baseline.file}' has no {matrix.row_title} '{old}'",
                             f"choose from its {matrix.row_title}s: "
                             f"{', '.join(baseline.rows)}")
        out[new] = old
    return out


def _knows(args: argparse.Namespace, matrix: Any, default_matrix: Any) -> tuple[Any, Any]:
    """Whether the model still knows a row or column of the baseline that the run did not
    select: it is in the model's default selection, or (rows) its ``lookup`` finds it."""
    cache: list[Any] = []

    def default() -> Any:
        if not cache:
            cache.append(default_matrix())
        return cache[0]

    def knows_row(row: str) -> bool:
        d = default()
        if d is None or row in d.rows:
            return True
        if matrix.lookup is None:
            return False
        try:
            return bool(matrix.lookup(row) == row)
        except (ValueError, KeyError, LookupError, UsageError):
            return False
        except Exception as e:
            raise ModelError(f"model '{args.model}' raised {type(e).__name__} in the matrix's "
                             f"lookup({row!r}): {e}",
                             "this is a bug in the model (MCHECK_DEBUG=1 shows the "
                             "traceback)") from e

    def knows_column(column: str) -> bool:
        d = default()
        return d is None or column in d.columns

    return knows_row, knows_column


def _compare(args: argparse.Namespace, extras: list[str]) -> int:
    from mcheck import compare as C

    if args.model is None:
        if args.help:
            sys.stdout.write(args.compare_parser.format_help())
            return 0
        raise UsageError("no model given", "usage: mcheck compare MODEL_PATH [matrix flags] "
                         "[options] (see `mcheck compare --help`)")
    made = _matrix(args, extras)
    if made is None:
        return 0
    matrix, default_matrix = made
    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE",
                         "give the file to write: --baseline FILE --update-baseline")
    if (args.allow_new or args.baseline_row) and not args.baseline:
        flag = "--allow-new" if args.allow_new else "--baseline-row"
        raise UsageError(f"{flag} needs --baseline FILE",
                         "give the baseline to compare with: --baseline FILE")
    if args.diff and (args.baseline or args.output):
        raise UsageError("--diff prints distinguishing traces, not a matrix",
                         "run --baseline/--output without --diff")
    if args.diff and args.format not in (None, "table", "json"):
        raise UsageError(f"--diff prints distinguishing traces as text or JSON, not as "
                         f"{args.format}", "drop --format, or give --format json")
    # The baseline is read and validated before anything runs: a bad one fails fast.
    # --update-baseline overwrites a corrupt or stale file, but not a directory, nor the
    # valid baseline of another model (a wrong path would destroy it).
    old = None
    if args.baseline:
        if args.update_baseline and os.path.isdir(args.baseline):
            raise UsageError(f"cannot write the baseline '{args.baseline}': it is a directory",
                             "give --baseline a file path")
        try:
            old = C.load_baseline(args.baseline, model_path=args.model,
                                  name=None if args.update_baseline else matrix.name)
        except UsageError:
            if not args.update_baseline:
                raise
        if old is not None and old.name != matrix.name:
            raise UsageError(f"--update-baseline would overwrite '{args.baseline}', the "
                             f"baseline of the model {old.name!r}, with one of {matrix.name!r}",
                             "give --baseline another path, or delete the file first")
    row_map = _row_map(matrix, old, args.baseline_row or [])
    rows = None
    if args.diff:
        a, b = (_row(matrix, r) for r in args.diff)
        if a == b:
            raise UsageError(f"--diff needs two different {matrix.row_title}s, got {a} twice",
                             f"name two {matrix.row_title}s")
        rows = [a, b]
    bounds = Bounds(max_states=args.max_states, timeout=args.timeout)
    kind = args.format or "table"
    if args.output:
        ext = os.path.splitext(args.output)[1].lower()
        kind = args.format or _BY_EXTENSION.get(ext, "table")
    try:
        mr = C.run_matrix(matrix, rows=rows, bounds=bounds,
                          keep=bool(args.diff) or kind in _DRAWN,
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
    # The comparison comes first: the JSON document carries it inside.
    cmp = None
    not_compared = ""
    if old is not None:
        knows_row, knows_column = _knows(args, matrix, default_matrix)
        try:
            cmp = C.compare(mr, old, row_map=row_map, knows_row=knows_row,
                            knows_column=knows_column)
        except UsageError as e:
            if not args.update_baseline:
                raise
            not_compared = e.cause  # the classifier changed: the update is what was asked for
    fails = cmp is not None and cmp.fails(args.allow_new) and not args.update_baseline
    hint = ""
    if fails and cmp is not None and not cmp.fails(allow_new=True):
        hint = (f"new and missing rows, columns and cells fail the run: compare a renamed "
                f"{matrix.row_title} with --baseline-row NEW=OLD, or accept them with "
                "--allow-new\n")
    comparison = None
    if old is not None or (args.baseline and not_compared):
        comparison = C.comparison_json(cmp, args.baseline, allow_new=args.allow_new,
                                       not_compared=not_compared)

    def text(form: str) -> str:
        try:
            if form == "json":
                return C.to_json(mr, args.model, comparison)
            return {"table": C.format_table, "markdown": C.format_markdown,
                    "junit": C.format_junit, "ktap": C.format_ktap}[form](mr)
        except UsageError:
            raise
        except Exception as e:
            raise ModelError(f"model '{args.model}' raised {type(e).__name__}: {e} (while "
                             f"drawing the matrix as {form})",
                             "this is a bug in the model (MCHECK_DEBUG=1 shows the "
                             "traceback)") from e

    # JSON and KTAP on stdout are documents for machines: the comparison's lines go to
    # stderr (JSON holds them inside; KTAP's plan must not be followed by other text).
    printed = "table" if args.output else kind
    if args.output:
        _write(args.output, text(kind), "--output")
    out.write(text(printed))
    notes = sys.stderr if printed in ("json", "ktap") else out
    if args.baseline and not (notes is sys.stderr and args.quiet):
        if cmp is not None:
            notes.write(("" if notes is sys.stderr else "\n") + C.format_changes(cmp))
        elif not_compared:
            notes.write(f"{'' if notes is sys.stderr else chr(10)}baseline: not compared: "
                        f"{not_compared}\n")
        notes.write(hint)
    status = 0
    undetermined = any(c.rank is None for c in mr.cells.values())
    if args.baseline:
        if fails:
            status = 1
        if args.update_baseline:
            _write(args.baseline, C.to_json(mr, args.model), "--baseline")
            notes.write(f"wrote the baseline {args.baseline} ({len(mr.cells)} cells)\n")
    elif any(c.matches is False for c in mr.cells.values()):
        status = 1
    if status == 0 and undetermined:
        status = 3
    return status


def _write(file: str, text: str, flag: str) -> None:
    try:
        with open(file, "w", encoding="utf-8") as f:
            f.write(text)
    except (OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise UsageError(f"cannot write {file!r}: {why}", f"give {flag} a writable path") from e


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
    from mcheck.cli.common import model_label
    from mcheck.cli.traces import load_for_trace, replay_trace
    from mcheck.minimize import SearchLimit, explain, minimal_path
    from mcheck.render import count_preemptions
    from mcheck.trace import Trace

    trace, model = load_for_trace(args)
    res = replay_trace(trace, model)
    if not res.reproduced:
        sys.stdout.write(f"{model_label(model)}: the trace replays ({len(trace)} steps) but "
                         f"{trace.property} no longer fails at its end: {res.message}; "
                         "nothing to minimise\n")
        return 1
    try:
        mini = minimal_path(model, trace.property, max_states=args.max_states)
    except SearchLimit:
        sys.stdout.write(f"{model_label(model)}: --max-states {args.max_states} reached before "
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
    summary = (f"{model_label(model)}: {trace.property}: {len(trace)} steps, {before} "
               f"preemption{'s' if before != 1 else ''} -> {len(new)} steps, "
               f"{mini.preemptions} preemption{'s' if mini.preemptions != 1 else ''}")
    if args.output:
        new.save(args.output)
        sys.stdout.write(f"{summary}; wrote {args.output}\n")
    else:
        sys.stdout.write(new.to_json())
        sys.stderr.write(summary + "\n")
    return 0
