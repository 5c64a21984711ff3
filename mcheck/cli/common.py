"""What every command of ``mcheck`` shares: exit statuses, the parser, flag values, names.

The parser turns every argument error into a one-line :class:`UsageError`
(``mcheck: <cause>; <fix>``, exit status 2) and never exits the process.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from mcheck.errors import UsageError
from mcheck.explore import Verdict
from mcheck.fingerprint import digest
from mcheck.model import Model

__all__ = [
    "EXIT_CODES",
    "EXIT_HOLDS",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_UNDETERMINED",
    "EXIT_USAGE",
    "EXIT_VIOLATED",
    "REPLAY_CODES",
    "SEVERITY",
    "STATUS",
    "Parser",
    "ParserExit",
    "refuse_leftover",
    "write_model_help",
    "model_label",
    "positive",
    "trace_file_name",
]

EXIT_HOLDS = 0
EXIT_VIOLATED = 1
EXIT_USAGE = 2
EXIT_UNDETERMINED = 3
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT), as a shell reports it
EXIT_TERMINATED = 143   # SIGTERM

#: The exit status of each verdict.
STATUS = MappingProxyType({Verdict.HOLDS: EXIT_HOLDS, Verdict.VIOLATED: EXIT_VIOLATED,
                           Verdict.UNDETERMINED: EXIT_UNDETERMINED})
#: How bad an exit status is, for the worst of several models.
SEVERITY = MappingProxyType({EXIT_HOLDS: 0, EXIT_UNDETERMINED: 1, EXIT_VIOLATED: 2,
                             EXIT_USAGE: 3})

EXIT_CODES = """\
exit status:
  0  holds: every property holds and the search was exhausted
  1  violated: a counterexample was found (it stands even if a bound cut the search)
  2  usage or input error: bad flag, missing model, corrupt or stale trace,
     or an exception raised by the model's own code (a model bug)
  3  undetermined: a bound (--max-states, --max-depth, --timeout, --max-memory)
     stopped the search before it was exhausted
  130, 143  interrupted by Ctrl-C (SIGINT) or SIGTERM; what was found so far is printed
With several models (e.g. one per scenario) the status is the worst of them:
violated over undetermined over holds."""

REPLAY_CODES = """\
exit status:
  0  the trace replays and its violation (or metric event) happens again
  1  the trace replays step by step but the property no longer fails at the end
  2  the trace cannot be replayed (corrupt file, model changed, action not enabled)"""


class ParserExit(Exception):
    """``--version`` (or a model's own exit-action) finished: end with ``status``.

    :func:`mcheck.cli.main.main` turns it into that exit status.
    """

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one-line :class:`UsageError` s, never exits.

    ``--version`` ends through :class:`ParserExit`, so that a ``SystemExit``
    reaching :func:`main` can only come from a model's own code.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, f"see `{self.prog} --help`")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            sys.stderr.write(message)
        raise ParserExit(status)


def positive(kind: type, what: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that reads ``kind`` (int or float) and refuses anything not
    finite or not above zero; ``what`` names the value expected (e.g. "a whole number")."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{what} expected, got '{text}'") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number above zero, got "
                                             f"'{text}' (leave the flag out for no bound)")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above zero, got '{text}'")
        return value
    parse.__name__ = what
    return parse


def model_label(model: Model) -> str:
    """A model's name and parameters, as the reports head it."""
    params = " ".join(f"{k}={v}" for k, v in model.params().items())
    return f"{model.name} {params}" if params else model.name


def _slug(text: str) -> str:
    """``text`` with each run of characters outside ``A-Za-z0-9._-`` made one ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"


def trace_file_name(model: Model, prop: str) -> str:
    """A deterministic, slug-safe file name for a trace of ``prop`` of ``model``."""
    params = model.params()
    raw = [model.name] + [f"{k}-{v}" for k, v in params.items()] + [prop]
    parts = [_slug(str(x)) for x in raw]
    name = "--".join(parts)
    lossy = any(p != str(x) for p, x in zip(parts, raw, strict=True))
    if lossy or len(name) > 120:
        # The property name stays readable at the end; the digest keeps names apart.
        tail = f"--{parts[-1][:60]}--" \
               f"{digest((model.name, sorted(map(str, params.items())), prop))[:10]}"
        name = "--".join(parts[:-1])[:120 - len(tail)] + tail
    return name + ".json"


def refuse_leftover(rest: list[str], where: str, fix: str) -> None:
    """One line for the first argument nobody parsed: ``unknown flag '--x'{where}``."""
    if rest:
        what = "flag" if rest[0].startswith("-") else "argument"
        raise UsageError(f"unknown {what} '{rest[0]}'{where}", fix)


def write_model_help(command_help: str, model_parser: argparse.ArgumentParser,
                     title: str) -> None:
    """A command's help, then the flags its model module adds under ``title``."""
    sys.stdout.write(command_help)
    _head, sep, flags = model_parser.format_help().partition("options:\n")
    sys.stdout.write(f"\n{title}:\n")
    sys.stdout.write(flags if sep and flags.strip() else "  (none)\n")
