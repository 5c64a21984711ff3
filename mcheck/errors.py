"""Errors that end a command with exit status 2 and one line: ``mcheck: <cause>; <fix>``.

Every error a user can cause (a bad flag, a missing model, a corrupt trace, a
model that raises) is a :class:`UsageError`; the command line prints its one
line on stderr, never a traceback, and exits with :attr:`UsageError.status`.
"""

from __future__ import annotations

__all__ = ["ModelError", "Terminated", "UsageError", "model_bug"]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class UsageError(Exception):
    """A usage or input error: exit status 2, one line naming the cause and the fix.

    Parameters
    ----------
    cause:
        What is wrong, for people (no leading ``mcheck:``).
    fix:
        What to do about it; may be empty when the cause says it all.
    """

    status = 2

    def __init__(self, cause: str, fix: str = "") -> None:
        self.cause = _one_line(cause)
        self.fix = _one_line(fix)
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.fix:
            return f"mcheck: {self.cause}; {self.fix}"
        return f"mcheck: {self.cause}"


class ModelError(UsageError):
    """An exception raised by a model's own code: a bug in the model, not in mcheck."""


class Terminated(KeyboardInterrupt):
    """Raised by ``mcheck``'s SIGTERM handler: exit status 143 with one line.

    A :class:`KeyboardInterrupt`, so code that stops cleanly on Ctrl-C (and
    returns what it found so far) stops the same way on SIGTERM.
    """


def model_bug(model_name: str, e: BaseException, when: str) -> ModelError:
    """The one-line error for an exception (or a ``sys.exit()``) of a model's own code."""
    if isinstance(e, SystemExit):
        call = "sys.exit()" if e.code is None else f"sys.exit({e.code!r})"
        err = ModelError(f"model '{model_name}' called {call} ({when})",
                         "a model must not exit: raise an exception instead")
    else:
        err = ModelError(f"model '{model_name}' raised {type(e).__name__}: {e} ({when})",
                         "this is a bug in the model (MCHECK_DEBUG=1 shows the traceback)")
    err.__cause__ = e
    return err
