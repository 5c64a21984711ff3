"""The ``check`` and ``explore`` commands of ``mcheck``: search a model's states, report.

``explore`` is ``check`` for a model whose threads pick their operations from
a budget (open search); both take the same options and share one command.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import Any

from mcheck.cli.common import (
    EXIT_CODES,
    EXIT_HOLDS,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    SEVERITY,
    STATUS,
    Parser,
    model_label,
    positive,
    refuse_leftover,
    trace_file_name,
    write_model_help,
)
from mcheck.errors import UsageError, model_bug
from mcheck.explore import Bounds, Result, Verdict, check
from mcheck.loader import add_arguments, build_models, load_module
from mcheck.model import Kind, Model
from mcheck.report import model_doc, print_result, stop_reason, summary_line
from mcheck.store import STORES

__all__ = ["add_parsers", "check_command"]

#: ``Result.stopped_by`` values that mean a signal stopped the search, and the exit status.
_SIGNAL_STOPS = MappingProxyType({"interrupt": EXIT_INTERRUPTED, "terminate": EXIT_TERMINATED})


def _add_check_options(c: argparse.ArgumentParser) -> None:
    c.add_argument("-h", "--help", action="store_true", help="show this help (and the model's "
                   "flags when MODEL_PATH is given) and exit")
    c.add_argument("model", nargs="?", metavar="MODEL_PATH", help="model file or package")
    c.add_argument("--dfs", action="store_true",
                   help="search depth-first (default breadth-first: shortest traces)")
    c.add_argument("--max-states", type=positive(int, "a whole number"), metavar="N",
                   help="stop after storing N distinct states (verdict at most undetermined)")
    c.add_argument("--max-depth", type=positive(int, "a whole number"), metavar="N",
                   help="explore paths of at most N steps")
    c.add_argument("--timeout", type=positive(float, "a number of seconds"),
                   metavar="SECONDS", help="stop each model's search after SECONDS of wall time")
    c.add_argument("--max-memory", type=positive(float, "a number of megabytes"), metavar="MB",
                   help="stop when the process's peak resident memory exceeds MB megabytes")
    c.add_argument("--all", action="store_true",
                   help="go on after a violation: one shortest trace per violated property")
    c.add_argument("--deadlock", action="store_true",
                   help="report a non-final state with no enabled action (property 'deadlock')")
    c.add_argument("--property", action="append", metavar="NAME",
                   help="check only this property (repeatable)")
    c.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    c.add_argument("--export", metavar="DIR",
                   help="write one trace file per violation and per metric witness into DIR")
    c.add_argument("--minimal", action="store_true",
                   help="report, among the shortest traces, one with the fewest preemptions")
    c.add_argument("--store", choices=STORES, default=None,
                   help="visited store: exact states (default with one worker), 64-bit "
                        "fingerprints (about 90-130 bytes a state; prints the collision "
                        "estimate; default with workers), or compact (fingerprints in flat "
                        "arrays, at most 16 bytes a state; default with --mpi)")
    c.add_argument("--workers", type=positive(int, "a whole number"), metavar="N", default=1,
                   help="search with N worker processes (breadth-first; each keeps 1/N of "
                        "the visited set); verdicts, counts and traces are the same at any N")
    c.add_argument("--mpi", action="store_true",
                   help="search on the ranks of mpiexec (`mpiexec -n N mcheck ... --mpi`), "
                        "each owning a slice of the states; needs pip install -e '.[mpi]'")
    c.add_argument("--checkpoint", metavar="DIR",
                   help="write a checkpoint into DIR at level boundaries (every level, or "
                        "see --checkpoint-every); --resume DIR continues the run")
    c.add_argument("--checkpoint-every", type=positive(float, "a number of seconds"),
                   metavar="SECONDS",
                   help="with --checkpoint: write one at the first level boundary after "
                        "SECONDS since the last (default: every level)")
    c.add_argument("--resume", metavar="DIR",
                   help="continue the run checkpointed in DIR, at any number of workers or "
                        "ranks, with the result of an uninterrupted run")
    c.add_argument("--graph", metavar="FILE",
                   help="also write the reachable state graph (.graphml, .gexf or .dot) and "
                        "print its summary: terminal states, cycles (small models only)")
    c.add_argument("--symmetry", choices=("on", "off", "auto"), default="off",
                   help="reduce by the model's declared symmetry once z3 has proved it "
                        "(cached): auto falls back to the full search when the proof fails, "
                        "on makes a failed proof an error (default off)")
    c.add_argument("--reduce", choices=("on", "off", "auto"), default="off",
                   help="partial-order reduction by component footprints that symbolic "
                        "execution proves (cached; BFS in one process): traces are re-derived "
                        "on the full relation; auto falls back to the full search when the "
                        "analysis does not finish, on makes that an error (default off)")
    c.add_argument("--estimate", action="store_true",
                   help="run a sample of the search (10 s, or the bounds given) and print the "
                        "states, time and memory the whole search would take, with ranges")
    c.add_argument("-q", "--quiet", action="store_true",
                   help="no progress on stderr (a bar on a terminal; elsewhere a status line "
                        "every 30 s, or MCHECK_PROGRESS_INTERVAL seconds)")


def add_parsers(sub: Any) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Add ``check`` and ``explore`` to ``sub`` (an argparse sub-parser action); return
    their parsers, which :func:`check_command` prints as help."""
    c = sub.add_parser(
        "check", add_help=False, allow_abbrev=False,
        help="explore a model's states and check its properties",
        usage="mcheck check MODEL_PATH [model flags] [options]",
        description="Explore every reachable state of the models of MODEL_PATH (a .py\n"
                    "file or a package directory) and check their properties. Flags the\n"
                    "model module adds come after MODEL_PATH; `mcheck check MODEL_PATH\n"
                    "--help` lists them.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_check_options(c)
    e = sub.add_parser(
        "explore", add_help=False, allow_abbrev=False,
        help="open search: threads pick operations from a budget (--budget)",
        usage="mcheck explore MODEL_PATH --budget KIND=N,... [model flags] [options]",
        description="Like check, for a model whose threads choose their next operation\n"
                    "from a budget instead of running fixed programs: the search covers\n"
                    "every choice and every interleaving. The model must take --budget.\n\n"
                    "A race between two threads of one process is only found when the\n"
                    "model runs two threads per process (a model's --threads flag, if it\n"
                    "has one: `mcheck explore MODEL_PATH --help` says). With one thread\n"
                    "per process such a race cannot happen, and a HOLDS says nothing\n"
                    "about it.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_check_options(e)
    return c, e


def _check_initial_states(m: Model, label: str) -> None:
    """Refuse a model whose initial states hold something else than plain values."""
    try:
        inits = list(m.initial_states())
    except (Exception, SystemExit) as e:
        raise model_bug(m.name, e, f"in initial_states() of {label}") from e
    if not inits:
        raise UsageError(f"model '{label}' has no initial state",
                         "make initial_states() return at least one state")
    for s in inits:
        bad = _foreign(s)
        if bad is not None:
            raise UsageError(f"an initial state of model '{label}' holds a "
                             f"{type(bad).__name__}, not an int, string or tuple",
                             "build states from ints, bools, strings and tuples only")


def _foreign(value: Any, depth: int = 0) -> Any:
    """The first part of ``value`` that is not a plain state value, or None."""
    if value is None or isinstance(value, (int, str)):
        return None
    if isinstance(value, tuple) and depth < 100:
        for v in value:
            bad = _foreign(v, depth + 1)
            if bad is not None:
                return bad
        return None
    return value


def check_command(args: argparse.Namespace, extras: list[str]) -> int:
    """Run ``check`` or ``explore`` (``args.command``) with the parsed ``args`` and the
    flags left for the model module (``extras``); return the exit status."""
    cmd = args.command
    check_parser = args.explore_parser if cmd == "explore" else args.check_parser
    if args.model is None:
        if args.help:
            sys.stdout.write(check_parser.format_help())
            return EXIT_HOLDS
        raise UsageError("no model given", f"usage: mcheck {cmd} MODEL_PATH [model flags] "
                         f"[options] (see `mcheck {cmd} --help`)")
    module = load_module(args.model)
    mparser = Parser(prog=f"mcheck check {args.model}", add_help=False, allow_abbrev=False,
                      usage=f"mcheck check {args.model} [model flags] [options]")
    add_arguments(module, mparser)
    if args.help:
        write_model_help(check_parser.format_help(), mparser, f"flags of the model {args.model}")
        return EXIT_HOLDS
    margs, rest = mparser.parse_known_args(extras)
    refuse_leftover(rest, f" for model '{args.model}'",
                    f"see `mcheck check {args.model} --help` for its flags")
    if cmd == "explore":
        if "budget" not in vars(margs):
            raise UsageError(f"model '{args.model}' has no open search (it takes no --budget)",
                             f"use `mcheck check {args.model}`")
        if not margs.budget:
            raise UsageError("explore needs a budget",
                             f"give --budget KIND=N,... (see `mcheck explore {args.model} "
                             "--help`)")
    most = max(64, 2 * (os.cpu_count() or 1))
    if args.workers > most:
        raise UsageError(f"--workers {args.workers} is more worker processes than this machine "
                         f"can start usefully", f"give at most {most} (it has "
                         f"{os.cpu_count() or 1} cores)")
    if args.max_memory is not None and int(args.max_memory * 2 ** 20) < 1:
        raise UsageError(f"--max-memory {args.max_memory:g} MB is less than a byte",
                         "give megabytes, e.g. --max-memory 512")
    rank = _distribution(args)
    models = build_models(module, vars(margs), args.model)
    if (args.checkpoint or args.resume) and len(models) != 1:
        flag = "--checkpoint" if args.checkpoint else "--resume"
        raise UsageError(f"{flag} needs one model, the module gave {len(models)}",
                         "narrow it with the model's flags (e.g. --scenario)")
    try:
        bounds = Bounds(max_states=args.max_states, max_depth=args.max_depth,
                        timeout=args.timeout,
                        max_memory=None if args.max_memory is None
                        else int(args.max_memory * 2 ** 20))
    except ValueError as e:  # pragma: no cover - the flag types already refuse these
        raise UsageError(str(e), "give bounds above zero") from e
    wanted = _property_names(models, args.property)
    if args.graph and rank == 0:
        _graph_command(models, args)
    for flag, given in (("--mpi", args.mpi), ("--checkpoint", args.checkpoint),
                        ("--resume", args.resume)):
        if given and args.dfs:
            raise UsageError(f"{flag} does not combine with --dfs",
                             f"drop --dfs: {flag} runs the breadth-first partitioned search")
    partitioned = args.workers > 1 or args.mpi or bool(args.checkpoint or args.resume)
    store = args.store or ("compact" if args.mpi else "fingerprint" if partitioned
                           else "exact")
    if partitioned and store == "exact":
        what = ("the MPI search" if args.mpi else "worker processes" if args.workers > 1
                else "a checkpointed search")
        raise UsageError(f"{what} need{'s' if what != 'worker processes' else ''} the "
                         "fingerprint store (or --store compact)",
                         "drop --store exact" + ("" if args.mpi or args.workers == 1
                                                 else " or use --workers 1"))
    if args.dfs and (args.workers > 1 or store != "exact"):
        raise UsageError("--dfs works with the exact store and one worker only",
                         "drop --dfs, --workers and --store")

    from mcheck.progress import interval_from_env, progress_for
    from mcheck.trace import Trace

    try:
        interval = interval_from_env(os.environ)
    except ValueError as e:
        raise UsageError(str(e), "set it to a number of seconds, e.g. 30, or unset it") from e
    if args.estimate:
        for flag, given in (("--workers", args.workers > 1), ("--dfs", args.dfs),
                            ("--mpi", args.mpi), ("--checkpoint", args.checkpoint),
                            ("--resume", args.resume),
                            ("--json", args.json), ("--all", args.all),
                            ("--export", args.export), ("--minimal", args.minimal)):
            if given:
                raise UsageError(f"--estimate does not combine with {flag}",
                                 f"drop {flag}: the estimate samples a breadth-first search "
                                 "with one worker and prints text")

    status = EXIT_HOLDS
    doc_models: list[dict[str, Any]] = []
    out = sys.stdout
    stopped = 0  # the exit status of a signal that stopped a search (0: none)
    results: list[Result] = []  # of the models checked, for the summary line
    try:
        for i, m in enumerate(models):
            label = model_label(m)
            names = wanted[i]
            if not args.json and i:
                out.write("\n")
            if names is not None and not names and not args.deadlock:
                if args.json:
                    doc_models.append({"model": m.name, "params": dict(m.params()),
                                       "skipped": "it has none of the properties named by "
                                                  "--property"})
                else:
                    out.write(f"{label}: skipped (it has none of the properties named by "
                              "--property)\n")
                continue
            _check_initial_states(m, label)
            canonical, sym = _symmetry(m, args, label)
            reduction, red = _reduction(m, args, label, names)
            progress = progress_for(args.quiet, label=label, interval=interval)
            if args.estimate:
                result = _estimate(m, label, args, bounds, names, canonical, progress)
                results.append(result)
                stopped = _SIGNAL_STOPS.get(str(result.stopped_by), 0)
                code = STATUS[result.verdict]
                if SEVERITY[code] > SEVERITY[status]:
                    status = code
                if stopped:
                    break
                continue
            search_bounds = bounds
            spent = float(sym.get("seconds") or 0) + float(red.get("seconds") or 0)
            if bounds.timeout is not None and spent:
                # --timeout bounds the proof, the footprint analysis and the search together.
                search_bounds = dataclasses.replace(
                    bounds, timeout=max(bounds.timeout - spent, 0.001))
            try:
                result = check(m, strategy="dfs" if args.dfs else "bfs", bounds=search_bounds,
                               stop_at_first=not args.all, deadlock=args.deadlock,
                               properties=names, progress=progress, store=store,
                               workers=args.workers, canonical=canonical,
                               checkpoint=args.checkpoint,
                               checkpoint_every=args.checkpoint_every, resume=args.resume,
                               mpi=args.mpi, reduction=reduction)
            except UsageError:
                raise
            except (Exception, SystemExit) as e:
                raise model_bug(m.name, e, f"while checking {label}") from e
            result.bounds = bounds  # the report names the bound the user gave
            stopped = _SIGNAL_STOPS.get(str(result.stopped_by), 0)
            if stopped and signal.SIGTERM in args.signals_received:
                stopped = EXIT_TERMINATED
            if args.minimal and not stopped:
                from mcheck.cli.matrix import minimize_result

                try:
                    minimize_result(m, result)
                except (Exception, SystemExit) as e:
                    raise model_bug(m.name, e,
                                     f"while minimising the traces of {label}") from e
            results.append(result)
            code = STATUS[result.verdict]
            if SEVERITY[code] > SEVERITY[status]:
                status = code
            warnings = [] if stopped else _vacuity(m, result, names, label)
            try:
                traces: dict[str, Trace] = {}
                for p in result.properties.values():
                    if p.path is not None:
                        traces[p.name] = Trace.from_path(m, p.path, p, args.model)
                exported = (_export(args.export, m, traces) if args.export and rank == 0
                            else {})
                if args.json:
                    doc_models.append(model_doc(m, result, traces, exported,
                                                STATUS[result.verdict]))
                    if warnings:
                        doc_models[-1]["warnings"] = warnings
                    if sym["mode"] != "off":
                        doc_models[-1]["symmetry"] = sym
                    if red["mode"] != "off":
                        doc_models[-1]["reduce"] = _reduce_report(red, reduction)
                else:
                    if canonical is not None:
                        out.write(f"{label}: symmetry {sym['sets']}: {sym['proof']}; states "
                                  "are orbit representatives, traces show the real states\n")
                    if reduction is not None:
                        out.write(f"{label}: reduce: {reduction.describe()}\n")
                    print_result(m, label, result, traces, exported, warnings)
            except (UsageError, OSError):
                raise
            except (Exception, SystemExit) as e:
                raise model_bug(m.name, e, f"while reporting on {label}") from e
            if stopped:
                break
    except KeyboardInterrupt:
        if args.json:  # what was found before the interrupt, as one JSON document
            _write_check_doc(args, bounds, stopped or (
                EXIT_TERMINATED if signal.SIGTERM in args.signals_received
                else EXIT_INTERRUPTED), doc_models, interrupted=True)
        raise
    if args.json:
        _write_check_doc(args, bounds, stopped or status, doc_models, interrupted=bool(stopped))
    elif len(models) > 1 and not args.estimate and results:
        out.write("\n" + summary_line(results, args.all))
    if stopped:
        what = "SIGTERM" if stopped == EXIT_TERMINATED else "Ctrl-C (SIGINT)"
        out.flush()
        raise _Interrupted(stopped, f"interrupted by {what}: the search stopped early and the "
                                    "report is what it found so far",
                           "give --timeout or --max-states to bound a long search")
    return status


def _distribution(args: argparse.Namespace) -> int:
    """Check ``--mpi``, ``--checkpoint*`` and ``--resume``; return this process's rank.

    Under ``--mpi`` every rank but 0 sends its output to /dev/null from here on.
    """
    if args.checkpoint_every is not None and not args.checkpoint:
        raise UsageError("--checkpoint-every needs --checkpoint DIR",
                         "give --checkpoint DIR, or drop --checkpoint-every")
    if args.resume is not None and not FsPath(args.resume).is_dir():
        raise UsageError(f"--resume: no checkpoint directory '{args.resume}'",
                         "give the DIR a run with --checkpoint DIR wrote")
    if args.checkpoint is not None and FsPath(args.checkpoint).exists() \
            and not FsPath(args.checkpoint).is_dir():
        raise UsageError(f"--checkpoint: '{args.checkpoint}' is a file, not a directory",
                         "give a directory (it is created if missing)")
    if not args.mpi:
        return 0
    if args.workers > 1:
        raise UsageError(f"--mpi does not combine with --workers {args.workers}",
                         "drop --workers: under --mpi the ranks are the workers "
                         "(mpiexec -n N)")
    from mcheck.mpi import launched_rank, quiet_unless_first, require_mpi4py

    require_mpi4py()
    rank = launched_rank(os.environ)
    quiet_unless_first(rank)
    return rank


class _Interrupted(UsageError):
    """A signal stopped the search; the report was printed: exit 130 or 143 with one line."""

    def __init__(self, status: int, cause: str, fix: str) -> None:
        super().__init__(cause, fix)
        self.status = status


def _write_check_doc(args: argparse.Namespace, bounds: Bounds, status: int,
                     doc_models: list[dict[str, Any]], *, interrupted: bool) -> None:
    doc = {
        "format": "mcheck-result", "version": 1, "mcheck": _version(),
        "model_path": args.model, "strategy": "dfs" if args.dfs else "bfs",
        "bounds": {"max_states": bounds.max_states, "max_depth": bounds.max_depth,
                   "timeout": bounds.timeout, "max_memory": bounds.max_memory},
        "deadlock": args.deadlock, "all": args.all,
        "status": status, "models": doc_models,
    }
    if interrupted:
        doc["interrupted"] = True
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=True) + "\n")


