"""Traces: the smallest record that replays a counterexample, in versioned JSON.

A trace records which model (name, path as given, fingerprint, parameters),
which property (name, kind, message), the actions from an initial state, and
a digest of every state along the path.  :func:`replay` rebuilds the model's
states through ``actions`` and ``step`` (the same semantics as the search),
refuses a trace whose model changed, and re-checks the violation on the last
state or transition.

JSON layout (format ``mcheck-trace``, version 2)::

    {
      "format": "mcheck-trace", "version": 2, "mcheck": "0.1.0",
      "model": "lost-update", "model_path": "examples/toys.py",
      "fingerprint": "<hex>", "params": {"toy": "lost-update"},
      "property": "final_x_is_2", "kind": "invariant", "message": "x = 1 at the end",
      "actions": [[0], [1], [0], [1]],
      "states": ["<hex digest of state 0>", ..., "<hex digest of state 4>"],
      "sources": [{"param": "policy", "file": "mine.py", "digest": "<hex>",
                   "text": "MINE = ..."}],
      "model_files": [["toys.py", "<hex digest>"]]
    }

``kind`` is one of ``invariant``, ``transition``, ``metric`` and
``deadlock`` (the engine's built-in "no enabled action in a non-final
state").  Actions are JSON values; lists are read back as tuples.

Self-contained traces (version 2).  A parameter whose value names a file
(``mine.py`` or ``mine.py:NAME``, as a user's policy or scenario is given)
has that file's text recorded in ``sources``.  :func:`load` gives the trace
parameters that work where it is read: the recorded path when the file there
is still the recorded one, else a copy of the recorded text in a cache
directory (so a trace replays on another machine or after the file moved);
``load(..., source=FILE)`` uses FILE instead (``replay --policy FILE``).
``model_files`` holds a digest of each file of the model module, so that
when the model's fingerprint changed :func:`replay` can name what changed:
the file, and for a recorded source the line and the words (say
``fork_seqcount=False`` -> ``fork_seqcount=True``).

Version 1 traces (no ``sources``, no ``model_files``) still load and replay;
their parameters are used as recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any

from mcheck.errors import UsageError
from mcheck.explore import DEADLOCK, Path, PropertyResult
from mcheck.fingerprint import digest
from mcheck.model import Kind, Model

__all__ = [
    "FORMAT",
    "KINDS",
    "VERSION",
    "VERSIONS",
    "ReplayResult",
    "Source",
    "Trace",
    "TraceError",
    "changes",
    "from_json_value",
    "load",
    "read",
    "replay",
    "to_json_value",
]

FORMAT = "mcheck-trace"
VERSION = 2
#: every version this mcheck reads; 1 has no sources and no model files
VERSIONS = (1, 2)
#: a file larger than this is recorded by digest only (its text is not copied)
MAX_SOURCE = 256 * 1024
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


def _file_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _file_of(value: Any) -> str | None:
    """The file a parameter value names (``mine.py`` or ``mine.py:NAME``), or None."""
    if not isinstance(value, str) or not value:
        return None
    if os.path.isfile(value):
        return value
    head, sep, name = value.rpartition(":")
    if sep and head and name and os.path.isfile(head):
        return head
    return None


@dataclass(frozen=True)
class Source:
    """The recorded text of a file a model parameter names (a user's policy or scenario).

    ``param`` is the parameter, ``file`` the file part of its value as
    recorded, ``digest`` a BLAKE2b digest of the file's bytes and ``text`` its
    text (None for a file over :data:`MAX_SOURCE` bytes or not UTF-8).
    """

    param: str
    file: str
    digest: str
    text: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "file": self.file, "digest": self.digest,
                "text": self.text}


def _sources(params: Mapping[str, Any]) -> tuple[Source, ...]:
    out = []
    for k in sorted(params, key=str):
        f = _file_of(params[k])
        if f is None:
            continue
        try:
            data = FsPath(f).read_bytes()
        except OSError:
            continue
        try:
            text: str | None = data.decode("utf-8") if len(data) <= MAX_SOURCE else None
        except UnicodeDecodeError:
            text = None
        out.append(Source(str(k), f, _file_digest(data), text))
    return tuple(out)


def _model_files(model_path: str) -> tuple[tuple[str, str], ...]:
    """(path relative to the model, digest) of each .py file of the model module."""
    root = FsPath(model_path)
    try:
        if root.is_file():
            return ((root.name, _file_digest(root.read_bytes())),)
        if not root.is_dir():
            return ()
        files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
        return tuple((p.relative_to(root).as_posix(), _file_digest(p.read_bytes()))
                     for p in files)
    except OSError:
        return ()


def _cache_dir() -> FsPath:
    return FsPath(tempfile.gettempdir()) / "mcheck-trace-sources"


def _materialize(src: Source) -> str:
    """A file holding the recorded text of ``src``: a copy under the cache directory."""
    assert src.text is not None
    d = _cache_dir() / src.digest
    f = d / (os.path.basename(src.file) or "source.py")
    data = src.text.encode("utf-8")
    try:
        if not (f.is_file() and f.read_bytes() == data):
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / f".{f.name}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, f)
    except OSError as e:
        raise TraceError(f"cannot write the trace's recorded {src.param} file to '{f}': "
                         f"{e.strerror or e}",
                         f"make {tempfile.gettempdir()} writable, or put {src.file} back "
                         "where the trace says") from e
    return str(f)


def _swap_file(value: str, old: str, new: str) -> str:
    """``value`` (``old`` or ``old:NAME``) with its file part replaced by ``new``."""
    return new + value[len(old):] if value.startswith(old) else new


def _words(line: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in line:
        if ch in " ,()[]{}":
            if word:
                out.append(word)
            word = ""
        else:
            word += ch
    if word:
        out.append(word)
    return out


def _what_differs(old: str, new: str) -> str:
    """The first line where two texts differ, and the words that changed there."""
    a, b = old.splitlines(), new.splitlines()
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x == y:
            continue
        if x is None:
            return f"line {i + 1} is new"
        if y is None:
            return f"line {i + 1} is gone"
        wa, wb = _words(x), _words(y)
        lo = 0
        while lo < min(len(wa), len(wb)) and wa[lo] == wb[lo]:
            lo += 1
        hi = 0
        while hi < min(len(wa), len(wb)) - lo and wa[-1 - hi] == wb[-1 - hi]:
            hi += 1
        was = " ".join(wa[lo:len(wa) - hi]) or "(nothing)"
        now = " ".join(wb[lo:len(wb) - hi]) or "(nothing)"
        return f"line {i + 1}: {was} -> {now}"
    return "only its line endings differ"


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
    #: the recorded files the parameters name (version 2)
    sources: tuple[Source, ...] = ()
    #: (file relative to the model path, digest) of the model module's files (version 2)
    model_files: tuple[tuple[str, str], ...] = ()
    #: the parameters as recorded, when :func:`load` pointed ``params`` at other files
    recorded_params: dict[str, Any] | None = None
    #: parameter -> (file used, why): where :func:`load` found each recorded source
    used: tuple[tuple[str, str, str], ...] = ()

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
            sources=_sources(model.params()),
            model_files=_model_files(str(model_path)),
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
            "params": to_json_value(self.recorded_params if self.recorded_params is not None
                                    else self.params),
            "property": self.property,
            "kind": self.kind,
            "message": self.message,
            "actions": [to_json_value(a) for a in self.actions],
            "states": list(self.states),
            **({"sources": [src.to_dict() for src in self.sources],
                "model_files": [list(x) for x in self.model_files]}
               if self.version >= 2 else {}),
        }

    def to_json(self) -> str:
        """Deterministic JSON text (same bytes for the same trace in every process)."""
        lines = []
        for key, value in self.to_dict().items():
            if key in ("actions", "states", "sources", "model_files"):
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
        if version not in VERSIONS or isinstance(version, bool):
            raise TraceError(f"{source} has trace format version {version!r}; this mcheck "
                             f"reads versions {', '.join(map(str, VERSIONS))}", regen)

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
        sources: list[Source] = []
        files: list[tuple[str, str]] = []
        if version >= 2:
            for i, x in enumerate(need("sources", list, "a list")):
                ok = (isinstance(x, dict) and set(x) == {"param", "file", "digest", "text"}
                      and all(isinstance(x[k], str) for k in ("param", "file", "digest"))
                      and (x["text"] is None or isinstance(x["text"], str)))
                if not ok:
                    raise TraceError(f"{source}: source {i + 1} must be an object with the "
                                     "strings param, file, digest and text", regen)
                if x["param"] not in params:
                    raise TraceError(f"{source}: source {i + 1} is for parameter "
                                     f"'{x['param']}', which the trace does not have", regen)
                sources.append(Source(x["param"], x["file"], x["digest"], x["text"]))
            for i, x in enumerate(need("model_files", list, "a list")):
                if not (isinstance(x, list) and len(x) == 2
                        and all(isinstance(y, str) for y in x)):
                    raise TraceError(f"{source}: model file {i + 1} must be a list of two "
                                     "strings (file, digest)", regen)
                files.append((x[0], x[1]))
        return cls(model=model, model_path=model_path, fingerprint=fp, params=params,
                   property=prop, kind=kind, message=message,
                   actions=tuple(from_json_value(a) for a in actions),
                   states=tuple(states), mcheck=mcheck_version, version=version,
                   sources=tuple(sources), model_files=tuple(files))

    def with_files(self, source: str | None = None) -> Trace:
        """This trace with parameters that name files which exist here.

        Each recorded source is used from its recorded path when the file there
        has the recorded digest, else from a copy of the recorded text (see the
        module docstring).  ``source`` (a file) replaces the recorded source of
        the same file name, or the only one: ``replay --policy FILE``.
        """
        if source is not None and not os.path.isfile(source):
            raise TraceError(f"no file at '{source}'",
                             "give the path of your policy or scenario file")
        target = None
        if source is not None:
            same = [s for s in self.sources
                    if os.path.basename(s.file) == os.path.basename(source)]
            if len(same) == 1 or len(self.sources) == 1:
                target = (same or list(self.sources))[0].param
            elif not self.sources:
                raise TraceError("the trace records no policy or scenario file to replace",
                                 "drop the file argument: the trace names no file")
            else:
                names = ", ".join(os.path.basename(s.file) for s in self.sources)
                raise TraceError(f"the trace records several files ({names}) and none is "
                                 f"named {os.path.basename(source)}",
                                 "give a file with the name of the one to replace")
        params = dict(self.params)
        used = []
        for src in self.sources:
            value = params[src.param]
            if not isinstance(value, str):
                continue
            if src.param == target:
                assert source is not None
                params[src.param] = _swap_file(value, src.file, source)
                used.append((src.param, source, "given"))
                continue
            try:
                here = _file_digest(FsPath(src.file).read_bytes())
            except OSError:
                here = None
            if here == src.digest:
                used.append((src.param, src.file, "recorded path"))
                continue
            if src.text is None:
                why = "is not there" if here is None else "changed"
                raise TraceError(f"the trace's {src.param} file '{src.file}' {why}, and the "
                                 "trace holds only its digest (it was too large to record)",
                                 "put the file back, or give the file to use")
            copy = _materialize(src)
            params[src.param] = _swap_file(value, src.file, copy)
            used.append((src.param, copy, "recorded text"))
        if params == self.params:
            return replace(self, used=tuple(used))
        return replace(self, params=params, recorded_params=dict(self.params),
                       used=tuple(used))


def _is_action(a: Any) -> bool:
    if isinstance(a, list):
        return all(_is_action(x) for x in a)
    return a is None or isinstance(a, (int, str, bool))


def load(file: str | os.PathLike[str], source: str | None = None) -> Trace:
    """Read and validate a trace file; :class:`TraceError` with one line on any fault.

    The trace's parameters name files that exist here (:meth:`Trace.with_files`;
    ``source`` replaces a recorded policy or scenario file).
    """
    return read(file).with_files(source)


def read(file: str | os.PathLike[str]) -> Trace:
    """Read and validate a trace file as written, parameters as recorded."""
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
        what = changes(trace)
        raise TraceError(f"model changed since the trace was written (fingerprint "
                         f"{trace.fingerprint}, now {now})"
                         + (f": {'; '.join(what)}" if what else ""), _regen(trace))
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


def changes(trace: Trace, model_path: str | None = None) -> list[str]:
    """What differs between the files the trace recorded and those used now, for people.

    A recorded source against the file :meth:`Trace.with_files` chose (the
    line and the words that changed), then each file of the model module at
    ``model_path`` (default: the trace's) whose digest differs, is new or is gone.
    """
    out = []
    used = {param: (f, why) for param, f, why in trace.used}
    for src in trace.sources:
        f, _why = used.get(src.param, (src.file, ""))
        try:
            data = FsPath(f).read_bytes()
        except OSError:
            out.append(f"{src.param} file {src.file} is not there")
            continue
        if _file_digest(data) == src.digest:
            continue
        name = os.path.basename(f)
        if src.text is None:
            out.append(f"{src.param} file {name} differs from the recorded one")
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            out.append(f"{src.param} file {name} is not UTF-8 text")
            continue
        out.append(f"{src.param} file {name} differs from the recorded one at "
                   f"{_what_differs(src.text, text)}")
    if trace.model_files:
        now = dict(_model_files(model_path or trace.model_path))
        if now:
            was = dict(trace.model_files)
            changed = [f for f in was if f in now and now[f] != was[f]]
            gone = [f for f in was if f not in now]
            new = [f for f in now if f not in was]
            for what, names in (("changed", changed), ("new", new), ("gone", gone)):
                if names:
                    out.append(f"model file{'s' if len(names) > 1 else ''} {what}: "
                               + ", ".join(names))
    return out


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
