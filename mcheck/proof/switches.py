"""Switch boards: which of its model's switches a proof read, so that its certificate serves
every model that agrees on them (docs/proof.md, "Sharing a proof across switch boards").

A model field holds a *switch board* when the class of its value declares
``__proof_switch_board__``: True, or a tuple naming the model's fields that only label the
board (its name as the user gave it).  The cache key leaves out the board's values (its class
stays in the key) and the labels; while the proof runs, a :class:`Recorder` notes every
attribute read on the board object (wherever the code found it) and every read of a label on
the model, in every forked worker.  An entry then applies to any model whose board and labels
agree on every read it recorded.  A read that the recorder cannot value (a method, the board's
``__dict__``) makes the certificate unshared: it is kept under the full key only.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["BOARD", "MODEL_SWITCHES", "Recorder", "SwitchSpec", "Touched", "switch_spec"]

#: the class attribute that makes an instance a switch board: True, or the model's label fields
BOARD = "__proof_switch_board__"
#: a model class may also name its switch fields itself (boards and labels)
MODEL_SWITCHES = "__proof_switches__"
#: reads of these names on a board never change with its values (its class is in the key)
_CLASS_NAMES = frozenset(("__class__",))


@dataclass(frozen=True)
class SwitchSpec:
    """The switch fields of one model: ``boards`` hold switch boards, ``labels`` plain values."""

    boards: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(sorted(self.boards + self.labels))


def _is_board(value: Any) -> bool:
    return getattr(type(value), BOARD, None) not in (None, False) and \
        isinstance(getattr(value, "__dict__", None), dict)


def switch_spec(model: Any) -> SwitchSpec | None:
    """The model's switch fields, or None when it has none (or they cannot be recorded)."""
    fields = getattr(model, "__dict__", None)
    if not isinstance(fields, dict):
        return None
    boards = sorted(k for k, v in fields.items() if isinstance(k, str) and _is_board(v))
    labels: set[str] = set()
    for k in boards:
        declared = getattr(type(fields[k]), BOARD)
        if isinstance(declared, tuple):
            labels |= {x for x in declared if isinstance(x, str)}
    declared = getattr(type(model), MODEL_SWITCHES, ())
    if isinstance(declared, str):
        declared = (declared,)
    for k in declared if isinstance(declared, tuple) else ():
        if isinstance(k, str) and k in fields:
            (boards.append(k) if _is_board(fields[k]) else labels.add(k))
    labels = {k for k in labels if k in fields and k not in boards}
    if not boards and not labels:
        return None
    return SwitchSpec(tuple(sorted(set(boards))), tuple(sorted(labels)))


class Touched(BaseException):
    """A hidden label was used through the model's ``__dict__``: this run cannot be shared."""


class _Hidden:
    """What a label field holds in the model's ``__dict__`` while the proof runs: reads through
    the attribute get the value (and are recorded); any use of this stand-in raises
    :class:`Touched` (the proof then runs again without recording)."""

    __slots__ = ("_recorder",)

    def __init__(self, recorder: Recorder) -> None:
        object.__setattr__(self, "_recorder", recorder)

    def _touch(self, *_args: Any, **_kw: Any) -> Any:
        object.__getattribute__(self, "_recorder").note("!", "touched")
        raise Touched("a label field was used through the model's __dict__")

    __getattribute__ = __setattr__ = __delattr__ = __call__ = __getitem__ = _touch
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _touch  # type: ignore
    __bool__ = __len__ = __iter__ = __contains__ = __str__ = __repr__ = _touch  # type: ignore
    __format__ = __int__ = __index__ = __add__ = __radd__ = __mod__ = _touch  # type: ignore
    __reduce__ = __reduce_ex__ = __copy__ = __deepcopy__ = _touch  # type: ignore