def _vacuity(m: Model, result: Result, names: list[str] | None, label: str) -> list[str]:
    """Warnings for a HOLDS that tested nothing: one state only, or unexercised properties.

    A property may say where its check tests something (``Property.exercised``);
    when no reachable state or transition of an exhausted search exercised it,
    it holds vacuously.  The states are walked again breadth-first, up to the
    number the search stored, and the walk stops as soon as every such property
    was exercised (usually within a few steps).
    """
    if result.verdict is not Verdict.HOLDS or not result.exhausted:
        return []
    out = []
    if result.states <= 1 and result.transitions == 0:
        out.append("the search reached 1 state and took no transition: every property was "
                   "checked on the initial state alone")
    try:
        props = [p for p in m.properties()
                 if p.exercised is not None and p.kind is not Kind.METRIC
                 and (names is None or p.name in names)]
        missing = _unexercised(m, props, result.states) if props else []
    except (Exception, SystemExit) as e:
        raise model_bug(m.name, e, f"while checking that the properties of {label} were "
                                    "exercised") from e
    for p in props:
        if p.name in missing:
            where = (f"of the {result.states} reachable states" if p.kind is Kind.INVARIANT
                     else f"of the {result.transitions} transitions")
            out.append(f"{p.name} holds vacuously: its check tested nothing in any {where}")
    return out


