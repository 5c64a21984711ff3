"""Interrupts during a proof: SIGINT/SIGTERM act at the proof's safe points.

Raised anywhere, an interrupt could leave a z3 object half made, whose
finaliser then prints a traceback at exit; so while a proof runs, a signal is
noted and acted on at the next path or z3 query.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["deliver_deferred", "signals_at_safe_points", "signals_now", "worker_signals"]


class _Deferred:
    """A SIGINT/SIGTERM handler that only notes the signal; the proof acts on it at its next
    safe point by calling the handler it replaced (which raises KeyboardInterrupt, or what the
    command line installed).  Raised anywhere, an interrupt could leave a z3 object half
    made, whose finaliser then prints a traceback at exit."""

    def __init__(self, previous: dict[int, Any]) -> None:
        self.previous = previous
        self.pending: list[int] = []

    def __call__(self, signum: int, _stack: Any) -> None:
        if signum not in self.pending:
            self.pending.append(signum)

    def deliver(self) -> None:
        if self.pending:
            signum = self.pending.pop(0)
            self.pending.clear()
            handler = self.previous.get(signum)
            if callable(handler):
                handler(signum, None)
            raise KeyboardInterrupt


def worker_signals() -> None:
    """A proof worker: SIGTERM (the pool's terminate) ends it at once; SIGINT stays deferred
    to its safe points (its obligation then reports "interrupted")."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def signals_now() -> Iterator[None]:
    """The parent of proof workers only waits for them: while it does, a signal acts at
    once (with the handlers a deferral replaced)."""
    import signal

    handler = signal.getsignal(signal.SIGINT)
    if type(handler) is not _Deferred:
        yield
        return
    handler.deliver()
    for n, h in handler.previous.items():
        signal.signal(n, h)
    try:
        yield
    finally:
        for n in handler.previous:
            signal.signal(n, handler)


def deliver_deferred() -> None:
    import signal

    handler = signal.getsignal(signal.SIGINT)
    if type(handler) is _Deferred:
        handler.deliver()


@contextmanager
def signals_at_safe_points() -> Iterator[None]:
    """While a proof runs (in the main thread), SIGINT and SIGTERM handlers that are Python
    functions are deferred to the proof's safe points: each path's start and each z3 query
    (z3 itself turns Ctrl-C during a query into an answer that :meth:`Explorer._solve`
    raises as KeyboardInterrupt)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    nums = [n for n in (signal.SIGINT, signal.SIGTERM) if callable(signal.getsignal(n))]
    previous = {n: signal.getsignal(n) for n in nums}
    if any(type(h) is _Deferred for h in previous.values()):  # nested: the outer one defers
        yield
        return
    deferred = _Deferred(previous)
    for n in nums:
        signal.signal(n, deferred)
    try:
        yield
    finally:
        for n in nums:
            signal.signal(n, previous[n])
    deferred.deliver()  # a signal that came after the last safe point

