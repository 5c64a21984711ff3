"""The ``replay`` and ``show`` commands of ``mcheck``: re-derive a trace through its model,
re-check its violation, and draw it with one lane per thread."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path as FsPath
from typing import Any

from mcheck.cli.common import REPLAY_CODES, model_label
from mcheck.errors import UsageError, model_bug
from mcheck.loader import model_from_params
from mcheck.model import Model

__all__ = ["add_parsers", "load_for_trace", "replay_command", "replay_trace", "show_command"]


def add_parsers(sub: Any) -> None:
    """Add ``replay`` and ``show`` to ``sub`` (an argparse sub-parser action)."""
    r = sub.add_parser(
        "replay", allow_abbrev=False, help="replay a trace and re-check its violation",
        description="Rebuild the model a trace records, re-derive every state of the\n"
                    "trace through the model's actions and step function, and re-check\n"
                    "the violation at its end.",
        epilog=REPLAY_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("trace", metavar="TRACE.json")
    r.add_argument("--model", metavar="PATH", help="the model (default: the path in the trace)")
    r.add_argument("--policy", metavar="FILE", dest="source",
                   help="use FILE instead of the policy or scenario file the trace recorded")

    s = sub.add_parser(
        "show", allow_abbrev=False, help="render a trace, one lane per thread",
        description="Replay a trace and print it with one lane per thread and the\n"
                    "state fields each step changed.",
        epilog=REPLAY_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("trace", metavar="TRACE.json")
    s.add_argument("--model", metavar="PATH", help="the model (default: the path in the trace)")
    s.add_argument("--policy", metavar="FILE", dest="source",
                   help="use FILE instead of the policy or scenario file the trace recorded")
    s.add_argument("--json", action="store_true", help="print the steps as one JSON document")
    s.add_argument("--lanes", action="store_true",
                   help="print the generic lanes even when the model draws its own diagram")
    s.add_argument("--svg", metavar="OUT.svg", help="also write the trace as an SVG picture")
    s.add_argument("--cpus", action="store_true",
                   help="head the lanes CPU 0, CPU 1, ... with the thread names under them")
    s.add_argument("--no-state", action="store_true",
                   help="leave out the lines of state each step changed")


def load_for_trace(args: argparse.Namespace) -> tuple[Any, Model]:
    """The trace ``args.trace`` and the model it records (or ``args.model``)."""
    from mcheck.trace import load

    trace = load(args.trace, source=getattr(args, "source", None))
    given = args.model or trace.model_path
    try:
        model = model_from_params(given, trace.params)
    except UsageError as e:
        if args.model is None and not FsPath(given).exists():
            raise UsageError(f"the trace's model '{given}' is not there",
                             "pass --model PATH to say where the model is") from e
        raise
    return trace, model


def replay_trace(trace: Any, model: Model) -> Any:
    """Replay ``trace`` through ``model``; a model's exception is a one-line ModelError."""
    from mcheck.trace import replay

    try:
        return replay(model, trace)
    except UsageError:
        raise
    except (Exception, SystemExit) as e:
        raise model_bug(model.name, e, "while replaying the trace") from e


def _label(trace: Any, model: Model, args: argparse.Namespace) -> str:
    """The model's label as the trace recorded it: a user file read from the trace's own copy
    (it moved, or this is another machine) is named by its recorded path, not the copy's."""
    recorded = getattr(trace, "recorded_params", None)
    if recorded is None or getattr(args, "source", None) is not None:
        return model_label(model)
    params = " ".join(f"{k}={v}" for k, v in recorded.items())
    return f"{model.name} {params}" if params else model.name


def replay_command(args: argparse.Namespace) -> int:
    """``mcheck replay``: 0 when the trace's violation happens again, 1 when it no longer
    does (a model's exception or a trace that does not fit is a UsageError, exit 2)."""
    trace, model = load_for_trace(args)
    res = replay_trace(trace, model)
    outcome = "VIOLATED" if trace.kind != "metric" else "event"
    if res.reproduced:
        msg = f": {res.message}" if res.message else ""
        sys.stdout.write(f"{_label(trace, model, args)}: {trace.property} {outcome} again after "
                         f"{len(trace)} steps{msg}\n")
        return 0
    sys.stdout.write(f"{_label(trace, model, args)}: the trace replays ({len(trace)} steps) but "
                     f"{trace.property} is not {outcome.lower()} at its end: {res.message}\n")
    return 1


def show_command(args: argparse.Namespace) -> int:
    """``mcheck show``: print the replayed trace (the model's own diagram, the generic lanes
    or JSON) and write its SVG; 0 when its violation happens again, else 1."""
    from mcheck.render import count_preemptions, own_diagram, render, steps

    trace, model = load_for_trace(args)
    res = replay_trace(trace, model)
    try:
        if args.json:
            doc = {
                "trace": trace.to_dict(), "reproduced": res.reproduced,
                "preemptions": count_preemptions(model, res.path),
                "steps": [{"step": s.index, "thread": s.thread, "action": s.action,
                           "lines": list(s.lines), "preemption": s.preemption}
                          for s in steps(model, res.path)],
            }
            sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=True) + "\n")
        else:
            msg = f": {trace.message}" if trace.message else ""
            what = "witness" if trace.kind == "metric" else "VIOLATED"
            footer = None if res.reproduced else f"note: {res.message}"
            title = f"{_label(trace, model, args)}: {trace.property} {what}{msg}"
            own = None if args.lanes else own_diagram(
                model, res.path, trace.property, res.message or trace.message,
                cpus=args.cpus, state=not args.no_state)
            if own is not None:
                sys.stdout.write(own + (f"{footer}\n" if footer else ""))
            else:
                sys.stdout.write(render(model, res.path, footer=footer, title=title,
                                        cpus=args.cpus, state=not args.no_state))
            if args.svg:
                from mcheck.svg import render_svg

                text = render_svg(model, res.path, title=title, footer=footer,
                                  mark=f"{trace.property} {what.lower()}")
                try:
                    with open(args.svg, "w", encoding="ascii") as f:
                        f.write(text)
                except OSError as e:
                    raise UsageError(f"cannot write '{args.svg}': {e.strerror or e}",
                                     "give --svg a writable path") from e
    except UsageError:
        raise
    except (Exception, SystemExit) as e:
        raise model_bug(model.name, e, "while rendering the trace") from e
    return 0 if res.reproduced else 1