def _unexercised(m: Model, props: Sequence[Any], limit: int) -> list[str]:
    """Names of ``props`` that no state or transition exercises (``[]`` past ``limit`` states)."""
    from collections import deque

    invariants = {p.name: p.exercised for p in props if p.kind is Kind.INVARIANT}
    transitions = {p.name: p.exercised for p in props if p.kind is Kind.TRANSITION}

    def visit(t: Any) -> None:
        for name in [n for n, ex in invariants.items() if ex(t)]:
            del invariants[name]

    seen: set[Any] = set()
    queue: deque[Any] = deque()
    for s in m.initial_states():
        if s not in seen:
            seen.add(s)
            queue.append(s)
            visit(s)
    while queue and (invariants or transitions):
        s = queue.popleft()
        for a, t in m.successors(s):
            for name in [n for n, ex in transitions.items() if ex(s, a, t)]:
                del transitions[name]
            if t not in seen:
                if len(seen) >= limit:
                    return []  # more states than the search stored: say nothing
                seen.add(t)
                queue.append(t)
                visit(t)
    return sorted([*invariants, *transitions])


def _reduction(m: Model, args: argparse.Namespace, label: str, names: Any
               ) -> tuple[Any, dict[str, Any]]:
    """``--reduce``: the reduction (or None) and what to report (mcheck.reduce.prepare)."""
    from mcheck.reduce import prepare

    if args.reduce == "off":
        return None, {"mode": "off"}
    if args.estimate:
        raise UsageError("--estimate samples the full search, not a reduced one",
                         "drop --estimate or --reduce")
    if args.dfs or args.workers > 1 or args.mpi or args.checkpoint or args.resume:
        raise UsageError("--reduce runs a breadth-first search in one process",
                         "drop --dfs, --workers, --mpi, --checkpoint and --resume, or use "
                         "--reduce off")

    def say(line: str) -> None:
        sys.stderr.write(f"{label}: {line}\n")

    try:
        return prepare(m, args.reduce, names, say=say, budget=args.timeout)
    except UsageError:
        raise
    except Exception as e:
        raise model_bug(m.name, e, f"while analysing the footprints of {label}") from e


