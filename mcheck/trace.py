"""Traces: the smallest record that replays a counterexample, in versioned JSON.

A trace records which model (name, path as given, fingerprint, parameters),
which property (name, kind, message), the actions from an initial state, and
a digest of every state along the path.  :func:`replay` rebuilds the model's
states through ``actions`` and ``step`` (the same semantics as the search),
refuses a trace whose model changed, and re-checks the violation on the last
state or transition.

JSON layout (format ``mcheck-trace``, version 1)::

    {
      "format": "mcheck-trace", "version": 1, "mcheck": "0.1.0",
      "model": "lost-update", "model_path": "examples/toys.py",
      "fingerprint": "<hex>", "params": {"toy": "lost-update"},
      "property": "final_x_is_2", "kind": "invariant", "message": "x = 1 at the end",
      "actions": [[0], [1], [0], [1]],
      "states": ["<hex digest of state 0>", ..., "<hex digest of state 4>"]
    }

``kind`` is one of ``invariant``, ``transition``, ``metric`` and
``deadlock`` (the engine's built-in "no enabled action in a non-final
state").  Actions are JSON values; lists are read back as tuples.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcheck.errors import UsageError
from mcheck.explore import DEADLOCK, Path, PropertyResult
from mcheck.fingerprint import digest
from mcheck.model import Kind, Model

__all__ = [
    "FORMAT",
    "KINDS",
    "VERSION",
    "ReplayResult",
    "Trace",
    "TraceError",
    "from_json_value",
    "load",
    "replay",
    "to_json_value",
]

FORMAT = "mcheck-trace"
VERSION = 1
KINDS = ("invariant", "transition", "metric", "deadlock")


class TraceError(UsageError):
    """A trace that cannot be read or replayed (exit status 2)."""


def to_json_value(value: Any) -> Any:
    """Tuples to lists, recursively; the JSON form of an action or parameter."""
    if isinstance(value, (tuple, list)):
        return [to_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return value


def from_json_value(value: Any) -> Any:
    """Lists to tuples, recursively; the inverse of :func:`to_json_value` on actions."""
    if isinstance(value, list):
        return tuple(from_json_value(v) for v in value)
    return value


def _normal(action: Any) -> Any:
    """An action as it reads back from JSON (so recorded and live actions compare)."""
    return from_json_value(json.loads(json.dumps(to_json_value(action))))


def _kind_of(model: Model, prop: PropertyResult) -> str:
    if prop.name == DEADLOCK and prop.name not in {p.name for p in model.properties()}:
        return "deadlock"
    return prop.kind.value


@dataclass(frozen=True)
class Trace:
    """A replayable counterexample (or metric witness).  See the module docstring."""

    model: str
    model_path: str
    fingerprint: str
    params: dict[str, Any]
    property: str
    kind: str
    message: str
    actions: tuple[Any, ...]
    states: tuple[str, ...]
    mcheck: str = field(default="")
    format: str = FORMAT
    version: int = VERSION

    def __len__(self) -> int:
        return len(self.actions)

    @classmethod
    def from_path(cls, model: Model, path: Path, result_property: PropertyResult,
                  model_path: str) -> Trace:
        """The trace of ``path``, a counterexample or witness of ``result_property``."""
        from mcheck import __version__

        return cls(
            model=model.name,
            model_path=str(model_path),
            fingerprint=model.fingerprint(),
            params=to_json_value(dict(model.params())),
            property=result_property.name,
            kind=_kind_of(model, result_property),
            message=result_property.message,
            actions=tuple(_normal(a) for a in path.actions),
            states=tuple(digest(s) for s in path.states),
            mcheck=__version__,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, fields in a fixed order."""
        return {
            "format": self.format,
            "version": self.version,
            "mcheck": self.mcheck,
            "model": self.model,
            "model_path": self.model_path,
            "fingerprint": self.fingerprint,
            "params": to_json_value(self.params),
            "property": self.property,
            "kind": self.kind,
            "message": self.message,
            "actions": [to_json_value(a) for a in self.actions],
            "states": list(self.states),
        }

    def to_json(self) -> str:
        """Deterministic JSON text (same bytes for the same trace in every process)."""
        lines = []
        for key, value in self.to_dict().items():
            if key in ("actions", "states"):
                items = [json.dumps(x, ensure_ascii=True) for x in value]
                body = ("[\n" + ",\n".join(f"    {x}" for x in items) + "\n  ]") if items else "[]"
            else:
                body = json.dumps(value, ensure_ascii=True)
            lines.append(f"  {json.dumps(key)}: {body}")
        return "{\n" + ",\n".join(lines) + "\n}\n"

    def save(self, file: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``file``."""
        try:
            with open(file, "w", encoding="ascii") as f:
                f.write(self.to_json())
        except OSError as e:
            raise UsageError(f"cannot write trace '{file}': {e.strerror or e}",
                             "choose a writable directory for --export") from e

    @classmethod
    def from_dict(cls, data: Any, source: str = "trace") -> Trace:
        """Validate every field of a decoded JSON object; :class:`TraceError` on any fault."""
        regen = "regenerate it with `mcheck check MODEL --export DIR`"
        if not isinstance(data, dict):
            raise TraceError(f"{source} is not a trace: its JSON is a {type(data).__name__}, "
                             "not an object", regen)
        if data.get("format") != FORMAT:
            raise TraceError(f"{source} is not an mcheck trace (format "
                             f"{data.get('format')!r}, expected {FORMAT!r})", regen)
        version = data.get("version")
        if version != VERSION:
            raise TraceError(f"{source} has trace format version {version!r}; this mcheck "
                             f"reads version {VERSION}", regen)

        def need(name: str, types: type | tuple[type, ...], what: str) -> Any:
            if name not in data:
                raise TraceError(f"{source} has no field '{name}'", regen)
            v = data[name]
            if not isinstance(v, types):
                raise TraceError(f"{source}: field '{name}' must be {what}, "
                                 f"got {type(v).__name__}", regen)
            return v

        mcheck_version = need("mcheck", str, "a string")
        model = need("model", str, "a string")
        model_path = need("model_path", str, "a string")
        fp = need("fingerprint", str, "a string")
        params = need("params", dict, "an object")
        prop = need("property", str, "a string")
        kind = need("kind", str, "a string")
        if kind not in KINDS:
            raise TraceError(f"{source}: field 'kind' is {kind!r}, expected one of "
                             f"{', '.join(KINDS)}", regen)
        message = need("message", str, "a string")
        actions = need("actions", list, "a list")
        states = need("states", list, "a list")
        for i, a in enumerate(actions):
            if not _is_action(a):
                raise TraceError(f"{source}: action {i + 1} ({a!r}) is not built from "
                                 "ints, strings and lists", regen)
        if not all(isinstance(s, str) for s in states):
            raise TraceError(f"{source}: field 'states' must be a list of strings", regen)
        if len(states) != len(actions) + 1:
            raise TraceError(f"{source} has {len(actions)} actions but {len(states)} state "
                             f"digests (expected {len(actions) + 1})", regen)
        if kind != "invariant" and kind != "deadlock" and not actions:
            raise TraceError(f"{source}: a {kind} trace needs at least one action", regen)
        return cls(model=model, model_path=model_path, fingerprint=fp, params=params,
                   property=prop, kind=kind, message=message,
                   actions=tuple(from_json_value(a) for a in actions),
                   states=tuple(states), mcheck=mcheck_version)


def _is_action(a: Any) -> bool:
    if isinstance(a, list):
        return all(_is_action(x) for x in a)
    return a is None or isinstance(a, (int, str, bool))


def load(file: str | os.PathLike[str]) -> Trace:
    """Read and validate a trace file; :class:`TraceError` with one line on any fault."""
    regen = "regenerate it with `mcheck check MODEL --export DIR`"
    try:
        with open(file, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError as e:
        raise TraceError(f"no trace file at '{file}'",
                         "give the path of a trace written by `mcheck check --export`") from e
    except (OSError, UnicodeDecodeError) as e:
        raise TraceError(f"cannot read trace '{file}': {e}", regen) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TraceError(f"trace '{file}' is not valid JSON ({e.msg} at line {e.lineno} "
                         f"column {e.colno})", regen) from e
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        why = str(e).split(";")[0]  # not Python's advice to raise the digit limit
        raise TraceError(f"trace '{file}' cannot be decoded: {why}", regen) from e
    except RecursionError as e:
        raise TraceError(f"trace '{file}' nests its JSON too deeply to decode", regen) from e
    try:
        return Trace.from_dict(data, f"trace '{file}'")
    except RecursionError as e:
        raise TraceError(f"trace '{file}' nests its actions too deeply", regen) from e


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of :func:`replay`.

    ``reproduced`` is True when the recorded violation (or metric event)
    happens again at the end of the re-derived path; ``message`` says what
    was seen there.
    """

    trace: Trace
    path: Path
    reproduced: bool
    message: str


def _regen(trace: Trace) -> str:
    return f"re-run `mcheck check {trace.model_path} ... --export DIR` to regenerate it"


def replay(model: Model, trace: Trace) -> ReplayResult:
    """Re-derive every state of ``trace`` through ``model`` and re-check its violation.

    Raises
    ------
    TraceError
        When the model's fingerprint differs from the recorded one, a recorded
        action is not enabled, or a re-derived state differs from the
        recorded digest.
    """
    now = model.fingerprint()
    if now != trace.fingerprint:
        raise TraceError(f"model changed since the trace was written (fingerprint "
                         f"{trace.fingerprint}, now {now})", _regen(trace))
    inits = [s for s in model.initial_states() if digest(s) == trace.states[0]]
    if not inits:
        raise TraceError("step 0: no initial state of the model matches the recorded one "
                         "(the model changed without a version bump)",
                         f"bump the model's version and {_regen(trace)}")
    states = [inits[0]]
    actions = []
    for i, recorded in enumerate(trace.actions, start=1):
        s = states[-1]
        live = None
        enabled = []
        for a in model.actions(s):
            enabled.append(a)
            if _normal(a) == recorded:
                live = a
                break
        if live is None:
            raise TraceError(
                f"step {i}: action {json.dumps(to_json_value(recorded))} is not enabled "
                f"(enabled: {', '.join(json.dumps(to_json_value(a)) for a in enabled) or 'none'})",
                _regen(trace))
        t = model.step(s, live)
        if digest(t) != trace.states[i]:
            raise TraceError(
                f"step {i} ({model.format_action(live)}): the state differs from the "
                f"recorded one (digest {trace.states[i]}, now {digest(t)}); the model's "
                "semantics changed without a version bump",
                f"bump the model's version and {_regen(trace)}")
        actions.append(live)
        states.append(t)
    path = Path(tuple(states), tuple(actions))
    reproduced, message = _recheck(model, trace, path)
    return ReplayResult(trace, path, reproduced, message)


def _recheck(model: Model, trace: Trace, path: Path) -> tuple[bool, str]:
    last = path.states[-1]
    if trace.kind == "deadlock":
        if any(True for _ in model.actions(last)):
            return False, "the last state has an enabled action"
        if model.is_final(last):
            return False, "the last state is final"
        return True, "no enabled action in a non-final state"
    props = {p.name: p for p in model.properties()}
    p = props.get(trace.property)
    if p is None:
        raise TraceError(f"the model has no property '{trace.property}'", _regen(trace))
    if p.kind.value != trace.kind:
        raise TraceError(f"property '{p.name}' is a {p.kind.value} now, the trace says "
                         f"{trace.kind}", _regen(trace))
    if p.kind is Kind.INVARIANT:
        bad = not p.check(last)
        args: Sequence[Any] = (last,)
    else:
        if not path.actions:
            return False, "the trace has no transition"
        args = (path.states[-2], path.actions[-1], last)
        ok = p.check(*args)
        bad = bool(ok) if p.kind is Kind.METRIC else not ok
    if not bad:
        what = "event does not happen" if p.kind is Kind.METRIC else "property holds"
        return False, f"the {what} at the end of the trace"
    msg = p.explain(*args) if p.explain is not None else ""
    return True, msg or trace.message
