"""Time bounds and interrupts that reach into code the search does not control.

The search polls its time bound between states, but a user's step function
or decision function that never returns never gets back to the poll.  Here
the wall-time bound is also armed as a real-time interval timer whose
handler raises :class:`TimeUp` (a ``BaseException``, so a user's ``except
Exception`` does not swallow it) in the main thread, wherever it is.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["TimeUp", "alarm"]


class TimeUp(BaseException):
    """The wall-time bound ran out inside code that does not poll."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def alarm(seconds: float | None) -> Iterator[Callable[[], None]]:
    """Raise :class:`TimeUp` in the main thread once ``seconds`` of wall time have passed.

    Yields a function that disarms the alarm (after it, a late signal is
    ignored).  Outside the main thread, or with ``seconds`` None, nothing is
    armed: the caller's own polling is the only bound.  The previous handler
    and timer are restored on exit.
    """
    if seconds is None or not _main_thread():
        yield lambda: None
        return
    armed = [True]

    def handler(signum: int, _stack: Any) -> None:
        if armed[0]:
            armed[0] = False
            raise TimeUp()

    def disarm() -> None:
        armed[0] = False

    old = signal.signal(signal.SIGALRM, handler)
    old_timer = signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield disarm
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if old_timer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *old_timer)
