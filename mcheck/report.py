"""Rendering a search result: the human report, its JSON document and the summary line.

``mcheck check`` and ``mcheck explore`` print, per model, a verdict line, one
line per property and the rendered trace of each violation
(:func:`print_result`), or one JSON entry (:func:`model_doc`); after several
models, one :func:`summary_line`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from mcheck.explore import PropertyResult, Result, Verdict
from mcheck.model import Kind, Model
from mcheck.result import StoreInfo

__all__ = ["how_far", "model_doc", "print_result", "property_line", "stop_reason", "store_json",
           "summary_line"]


def stop_reason(result: Result) -> str:
    """Why the search ended, naming the bound: ``exhausted``, ``--max-states 100 reached``..."""
    b = result.bounds
    by = result.stopped_by
    if result.exhausted:
        return "exhausted"
    if by == "states":
        return f"--max-states {b.max_states} reached"
    if by == "depth":
        return f"--max-depth {b.max_depth} reached"
    if by == "time":
        return f"--timeout {b.timeout:g}s reached"
    if by == "memory":
        return f"--max-memory {(b.max_memory or 0) / 2 ** 20:g} MB reached"
    if by == "violation":
        return "stopped at the first violation"
    return f"stopped by {by}"


def how_far(result: Result) -> str:
    """How far the search got: states, depth and time."""
    return f"after {result.states} states, depth {result.depth}, {result.elapsed:.2f}s"


def property_line(result: Result, p: PropertyResult, width: int, traces: dict[str, Any]) -> str:
    """The report's line for property ``p`` (names padded to ``width``)."""
    name = p.name.ljust(width)
    if p.kind is Kind.METRIC:
        how = "exact" if p.verdict is Verdict.HOLDS else "at least: the search was cut short"
        witness = f", shortest witness {len(p.path)} steps" if p.path is not None else ""
        return f"  {name}  METRIC        {p.count} transitions ({how}){witness}"
    verdict = str(p.verdict).ljust(12)
    if p.verdict is Verdict.VIOLATED:
        kind = traces[p.name].kind if p.name in traces else p.kind.value
        msg = f": {p.message}" if p.message else ""
        steps = len(p.path) if p.path is not None else 0
        return f"  {name}  {verdict}  {kind}{msg} ({steps} steps)"
    if p.verdict is Verdict.UNDETERMINED:
        hint = "; --all checks every property" if result.stopped_by == "violation" else ""
        return f"  {name}  {verdict}  {stop_reason(result)} {how_far(result)}{hint}"
    return f"  {name}  {str(p.verdict)}"


def model_doc(m: Model, result: Result, traces: dict[str, Any],
              exported: dict[str, str], status: int) -> dict[str, Any]:
    """One model's entry of the ``--json`` document; ``status`` is its exit status."""
    from mcheck.render import count_preemptions

    props = []
    for p in result.properties.values():
        entry: dict[str, Any] = {
            "name": p.name, "kind": traces[p.name].kind if p.name in traces else p.kind.value,
            "verdict": p.verdict.value, "description": p.description, "message": p.message,
        }
        if p.kind is Kind.METRIC:
            entry["count"] = p.count
        if p.path is not None:
            entry["steps"] = len(p.path)
            entry["preemptions"] = count_preemptions(m, p.path)
            entry["trace"] = traces[p.name].to_dict()
        else:
            entry["trace"] = None
        if p.name in exported:
            entry["export"] = exported[p.name]
        props.append(entry)
    return {
        "model": m.name, "params": dict(m.params()), "fingerprint": m.fingerprint(),
        "verdict": result.verdict.value, "status": status,
        "states": result.states, "transitions": result.transitions, "depth": result.depth,
        "exhausted": result.exhausted, "stopped_by": result.stopped_by,
        "elapsed": round(result.elapsed, 6), "properties": props,
        "store": None if result.store is None else store_json(result.store),
    }


def store_json(store: StoreInfo) -> dict[str, Any]:
    """A store's report as JSON (its size is null when it is not known)."""
    size = store.bytes_per_state
    return {"kind": store.kind, "bytes_per_state": None if size is None else round(size, 1),
            "collision_probability": store.collision_probability}


def print_result(m: Model, label: str, result: Result, traces: dict[str, Any],
                 exported: dict[str, str], warnings: Sequence[str] = ()) -> None:
    """The human report of one model on stdout: verdict, properties, warnings, traces."""
    from mcheck.render import render

    w = sys.stdout.write
    how = stop_reason(result)
    w(f"{label}: {result.verdict}  ({result.states} states, {result.transitions} transitions, "
      f"depth {result.depth}, {how}, {result.elapsed:.2f}s)\n")
    props = list(result.properties.values())
    width = max((len(p.name) for p in props), default=0)
    if not props:
        w("  (the model has no properties; --deadlock checks for deadlocks)\n")
    for p in props:
        w(property_line(result, p, width, traces) + "\n")
    for line in warnings:
        w(f"  warning: {line}\n")
    if result.store is not None:
        w(f"  {result.store.summary()}\n")
    for p in props:
        if p.verdict is Verdict.VIOLATED and p.kind is not Kind.METRIC and p.path is not None:
            msg = f": {p.message}" if p.message else ""
            own = m.render_trace(p.path, p.name, p.message)
            w("\n" + (own if own is not None else
                      render(m, p.path, title=f"{label}: {p.name} VIOLATED{msg}")))
    for name, f in exported.items():
        w(f"exported {name}: {f}\n")


def summary_line(results: Sequence[Result], all_: bool) -> str:
    """One line after several models: how many held, were violated, undetermined; metrics."""
    held = sum(r.verdict is Verdict.HOLDS for r in results)
    violated = sum(r.verdict is Verdict.VIOLATED for r in results)
    undetermined = sum(r.verdict is Verdict.UNDETERMINED for r in results)
    events = sum(p.count for r in results for p in r.properties.values()
                 if p.kind is Kind.METRIC and p.count)
    with_events = sum(any(p.kind is Kind.METRIC and p.count for p in r.properties.values())
                      for r in results)
    cut = any(p.kind is Kind.METRIC and p.count and p.verdict is not Verdict.HOLDS
              for r in results for p in r.properties.values())
    line = (f"summary: {len(results)} models: {held} held, {violated} violated, "
            f"{undetermined} undetermined; {events} metric events in {with_events} models"
            + (" (at least: a search was cut short)" if cut else ""))
    if violated and not all_:
        line += "; --all shows every violated property of each model"
    return line + "\n"
