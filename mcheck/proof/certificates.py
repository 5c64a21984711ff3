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
from mcheck.proof.switches import SwitchSpec, switch_spec

__all__ = [
    "ENGINE_VERSION",
    "Certificate",
    "Refuted",
    "Witness",
    "entry_path",
    "is_cached",
    "key_and_inputs",
    "load_cached",
    "load_shared",
    "proof_inputs",
    "proof_key",
    "shared_key",
    "store",
    "store_shared",
    "switch_reads",
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
    if not inputs.cacheable:
        return False
    if load_cached(entry_path(key), key) is not None:
        return True
    spec = switch_spec(model)
    if spec is None:
        return False
    skey, sinputs = shared_key(model, decl, spec)
    return sinputs.cacheable and load_shared(model, spec, skey) is not None


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



# -- shared across switch boards (docs/proof.md, "Sharing a proof across switch boards") -------


def shared_key(model: Any, decl: Any, spec: SwitchSpec) -> tuple[str, ProofInputs]:
    """The key of a proof with the model's switch fields left out (:mod:`mcheck.proof.switches`):
    it does not digest the model's fingerprint (which names the switches); the walk digests every
    other field, and an entry under it records the switches the proof read."""
    from mcheck.fingerprint import digest

    inputs = cache.proof_inputs(model, decl, switches=spec.fields)
    return digest(("mcheck-symmetry-switched", ENGINE_VERSION, type(model).__qualname__,
                   spec.boards, spec.labels, decl.version, tuple(decl.bounds),
                   inputs.digest)), inputs


def switch_reads(model: Any, spec: SwitchSpec, names: dict[str, set[str]]) -> dict[str, str] | None:
    """Each recorded read (``names``: a board field -> attributes read, ``"label"`` -> labels
    read) with the digest of its value in ``model``: the entry's condition.  None when a read
    cannot be valued as a switch (a method, the board's ``__dict__``, an attribute the board
    lacks) or spoils the run (``"!"``): the certificate is then not shared."""
    if names.get("!"):
        return None
    fields = vars(model)
    out: dict[str, str] = {}
    for kind, attrs in names.items():
        if kind == "label":
            for a in attrs:
                if a not in spec.labels or a not in fields:
                    return None
                d = cache.value_digest(fields[a])
                if d is None:
                    return None
                out[f"label:{a}"] = d
        elif kind in spec.boards and kind in fields:
            own = getattr(fields[kind], "__dict__", None)
            if not isinstance(own, dict):
                return None
            for a in attrs:
                if a == "__class__":
                    continue  # the board's class is in the key
                if a not in own:
                    return None
                d = cache.value_digest(own[a])
                if d is None:
                    return None
                out[f"{kind}.{a}"] = d
        else:
            return None
    return dict(sorted(out.items()))


def _agrees(model: Any, spec: SwitchSpec, reads: Any) -> bool:
    """True when ``model`` gives every read recorded in ``reads`` the recorded value."""
    if not isinstance(reads, dict):
        return False
    names: dict[str, set[str]] = {}
    for k in reads:
        if not isinstance(k, str):
            return False
        kind, sep, a = k.partition(":") if k.startswith("label:") else k.partition(".")
        if not sep:
            return False
        names.setdefault(kind, set()).add(a)
    now = switch_reads(model, spec, names)
    return now is not None and now == reads


def _shared_path(skey: str, reads: dict[str, str]) -> FsPath:
    from mcheck.fingerprint import digest

    return cache_dir() / f"symmetry-{skey}-{digest(tuple(reads.items()))[:16]}.json"


def load_shared(model: Any, spec: SwitchSpec, skey: str) -> Certificate | None:
    """A certificate stored under ``skey`` whose recorded switch reads ``model`` agrees on."""
    try:
        paths = sorted(cache_dir().glob(f"symmetry-{skey}-*.json"))
    except OSError:
        return None
    for path in paths:
        payload = cache.load_entry(path, skey)
        if payload is None or not _agrees(model, spec, payload.get("reads")):
            continue
        cert = load_cached(path, skey)
        if cert is not None:
            cert.cache_note = f"from {path} (shared: agrees on the {len(payload['reads'])} " \
                              "switches the proof read)"
            return cert
    return None


def store_shared(skey: str, cert: Certificate, files: dict[str, str],
                 reads: dict[str, str]) -> FsPath | None:
    """Store ``cert`` under ``skey`` with the switch reads it holds for; its path, or None."""
    path = _shared_path(skey, reads)
    payload = cert.to_dict()
    payload["key"] = skey
    payload["files"] = files
    payload["reads"] = reads
    return path if cache.store_entry(path, skey, payload) else None
