"""Commands a model module brings itself: ``mcheck list``, ``reproduce``, ``conform``, ``report``.

The engine cannot know how a model's operations map onto the real system it
abstracts; the model module can.  A model module may define

* ``mcheck_list(argv, prog) -> int``: print the names its flags take (its
  named configurations, fixed programs and their allowed values);
* ``mcheck_reproduce(argv, prog) -> int``: write a program that drives the
  real system through one of the model's scenarios or traces;
* ``mcheck_conform(argv, prog) -> int``: build and run such programs on this
  machine and compare each outcome with the model's verdict;
* ``mcheck_report(argv, prog) -> int``: write a document generated from the
  model's own checks.

``mcheck reproduce MODEL_PATH ARGS...`` loads the module and hands it
``ARGS`` and a program name for its messages; the hook returns the exit
status.  A hook reports bad input by raising ValueError, which becomes the
usual one-line error with exit status 2; any other exception (or a
``sys.exit()``) is a bug in the model, named as such.
"""

from __future__ import annotations

import argparse
from types import MappingProxyType
from typing import Any

from mcheck.errors import UsageError, model_bug
from mcheck.loader import load_module

__all__ = ["HOOKS", "add_parsers", "run"]

#: Command -> (the module attribute that provides it, what it does).
HOOKS = MappingProxyType({
    "list": ("mcheck_list", "list the names a model offers: its configurations, programs and "
                            "their allowed values"),
    "reproduce": ("mcheck_reproduce",
                  "write a program that drives the real system through a scenario or trace"),
    "conform": ("mcheck_conform",
                "run the model's programs on this machine and compare with its verdicts"),
    "report": ("mcheck_report", "write a document the model generates from its own checks"),
})


def add_parsers(sub: Any) -> None:
    """Add one sub-command per hook to ``sub`` (an argparse sub-parser action)."""
    for command, (attr, what) in HOOKS.items():
        p = sub.add_parser(
            command, add_help=False, allow_abbrev=False, help=what,
            usage=f"mcheck {command} MODEL_PATH [the model's {command} flags]",
            description=f"{what[0].upper()}{what[1:]}. The model module provides the "
                        f"command ({attr}); `mcheck {command} MODEL_PATH --help` lists its "
                        "flags.")
        p.add_argument("model_path", metavar="MODEL_PATH")
        p.add_argument("hook_args", nargs=argparse.REMAINDER)


def run(command: str, model_path: str, argv: list[str]) -> int:
    """Run ``command`` of the model module at ``model_path`` with ``argv``."""
    attr, _what = HOOKS[command]
    module = load_module(model_path)
    hook = getattr(module, attr, None)
    if hook is None:
        raise UsageError(f"the model module '{model_path}' has no `{attr}`",
                         f"`mcheck {command}` needs a model module that defines "
                         f"{attr}(argv, prog)")
    try:
        status = hook(list(argv), f"mcheck {command} {model_path}")
    except ValueError as e:
        raise UsageError(f"{model_path}: {e}", f"see `mcheck {command} {model_path} --help`") \
            from e
    except OSError:
        raise  # writing the output failed (a closed pipe, a full disk): not the model's bug
    except (Exception, SystemExit) as e:
        raise model_bug(model_path, e, f"in its {attr}") from e
    if isinstance(status, bool) or not isinstance(status, int):
        raise UsageError(f"{attr} of '{model_path}' returned {status!r}, not an exit status",
                         "return an int from the hook")
    return status
