"""The symmetry proof's entry point: :func:`certify`, once per model and declaration, cached.

z3 never runs in the search loop: :func:`certify` runs once before a reduced
search, and its verdict is cached under a digest of everything the proof can
reach.  What is proven and why that makes a reduced search sound is in
docs/proof.md; the obligations are :mod:`mcheck.proof.obligations`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from mcheck.proof import cache
from mcheck.proof.canon import canon_tasks
from mcheck.proof.certificates import (
    Certificate,
    Refuted,
    entry_path,
    key_and_inputs,
    load_cached,
    store,
)
from mcheck.proof.context import ProofUnknown
from mcheck.proof.interrupts import signals_at_safe_points
from mcheck.proof.obligations import Prover, Runner

__all__ = ["certify", "certify_canonicaliser"]


def certify(model: Any, decl: Any, *, use_cache: bool = True, budget: float | None = 300.0,
            timeout_ms: int = 20000, max_paths: int = 200_000,
            progress: Callable[[str], None] | None = None, workers: int = 1) -> Certificate:
    """Prove that ``decl`` is a sound symmetry of ``model`` (docs/proof.md).

    Cached under ``cache_dir()`` by :func:`proof_key`, which digests
    everything the proof can reach (:mod:`mcheck.proof.cache`); a cached
    certificate is used only when its signed entry is intact and was made
    under the same key.  ``unknown`` results are not cached, and neither is
    a proof whose inputs cannot all be digested.  ``budget`` bounds the
    wall time in seconds (running out is ``unknown``; Ctrl-C raises
    KeyboardInterrupt, never an ``unknown``).  ``workers`` > 1 proves the obligations in that many
    forked processes, with the same verdict and witness as one.
    """
    if not decl.active:
        return Certificate("none", "no set has two or more members")
    key, inputs = key_and_inputs(model, decl)
    path = entry_path(key)
    cacheable = use_cache and inputs.cacheable
    if cacheable:
        hit = load_cached(path, key)
        if hit is not None:
            return hit
    t0 = time.monotonic()
    prover: Prover | None = None
    try:
        with signals_at_safe_points():
            prover = Prover(model, decl, timeout_ms=timeout_ms, max_paths=max_paths,
                             deadline=None if budget is None else t0 + budget,
                             progress=progress)
            prover.run(workers)
        cert = Certificate("proved")
    except Refuted as r:
        cert = Certificate("refuted", r.witness.obligation, r.witness)
    except ProofUnknown as u:
        cert = Certificate("unknown", str(u))
    cert.elapsed = time.monotonic() - t0
    if prover is not None:
        cert.obligations = prover.obligations
        cert.paths = prover.paths
        cert.queries = prover.queries
        cert.per_obligation = prover.timings
        cert.per_counts = prover.counts
    cert.key = key
    if not use_cache:
        cert.cache_note = "not cached (use_cache=False)"
    elif not inputs.cacheable:
        cert.cache_note = ("not cached: the proof depends on what cannot be digested: "
                           + "; ".join(inputs.unverifiable[:3]))
    elif cert.status not in ("proved", "refuted"):
        cert.cache_note = "not cached: only a proof or a refutation is kept, not an unknown"
    elif not (after := cache.proof_inputs(model, decl)).cacheable:
        cert.cache_note = ("not cached: the proof reached what cannot be digested: "
                           + "; ".join(after.unverifiable[:3]))
    elif store(path, cert, after.digests or {}):
        cert.cache_note = f"cached in {path}"
    else:
        cert.cache_note = f"not cached: {path} or the secret {cache.secret_path()} cannot be " \
                          "written"
    return cert


def certify_canonicaliser(sets: Sequence[Any], *, timeout_ms: int = 20000,
                          max_paths: int = 200_000, budget: float | None = 300.0,
                          progress: Callable[[str], None] | None = None) -> Certificate:
    """Obligation 6 alone, for index sets of any size (not cached; :func:`certify` proves it
    for a declaration's active sets as part of the whole proof)."""
    t0 = time.monotonic()
    runner = Runner(timeout_ms=timeout_ms, max_paths=max_paths,
                    deadline=None if budget is None else t0 + budget, progress=progress)
    try:
        with signals_at_safe_points():
            runner.tasks = list(canon_tasks(sets, timeout_ms=timeout_ms, max_paths=max_paths,
                                            deadline=runner.deadline, proof=runner.proof))
            runner.run_tasks(1)
        cert = Certificate("proved")
    except Refuted as r:
        cert = Certificate("refuted", r.witness.obligation, r.witness)
    except ProofUnknown as u:
        cert = Certificate("unknown", str(u))
    cert.elapsed = time.monotonic() - t0
    cert.obligations = runner.obligations
    cert.paths = runner.paths
    cert.queries = runner.queries
    cert.per_obligation = runner.timings
    cert.per_counts = runner.counts
    return cert

