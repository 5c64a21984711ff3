"""Certificates: what a proof concluded, its witness, and its entry in the cache.

The key of one declaration's proof digests everything the proof can reach
(:mod:`mcheck.proof.cache`), so an entry is used only for the same model,
declaration and sources (docs/proof.md, "The cache").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from mcheck.proof import cache
from mcheck.proof.cache import ProofInputs, cache_dir

__all__ = [
    "ENGINE_VERSION",
    "Certificate",
    "Refuted",
    "Witness",
    "entry_path",
    "is_cached",
    "key_and_inputs",
    "load_cached",
    "proof_inputs",
    "proof_key",
    "store",
]

ENGINE_VERSION = "smt-2"  # 2: the canonicaliser is proven too (obligation 6)


@dataclass
class Witness:
    """Why a proof failed: the obligation, a state, the action and the permutation."""

    obligation: str
    permutation: str
    state: Any
    action: Any = None
    detail: str = ""

    def lines(self, model: Any = None) -> list[str]:
        out = [f"obligation: {self.obligation}", f"permutation: {self.permutation}"]
        if self.action is not None:
            out.append(f"action: {self.action!r}")
        if self.detail:
            out.append(f"detail: {self.detail}")
        out.append(f"state: {self.state!r}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"obligation": self.obligation, "permutation": self.permutation,
                "state": _jsonable(self.state), "action": _jsonable(self.action),
                "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Witness:
        return cls(d["obligation"], d["permutation"], _tuples(d["state"]),
                   _tuples(d.get("action")), d.get("detail", ""))


def _jsonable(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return [_jsonable(y) for y in x]
    return x


def _tuples(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_tuples(y) for y in x)
    return x


@dataclass
class Certificate:
    """The outcome of :func:`certify`.

    ``status`` is ``"proved"``, ``"refuted"`` (with a :class:`Witness`),
    ``"unknown"`` (timeout, z3 ``unknown``, path limit: never a proof) or
    ``"none"`` (the configuration has no interchangeable indices).
    """

    status: str
    reason: str = ""
    witness: Witness | None = None
    elapsed: float = 0.0
    obligations: int = 0
    paths: int = 0
    queries: int = 0
    cached: bool = False
    key: str = ""
    per_obligation: dict[str, float] = field(default_factory=dict)
    per_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: what became of the certificate in the cache (stored, or why not), for people
    cache_note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "proved"

    def summary(self) -> str:
        how = "from cache" if self.cached else f"in {self.elapsed:.2f}s"
        if self.status == "proved":
            return (f"proved {how}: {self.obligations} obligations, {self.paths} paths, "
                    f"{self.queries} z3 queries")
        if self.status == "refuted":
            return f"refuted {how}: {self.reason}"
        return f"{self.status} {how}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason,
                "witness": self.witness.to_dict() if self.witness else None,
                "elapsed": round(self.elapsed, 4), "obligations": self.obligations,
                "paths": self.paths, "queries": self.queries, "key": self.key,
                "engine": ENGINE_VERSION}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Certificate:
        w = d.get("witness")
        return cls(d["status"], d.get("reason", ""), Witness.from_dict(w) if w else None,
                   d.get("elapsed", 0.0), d.get("obligations", 0), d.get("paths", 0),
                   d.get("queries", 0), True, d.get("key", ""))


class Refuted(Exception):
    """An obligation failed, with its witness."""

    def __init__(self, witness: Witness) -> None:
        super().__init__(witness.obligation)
        self.witness = witness


# -- in the cache --------------------------------------------------------------------------------
#
# What a proof depends on and the signed entries are mcheck.proof.cache; here: the key of one
# declaration's proof, and the certificate as an entry's payload.


def proof_key(model: Any, decl: Any) -> str:
    """The cache key of the proof of ``decl`` for ``model`` (:func:`proof_inputs` digested with
    the model's fingerprint and the declaration's version and bounds)."""
    return key_and_inputs(model, decl)[0]


def proof_inputs(model: Any, decl: Any) -> ProofInputs:
    """What the proof of ``decl`` for ``model`` depends on (:mod:`mcheck.proof.cache`)."""
    return key_and_inputs(model, decl)[1]


def key_and_inputs(model: Any, decl: Any) -> tuple[str, ProofInputs]:
    from mcheck.fingerprint import digest

    inputs = cache.proof_inputs(model, decl)
    return digest(("mcheck-symmetry", ENGINE_VERSION, model.fingerprint(), decl.version,
                   tuple(decl.bounds), inputs.digest)), inputs


def entry_path(key: str) -> FsPath:
    return cache_dir() / f"symmetry-{key}.json"


def is_cached(model: Any, decl: Any) -> bool:
    """True when :func:`certify` would answer from the cache."""
    key, inputs = key_and_inputs(model, decl)
    return inputs.cacheable and load_cached(entry_path(key), key) is not None


def load_cached(path: FsPath, key: str) -> Certificate | None:
    payload = cache.load_entry(path, key)
    if payload is None or payload.get("engine") != ENGINE_VERSION:
        return None
    if not cache.files_unchanged(payload.get("files")):
        return None  # a source file the proof reached (imported while it ran) changed
    try:
        cert = Certificate.from_dict(payload)
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if cert.status not in ("proved", "refuted") or cert.key != key:
        return None
    return cert


def store(path: FsPath, cert: Certificate, files: dict[str, str]) -> bool:
    payload = cert.to_dict()
    payload["files"] = files
    return cache.store_entry(path, cert.key, payload)