def _reduce_report(info: dict[str, Any], reduction: Any) -> dict[str, Any]:
    """``--json``'s report of a reduction: the analysis and what the search did."""
    out = dict(info)
    if reduction is not None:
        st = reduction.stats
        out.update(reduced_states=st.reduced, full_states=st.full, proviso=st.proviso,
                   gave_up=st.gave_up)
    return out


def _symmetry(m: Model, args: argparse.Namespace, label: str) -> tuple[Any, dict[str, Any]]:
    """``--symmetry``: the canonicaliser (or None) and what to report (mcheck.symmetry.prepare)."""
    from mcheck.symmetry import prepare

    def say(line: str) -> None:
        sys.stderr.write(f"{label}: {line}\n")

    try:
        return prepare(m, args.symmetry, say=say, workers=args.workers, budget=args.timeout)
    except UsageError:
        raise
    except Exception as e:
        raise model_bug(m.name, e, f"while preparing the symmetry of {label}") from e


def _graph_command(models: Sequence[Model], args: argparse.Namespace) -> None:
    from mcheck.graph import state_graph, summary, write_graph

    if len(models) != 1:
        raise UsageError(f"--graph needs one model, the module gave {len(models)}",
                         "narrow it with the model's flags (e.g. --scenario)")
    [m] = models
    try:
        g = state_graph(m, args.max_states or 100_000)
    except ValueError as e:
        raise UsageError(str(e), "see `mcheck check --help` for --graph") from e
    except (Exception, SystemExit) as e:
        raise model_bug(m.name, e, "while building the state graph") from e
    try:
        write_graph(g, args.graph)
    except ValueError as e:
        raise UsageError(str(e), "see `mcheck check --help` for --graph") from e
    except OSError as e:
        raise UsageError(f"cannot write {args.graph}: {e.strerror or e}",
                         "give --graph a writable path") from e
    info = summary(g)
    sys.stdout.write(f"graph {args.graph}: " + ", ".join(
        f"{k} {v}" for k, v in info.items()) + "\n")


