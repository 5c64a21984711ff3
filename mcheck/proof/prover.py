"""The symmetry proof's entry point: :func:`certify`, once per model and declaration, cached.

z3 never runs in the search loop: :func:`certify` runs once before a reduced
search, and its verdict is cached under a digest of everything the proof can
reach.  What is proven and why that makes a reduced search sound is in
docs/proof.md; the obligations are :mod:`mcheck.proof.obligations`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mcheck.proof import cache
from mcheck.proof.canon import canon_tasks
from mcheck.proof.certificates import (
    Certificate,
    Refuted,
    entry_path,
    key_and_inputs,
    load_cached,
    load_shared,
    shared_key,
    store,
    store_shared,
    switch_reads,
)
from mcheck.proof.context import ProofUnknown
from mcheck.proof.interrupts import signals_at_safe_points
from mcheck.proof.obligations import Prover, Runner
from mcheck.proof.switches import Recorder, Touched, switch_spec

__all__ = ["certify", "certify_canonicaliser"]


def certify(model: Any, decl: Any, *, use_cache: bool = True, budget: float | None = 300.0,
            timeout_ms: int = 20000, max_paths: int = 200_000,
            progress: Callable[[str], None] | None = None, workers: int = 1) -> Certificate:
    """Prove that ``decl`` is a sound symmetry of ``model`` (docs/proof.md).

    Cached under ``cache_dir()`` by :func:`proof_key`, which digests
    everything the proof can reach (:mod:`mcheck.proof.cache`); a cached
    certificate is used only when its signed entry is intact and was made
    under the same key.  A model with a switch board (:mod:`mcheck.proof.switches`) also
    finds and stores certificates under a key without its switches, each kept with the
    switches its proof read and used only where they agree.  ``unknown`` results are not
    cached, and neither is
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
    # Shared across switch boards: a key without the switch fields, and entries that hold for
    # the switches their proof read (docs/proof.md, "Sharing a proof across switch boards").
    spec = switch_spec(model) if cacheable else None
    skey = ""
    if spec is not None:
        skey, sinputs = shared_key(model, decl, spec)
        if not sinputs.cacheable:
            spec = None
        elif (hit := load_shared(model, spec, skey)) is not None:
            return hit
    t0 = time.monotonic()
    recorder = Recorder(model, spec) if spec is not None else None
    try:
        cert, prover = _prove(model, decl, recorder, t0, budget, timeout_ms, max_paths, progress,
                              workers)
        reads = None
        if recorder is not None:
            names = recorder.reads()
            if names.get("!") or (recorder.hooked and recorder.failed):
                # the run cannot be shared (a label used through the model's __dict__, say):
                # its verdict may differ from the plain code's, so prove again without recording
                cert, prover = _prove(model, decl, None, time.monotonic(), budget, timeout_ms,
                                      max_paths, progress, workers)
            elif recorder.hooked and cert.status in ("proved", "refuted") and spec is not None:
                reads = switch_reads(model, spec, names)
    finally:
        if recorder is not None:
            recorder.close()
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
        if reads is not None:
            shared = store_shared(skey, cert, after.digests or {}, reads)
            if shared is not None:
                cert.cache_note += f" and in {shared}, for every model that agrees on the " \
                                   f"{len(reads)} switches the proof read"
    else:
        cert.cache_note = f"not cached: {path} or the secret {cache.secret_path()} cannot be " \
                          "written"
    return cert


def _prove(model: Any, decl: Any, recorder: Recorder | None, t0: float, budget: float | None,
           timeout_ms: int, max_paths: int, progress: Callable[[str], None] | None,
           workers: int) -> tuple[Certificate, Prover | None]:
    """One run of the obligations (recording the switches read, with ``recorder``)."""
    prover: Prover | None = None
    try:
        with signals_at_safe_points(), _recording(recorder):
            prover = Prover(model, decl, timeout_ms=timeout_ms, max_paths=max_paths,
                            deadline=None if budget is None else t0 + budget,
                            progress=progress)
            prover.run(workers)
        cert = Certificate("proved")
    except Refuted as r:
        cert = Certificate("refuted", r.witness.obligation, r.witness)
    except ProofUnknown as u:
        cert = Certificate("unknown", str(u))
    except Touched:
        cert = Certificate("unknown", "a label field was used through the model's __dict__")
        if recorder is not None:
            recorder.note("!", "touched")
    return cert, prover


@contextmanager
def _recording(recorder: Recorder | None) -> Iterator[None]:
    if recorder is None:
        yield
        return
    with recorder.recording():
        yield  # not hooked (recorder.hooked False): a plain run, not shared


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

