"""The domain a proof quantifies over: variables with ranges, and constraints.

A model's declaration builds its symbolic states with :class:`Vars`; the proof
covers every state the variables and constraints allow (docs/proof.md, "The
domain").
"""

from __future__ import annotations

from typing import Any

from mcheck.proof.context import ProofContext
from mcheck.proof.terms import as_bool, is_sym, var

__all__ = ["Vars"]


class Vars:
    """Builds the proof's domain: named variables with ranges, and constraints."""

    def __init__(self, prefix: str = "x", proof: ProofContext | None = None) -> None:
        self.prefix = prefix
        #: the proof its variables (and every term made of them) belong to
        self.proof = proof if proof is not None else ProofContext()
        self.ranges: dict[str, tuple[int, int]] = {}
        self.requires: list[Any] = []
        self.poisoned: set[str] = set()

    def int(self, lo: int, hi: int, name: str | None = None) -> Any:
        """A variable in ``lo..hi`` (the constant itself when ``lo == hi``)."""
        if hi < lo:
            raise ValueError(f"empty range {lo}..{hi}")
        if lo == hi:
            return lo
        name = name or f"{self.prefix}{len(self.ranges)}"
        if name in self.ranges:
            raise ValueError(f"variable {name} declared twice")
        self.ranges[name] = (lo, hi)
        return var(name, self.proof)

    def bool(self, name: str | None = None) -> Any:
        """A 0/1 variable."""
        return self.int(0, 1, name)

    def poison(self) -> Any:
        """An unspecified value: it may be copied and compared for equality in obligations,
        but a path that branches on it (reads it) makes the proof unknown."""
        name = f"{self.prefix}{len(self.ranges)}_unspecified"
        self.ranges[name] = (-(1 << 20), 1 << 20)
        self.poisoned.add(name)
        return var(name, self.proof)

    def ref(self, n: int, nullable: bool = True, none: int = -1) -> Any:
        """An index below ``n``, or ``none`` when ``nullable``."""
        if n <= 0:
            return none
        v = self.int(none if nullable else 0, n - 1)
        if nullable and none != -1:
            raise ValueError("ref: only -1 as none is supported")
        return v

    def require(self, cond: Any) -> None:
        """Restrict the domain to states where ``cond`` holds."""
        if is_sym(cond):
            self.requires.append(as_bool(cond))
        elif not cond:
            raise ValueError("domain constraint is false for every state")

