"""What one proof's parts share: the :class:`ProofContext` (see docs/proof.md).

A proof passes one context explicitly: its variables (:class:`mcheck.proof.domain.Vars`)
and every term built from them carry it, and a term that Python needs concretely
(``bool()``, ``int()``) asks the context for the explorer running the current path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["OUT_OF_TIME", "ProofContext", "ProofUnknown"]

OUT_OF_TIME = "the proof ran out of time"


class ProofUnknown(BaseException):
    """The proof could not be completed (timeout, ``unknown``, too many paths)."""


class ProofContext:
    """The state one proof shares between its modules: the explorers running a path (a
    stack: an obligation's explorer may run a nested one)."""

    def __init__(self) -> None:
        self.explorers: list[Any] = []

    def explorer(self) -> Any:
        """The explorer of the path being run (a term is used concretely only inside one)."""
        if not self.explorers:
            raise RuntimeError("a symbolic value was used outside a symbolic exploration")
        return self.explorers[-1]

    @contextmanager
    def running(self, explorer: Any) -> Iterator[None]:
        """``explorer`` decides the branches of the code run inside the block."""
        self.explorers.append(explorer)
        try:
            yield
        finally:
            self.explorers.pop()