class Recorder:
    """Records the switch reads of one proof, across the forked workers it may start (each
    process appends what it reads first to one unlinked file the parent reads at the end)."""

    def __init__(self, model: Any, spec: SwitchSpec) -> None:
        self.model = model
        self.spec = spec
        self.boards = {k: vars(model)[k] for k in spec.boards}
        self.labels = {k: vars(model)[k] for k in spec.labels}
        self.seen: set[tuple[str, str]] = set()
        fd, path = tempfile.mkstemp(prefix="mcheck-switch-reads-")
        os.unlink(path)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
        self.fd = fd
        #: why the run cannot be shared, when it cannot
        self.failed = ""
        #: the classes were hooked: the run recorded its reads (and hid the labels)
        self.hooked = False

    def note(self, kind: str, name: str) -> None:
        """Record that ``name`` was read (``kind``: a board field's name, "label" or "!")."""
        key = (kind, name)
        if key in self.seen:
            return
        self.seen.add(key)
        line = f"{kind}\t{name}\n"
        if line.count("\t") != 1 or line.count("\n") != 1:
            line = "!\todd name\n"
        os.write(self.fd, line.encode("utf-8", "backslashreplace"))

    def reads(self) -> dict[str, set[str]]:
        """Every read recorded in every process: kind -> names ("!" for what spoils it)."""
        os.lseek(self.fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            b = os.read(self.fd, 1 << 16)
            if not b:
                break
            chunks.append(b)
        out: dict[str, set[str]] = {}
        for line in b"".join(chunks).decode("utf-8", "replace").splitlines():
            kind, _, name = line.partition("\t")
            out.setdefault(kind, set()).add(name)
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @contextmanager
    def recording(self) -> Iterator[bool]:
        """Record while the block runs; yields False (and records nothing) when the classes
        involved cannot be hooked (one is already being recorded, or is not a Python class)."""
        patched: list[tuple[type, Any]] = []
        hidden: dict[str, Any] = {}
        try:
            ok = self.hooked = self._hook_all(patched)
            if ok:
                d = vars(self.model)
                for k in self.labels:
                    hidden[k] = d[k] = _Hidden(self)
            yield ok
        finally:
            d = vars(self.model)
            for k, h in hidden.items():
                if d.get(k) is not h:
                    self.failed = f"the label {k} was replaced while the proof ran"
                d[k] = self.labels[k]
            for cls, own in reversed(patched):
                if own is _ABSENT:
                    delattr(cls, "__getattribute__")
                else:
                    cls.__getattribute__ = own  # type: ignore[method-assign]

    def _hook_all(self, patched: list[tuple[type, Any]]) -> bool:
        watch: dict[type, list[tuple[Any, str]]] = {}
        for k, b in self.boards.items():
            watch.setdefault(type(b), []).append((b, k))
        if self.labels:
            watch.setdefault(type(self.model), []).append((self.model, "label"))
        for cls in watch:
            if not _hookable(cls):
                self.failed = f"{cls.__qualname__} cannot be recorded"
                return False
        for cls, objs in watch.items():
            own = cls.__dict__.get("__getattribute__", _ABSENT)
            cls.__getattribute__ = self._hook(cls, objs)  # type: ignore[method-assign]
            patched.append((cls, own))
        return True

    def _hook(self, cls: type, objs: list[tuple[Any, str]]) -> Any:
        orig = cls.__getattribute__
        note = self.note
        labels = self.labels
        kinds = {id(o): k for o, k in objs}

        def getattribute(obj: Any, name: str) -> Any:
            kind = kinds.get(id(obj))
            if kind is not None:
                if kind != "label":
                    note(kind, name)
                elif name in labels:
                    note(kind, name)
                    return labels[name]
            return orig(obj, name)
        getattribute.__proof_recorder__ = True  # type: ignore[attr-defined]
        return getattribute


_ABSENT = ("<no own __getattribute__>",)


def _hookable(cls: type) -> bool:
    if cls.__flags__ & (1 << 9) == 0:  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement
        return False
    return not getattr(cls.__getattribute__, "__proof_recorder__", False)