def _version() -> str:
    from mcheck import __version__

    return __version__


def _property_names(models: Sequence[Model],
                    wanted: Sequence[str] | None) -> list[list[str] | None]:
    """Per model, the names of ``--property`` it has (None: all of its properties).

    A name that no model has is a usage error.
    """
    if not wanted:
        return [None] * len(models)
    known = [[p.name for p in m.properties()] for m in models]
    for name in wanted:
        if not any(name in k for k in known):
            every = sorted({n for k in known for n in k})
            where = (f"model '{model_label(models[0])}' has no" if len(models) == 1
                     else f"none of the {len(models)} models has a")
            raise UsageError(f"{where} property '{name}'",
                             f"choose from: {', '.join(every) or '(none)'}")
    return [[n for n in k if n in wanted] for k in known]


def _export(directory: str, m: Model, traces: dict[str, Any]) -> dict[str, str]:
    d = FsPath(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create export directory '{directory}': {e.strerror or e}",
                         "choose a writable directory for --export") from e
    out = {}
    for name, trace in traces.items():
        f = d / trace_file_name(m, name)
        trace.save(f)
        out[name] = str(f)
    return out


def _estimate(m: Model, label: str, args: argparse.Namespace, bounds: Bounds,
              names: list[str] | None, canonical: Any, progress: Any) -> Result:
    """``--estimate``: sample the search of ``m`` and print what the whole search would cost."""
    from mcheck.estimate import (
        DEFAULT_SAMPLE_SECONDS,
        LevelRecorder,
        extrapolate,
        format_estimate,
    )
    from mcheck.explore import peak_rss

    given = any(x is not None for x in (bounds.max_states, bounds.max_depth, bounds.timeout,
                                        bounds.max_memory))
    sample = bounds if given else Bounds(timeout=DEFAULT_SAMPLE_SECONDS)
    recorder = LevelRecorder(progress)
    before = peak_rss()
    try:
        result = check(m, bounds=sample, stop_at_first=False, deadlock=args.deadlock,
                       properties=names, progress=recorder, store=args.store or "exact",
                       canonical=canonical)
    except UsageError:
        raise
    except (Exception, SystemExit) as e:
        raise model_bug(m.name, e, f"while sampling {label}") from e
    if result.stopped_by == "violation":  # every property violated: the search ends there
        sys.stdout.write(f"{label}: the sample violated every property after {result.states} "
                         f"states, {result.elapsed:.2f}s; the search ends there too, so there "
                         "is nothing to extrapolate\n")
        return result
    est = extrapolate(recorder.levels, result.states, result.elapsed,
                      exhausted=result.exhausted, rss_before=before, rss_after=peak_rss())
    how = (f"a sample of {DEFAULT_SAMPLE_SECONDS:g}s" if result.stopped_by == "time"
           and not given else stop_reason(result))
    sys.stdout.write(format_estimate(label, est, how))
    found = sorted(p.name for p in result.properties.values()
                   if p.verdict is Verdict.VIOLATED)
    if found:
        sys.stdout.write(f"  the sample already found a violation of {', '.join(found)}: "
                         "run without --estimate for the trace\n")
    return result
