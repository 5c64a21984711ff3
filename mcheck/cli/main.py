"""The entry point of the ``mcheck`` command: the parser, signal handling and :func:`main`.

Every error ends with one line on stderr (``mcheck: <cause>; <fix>``) and exit
status 2, never a traceback (set ``MCHECK_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mcheck.cli import check, hooks, matrix, traces
from mcheck.cli.common import (
    EXIT_CODES,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Parser,
    ParserExit,
    refuse_leftover,
)
from mcheck.errors import Terminated, UsageError

__all__ = ["build_parser", "main"]


def _debug() -> bool:
    """Whether ``MCHECK_DEBUG`` asks for tracebacks."""
    return bool(os.environ.get("MCHECK_DEBUG"))


def build_parser() -> Parser:
    """The ``mcheck`` parser with every command; a model's own flags are parsed later."""
    from mcheck import __version__

    top = Parser(
        prog="mcheck", allow_abbrev=False,
        description="mcheck: an explicit-state model checker. Models are Python\n"
                    "modules loaded by path (see README.md, 'The model-module API').",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"mcheck {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    c, e = check.add_parsers(sub)
    traces.add_parsers(sub)
    cmp, _mini = matrix.add_parsers(sub)
    hooks.add_parsers(sub)
    top.set_defaults(check_parser=c, explore_parser=e, compare_parser=cmp)
    return top


def _run(argv: Sequence[str] | None, received: list[int]) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    args.signals_received = received
    if args.command is None:
        raise UsageError("no command given", "use `mcheck check MODEL_PATH`, `mcheck replay "
                         "TRACE.json` or `mcheck show TRACE.json` (see `mcheck --help`)")
    if args.command in ("check", "explore"):
        return check.check_command(args, extras)
    if args.command in ("compare", "minimize"):
        return matrix.run(args, extras)
    if args.command in hooks.HOOKS:
        return hooks.run(args.command, args.model_path, [*args.hook_args, *extras])
    refuse_leftover(extras, "", f"see `mcheck {args.command} --help`")
    if args.command == "replay":
        return traces.replay_command(args)
    return traces.show_command(args)


@contextmanager
def _sigterm_raises(received: list[int]) -> Iterator[None]:
    """While running, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) in the main thread.

    Each signal taken is appended to ``received``, so that a search that
    stopped cleanly on the KeyboardInterrupt (``stopped_by == "interrupt"``)
    still exits 143.  The previous handler comes back afterwards, so calling
    :func:`main` in a process leaves its signal handling as it was.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigterm(signum: int, _where: Any) -> None:
        received.append(signum)
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say(line: str) -> None:
    """Write one line on stderr, whatever state stdout is in."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    try:
        sys.stderr.write(" ".join(line.split()) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _drop_stdout() -> None:
    """After a failed write on stdout: send what is still buffered to /dev/null.

    Otherwise the interpreter's own flush at exit fails again and prints a
    traceback-like "Exception ignored" message.  Only the real stdout is
    redirected (tests that capture ``sys.stdout`` keep theirs).
    """
    if sys.stdout is not sys.__stdout__ or sys.__stdout__ is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _main(argv: Sequence[str] | None, received: list[int]) -> int:
    try:
        status = _run(argv, received)
        sys.stdout.flush()
        return status
    except ParserExit as e:
        return e.status
    except UsageError as e:
        if _debug():
            traceback.print_exception(e.__cause__ or e)
        _say(str(e))
        return e.status
    except KeyboardInterrupt as e:
        if isinstance(e, Terminated) or signal.SIGTERM in received:
            _say("mcheck: terminated by SIGTERM before the command finished; "
                 "give --timeout or --max-states to bound a long search")
            return EXIT_TERMINATED
        _say("mcheck: interrupted by Ctrl-C before the command finished; "
             "give --timeout or --max-states to bound a long search")
        return EXIT_INTERRUPTED
    except SystemExit as e:  # parsers never exit (Parser): this is a model's own code
        if _debug():
            traceback.print_exc()
        call = "sys.exit()" if e.code is None else f"sys.exit({e.code!r})"
        _say(f"mcheck: code loaded by the command (a model, policy or scenario file) called "
             f"{call}; it must not exit: raise an exception instead")
        return EXIT_USAGE
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error of ours.
        _drop_stdout()
        return EXIT_USAGE
    except OSError as e:
        if _debug():
            traceback.print_exc()
        if e.filename is None and e.errno in (errno.ENOSPC, errno.EIO, errno.EFBIG,
                                              errno.EDQUOT, errno.EBADF):
            _drop_stdout()
            _say(f"mcheck: cannot write the output: {e.strerror or e}; "
                 "free space on the device or send the output elsewhere")
        else:
            where = f" ({e.filename})" if e.filename else ""
            _say(f"mcheck: input/output error{where}: {e.strerror or e}; "
                 "check the paths given and the space left on the device")
        return EXIT_USAGE
    except RecursionError as e:
        if _debug():
            traceback.print_exc()
        _say(f"mcheck: an input or a model nests too deeply ({e}); "
             "flatten the data or the model's states")
        return EXIT_USAGE
    except Exception as e:  # a bug of mcheck's own: still one line and status 2
        if _debug():
            traceback.print_exc()
        _say(f"mcheck: internal error: {type(e).__name__}: {e}; this is a bug in mcheck, "
             "please report it with the command line (MCHECK_DEBUG=1 shows the traceback)")
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mcheck`` command; returns the exit status (see ``mcheck --help``).

    Never raises and never prints a traceback (unless ``MCHECK_DEBUG`` is
    set): every error is one line on stderr with status 2, Ctrl-C is status
    130 and SIGTERM 143, each with one line.
    """
    received: list[int] = []
    with _sigterm_raises(received):
        return _main(argv, received)
