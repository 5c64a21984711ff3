"""The proof cache: what a proof depends on, and entries that cannot be forged or go stale.

An entry is looked up under a key that digests everything the proof can reach
(:func:`proof_inputs`: the engine's sources, the model and its declaration walked
field by field, every user module reached), and is signed with an HMAC so that an
edited or copied one is not trusted.  What is digested, what is not seen, and why:
docs/proof.md, "The cache".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import sysconfig
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_ENV",
    "SECRET_ENV",
    "VOLATILE",
    "ProofInputs",
    "cache_dir",
    "files_unchanged",
    "load_entry",
    "proof_inputs",
    "secret_path",
    "store_entry",
    "value_digest",
]

CACHE_ENV = "MCHECK_CACHE_DIR"
SECRET_ENV = "MCHECK_PROOF_SECRET"
ENTRY_FORMAT = "mcheck-proof-entry-1"

#: a user module's (or class's) names of the module-level values (or instance fields) that
#: hold memos, values that never change what any function returns, only how fast: digested
#: by name, not by content
VOLATILE = "__proof_volatile__"
#: a walk that visits more objects than this is not digested (the proof is not cached)
NODE_LIMIT = 2_000_000
DEPTH_LIMIT = 300


def cache_dir() -> Path:
    """``$MCHECK_CACHE_DIR``, else ``.mcheck-cache`` in the working directory."""
    return Path(os.environ.get(CACHE_ENV) or ".mcheck-cache")


def secret_path() -> Path:
    """The per-installation secret that signs entries: ``$MCHECK_PROOF_SECRET``, else
    ``$XDG_CONFIG_HOME/mcheck/proof-secret`` (``~/.config/mcheck/proof-secret``)."""
    given = os.environ.get(SECRET_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mcheck" / "proof-secret"


def _secret(create: bool) -> bytes | None:
    """The secret's bytes (made on first use when ``create``); None when it cannot be had."""
    path = secret_path()
    try:
        data = path.read_bytes().strip()
        return data if len(data) >= 32 else None
    except FileNotFoundError:
        if not create:
            return None
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    except FileExistsError:
        pass  # another process made it first: read theirs
    except OSError:
        return None
    try:
        data = path.read_bytes().strip()
    except OSError:
        return None
    return data if len(data) >= 32 else None


# -- what a proof depends on ---------------------------------------------------------------------


@dataclass
class ProofInputs:
    """The digest of everything a proof can reach, and what it was made of.

    ``files``: the source files digested (engine and user modules);
    ``unverifiable``: the objects the walk could not see into (when not
    empty, the proof is not cached); ``nodes``: objects visited;
    ``digests``: those files and every other loaded user module's source
    file, each by its digest (what an entry records).
    """

    digest: str
    files: tuple[str, ...]
    unverifiable: tuple[str, ...] = ()
    nodes: int = 0
    #: each file's digest (of its bytes)
    digests: dict[str, str] | None = None

    @property
    def cacheable(self) -> bool:
        return not self.unverifiable


def _dirs() -> tuple[str, tuple[str, ...], str]:
    paths = sysconfig.get_paths()
    site = tuple(sorted({os.path.realpath(paths[k]) for k in ("purelib", "platlib")}))
    stdlib = os.path.realpath(paths["stdlib"])
    engine = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return engine, site, stdlib


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


#: values whose repr is their whole content
_PLAIN = (type(None), bool, int, float, complex, str, bytes, range, slice, type(Ellipsis),
          type(NotImplemented))
_FUNCS = (types.BuiltinFunctionType, types.MethodWrapperType, types.WrapperDescriptorType,
          types.MethodDescriptorType, types.ClassMethodDescriptorType,
          types.GetSetDescriptorType, types.MemberDescriptorType)
#: module-level names every module has, filled in by the import system
_MODULE_DUNDERS = frozenset(("__builtins__", "__loader__", "__spec__", "__cached__", "__file__",
                             "__name__", "__package__", "__doc__", "__path__",
                             "__annotations__"))


class _Walk:
    """Feeds a canonical encoding of an object graph into one hash."""

    def __init__(self) -> None:
        self.h = hashlib.blake2b(digest_size=20)
        self.engine, self.site, self.stdlib = _dirs()
        self.refs: dict[int, int] = {}
        self.keep: list[Any] = []  # every visited object stays alive: ids stay unique
        self.modules: dict[str, dict[str, Any]] = {}  # user module file -> its globals
        self.queue: list[tuple[str, dict[str, Any]]] = []
        self.files: dict[str, str] = {}
        self.unverifiable: list[str] = []
        self.depth = 0
        #: the root whose switch fields are left out, and those fields (boards: by class)
        self.switch_root: Any = None
        self.switch_fields: frozenset[str] = frozenset()

    def emit(self, *parts: Any) -> None:
        for p in parts:
            b = p if isinstance(p, bytes) else str(p).encode("utf-8", "surrogatepass")
            self.h.update(len(b).to_bytes(8, "little"))
            self.h.update(b)

    def bad(self, what: str) -> None:
        if what not in self.unverifiable:
            self.unverifiable.append(what)
        self.emit("unverifiable", what)

    # -- files and modules ------------------------------------------------------------------

    def where(self, path: str | None) -> str:
        """"engine", "site", "stdlib", "user" or "none" for a source path."""
        if not path or not os.path.isfile(path):
            return "none"
        real = os.path.realpath(path)
        if _under(real, self.engine):
            return "engine"
        if any(_under(real, s) for s in self.site):
            return "site"
        if _under(real, self.stdlib):
            return "stdlib"
        return "user"

    def file(self, path: str) -> None:
        real = os.path.realpath(path)
        if real not in self.files:
            self.files[real] = _file_digest(real)
        self.emit("file", real, self.files[real])

    def engine_files(self) -> None:
        for dirpath, dirnames, names in os.walk(self.engine):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__pycache__")))
            for n in sorted(names):
                if n.endswith(".py"):
                    self.file(os.path.join(dirpath, n))

    def module_globals(self, g: dict[str, Any], name: str) -> None:
        """A module (by its globals): user modules are walked in full, once."""
        path = g.get("__file__")
        kind = self.where(path) if isinstance(path, str) else "none"
        self.emit("module", kind, name if kind != "user" else "")
        if kind == "user":
            assert isinstance(path, str)
            real = os.path.realpath(path)
            self.emit(real)
            if real not in self.modules:
                self.modules[real] = g
                self.queue.append((real, g))
        elif kind == "site":
            top = sys.modules.get(name.partition(".")[0])
            self.emit(getattr(top, "__version__", ""))
            assert isinstance(path, str)
            self.file(path)
        elif kind == "none" and not name.startswith(("builtins", "sys", "_")) \
                and name not in sys.builtin_module_names:
            self.bad(f"module {name} (no source file)")

    def drain(self) -> None:
        while self.queue:
            real, g = self.queue.pop(0)
            self.emit("user module", real)
            self.file(real)
            volatile = g.get(VOLATILE, ())
            if not isinstance(volatile, tuple | list | frozenset | set) or \
                    not all(isinstance(v, str) for v in volatile):
                volatile = ()
                self.bad(f"{VOLATILE} of {real} (not a collection of names)")
            for k in sorted(g):
                if k in _MODULE_DUNDERS:
                    continue
                self.emit("global", k)
                if k in volatile:
                    self.emit("volatile")  # a memo: its name counts, its contents do not
                else:
                    self.value(g[k])

    # -- values -----------------------------------------------------------------------------

    def value(self, x: Any) -> None:
        t = type(x)
        if t in _PLAIN:
            self.emit(t.__name__, repr(x))
            return
        i = self.refs.get(id(x))
        if i is not None:
            self.emit("ref", i)
            return
        if len(self.refs) >= NODE_LIMIT:
            self.bad(f"more than {NODE_LIMIT} objects")
            return
        self.refs[id(x)] = len(self.refs)
        self.keep.append(x)
        self.depth += 1
        try:
            if self.depth > DEPTH_LIMIT:
                self.bad(f"objects nested deeper than {DEPTH_LIMIT}")
            else:
                self._compound(x, t)
        finally:
            self.depth -= 1

    def _items(self, xs: Iterable[Any]) -> None:
        n = 0
        for y in xs:
            self.value(y)
            n += 1
        self.emit("end", n)

    def _compound(self, x: Any, t: type) -> None:
        if t is tuple or t is list:
            self.emit(t.__name__)
            self._items(x)
        elif t is dict or t is types.MappingProxyType:
            self.emit("dict")
            keys = list(x)
            try:
                keys.sort()
            except TypeError:
                pass  # mixed keys: insertion order (a different order only misses the cache)
            for k in keys:
                self.value(k)
                self.value(x[k])
            self.emit("end", len(keys))
        elif t is set or t is frozenset:
            self.emit(t.__name__)
            try:
                elems = sorted(x)
            except TypeError:
                elems = sorted(x, key=repr)
            self._items(elems)
        elif t is types.FunctionType:
            self.function(x)
        elif t is types.CodeType:
            self.code(x)
        elif t is types.MethodType:
            self.emit("method")
            self.value(x.__func__)
            self.value(x.__self__)
        elif t is types.ModuleType:
            self.module_globals(vars(x), x.__name__)
        elif isinstance(x, type):
            self.cls(x)
        elif t is types.CellType:
            try:
                self.emit("cell")
                self.value(x.cell_contents)
            except ValueError:
                self.emit("empty cell")
        elif t in (staticmethod, classmethod):
            self.emit(t.__name__)
            self.value(x.__func__)
        elif t is property:
            self.emit("property")
            self._items((x.fget, x.fset, x.fdel))
        elif isinstance(x, _FUNCS):
            self.emit("builtin", getattr(x, "__module__", None) or "",
                      getattr(x, "__qualname__", None) or t.__name__)
            owner = getattr(x, "__self__", None)
            if owner is not None and not isinstance(owner, types.ModuleType):
                self.value(owner)
        elif t.__module__ == "functools" and t.__name__ == "partial":
            self.emit("partial")
            self._items((x.func, x.args, x.keywords))
        elif hasattr(x, "__wrapped__") and callable(x):
            self.emit("wrapper", t.__qualname__)
            self.value(x.__wrapped__)
        else:
            self.instance(x, t)

    def function(self, f: types.FunctionType) -> None:
        self.emit("function", f.__module__ or "", f.__qualname__)
        self.code(f.__code__)
        self.value(f.__defaults__)
        self.value(f.__kwdefaults__)
        self.value(f.__closure__)
        g = f.__globals__
        if "__file__" in g or "__name__" in g and g["__name__"] in sys.modules:
            self.module_globals(g, str(g.get("__name__", "")))
        else:
            # Code made by exec() with its own globals: what it names, by value.
            self.emit("globals")
            for n in sorted(_names(f.__code__)):
                if n in g and n not in _MODULE_DUNDERS:
                    self.emit(n)
                    self.value(g[n])

    def code(self, c: types.CodeType) -> None:
        self.emit("code", c.co_qualname, c.co_argcount, c.co_posonlyargcount,
                  c.co_kwonlyargcount, c.co_flags, c.co_code, c.co_names, c.co_varnames,
                  c.co_freevars, c.co_cellvars)
        self._items(c.co_consts)

    def cls(self, c: type) -> None:
        mod = sys.modules.get(c.__module__)
        self.emit("class", c.__module__, c.__qualname__)
        path = getattr(mod, "__file__", None)
        kind = self.where(path)
        if kind == "engine" or kind == "stdlib" or c.__module__ == "builtins":
            return
        if kind == "site":
            self.module_globals(vars(mod), c.__module__)
            return
        if mod is not None and kind == "user":
            self.module_globals(vars(mod), c.__module__)
        for base in c.__mro__[1:]:
            self.value(base)
        for k in sorted(vars(c)):
            if k in ("__dict__", "__weakref__", "__doc__", "__module__"):
                continue
            self.emit(k)
            self.value(vars(c)[k])

    def instance(self, x: Any, t: type) -> None:
        self.emit("instance")
        self.value(t)
        d = getattr(x, "__dict__", None)
        slots = [s for k in t.__mro__ for s in k.__dict__.get("__slots__", ())
                 if isinstance(s, str)] if not isinstance(t.__dict__.get("__slots__", ()),
                                                          str) else []
        if isinstance(d, dict) and x is self.switch_root:
            # the switch fields are left out (docs/proof.md, "Sharing a proof across switch
            # boards"): a board by its class, a label by its name; reads of them are recorded
            volatile = getattr(t, VOLATILE, ())
            self.emit("switched fields")
            for k in sorted(d):
                self.emit(k)
                if k in self.switch_fields:
                    self.emit("switch")
                    if k in d and getattr(type(d[k]), "__proof_switch_board__", None):
                        self.value(type(d[k]))
                elif isinstance(volatile, tuple | list | frozenset | set) and k in volatile:
                    self.emit("volatile")
                else:
                    self.value(d[k])
        elif isinstance(d, dict):
            volatile = getattr(t, VOLATILE, ())
            if volatile and isinstance(volatile, tuple | list | frozenset | set):
                self.emit("fields")
                for k in sorted(d):
                    self.emit(k)
                    if k in volatile:
                        self.emit("volatile")
                    else:
                        self.value(d[k])
            else:
                self.value(d)
        for s in slots:
            if s in ("__dict__", "__weakref__"):
                continue
            self.emit(s)
            self.value(getattr(x, s, _MISSING))
        if isinstance(x, tuple | list | dict | set | frozenset):  # subclasses of containers
            self.emit("items")
            self._compound(x, tuple if isinstance(x, tuple) else list if isinstance(x, list)
                           else dict if isinstance(x, dict) else frozenset)
        elif not isinstance(d, dict) and not slots:
            r = repr(x)
            if " at 0x" in r or " object at " in r:
                self.bad(f"a {t.__module__}.{t.__qualname__} (its state cannot be read)")
            else:
                self.emit("repr", r)


_MISSING = ("<unset slot>",)


def _names(c: types.CodeType) -> set[str]:
    out = set(c.co_names)
    for k in c.co_consts:
        if isinstance(k, types.CodeType):
            out |= _names(k)
    return out


def _solver_version() -> str:
    try:
        from importlib.metadata import version

        return version("z3-solver")
    except Exception:  # not installed: a proof would fail anyway
        return "?"


def proof_inputs(*roots: Any, switches: Iterable[str] = ()) -> ProofInputs:
    """The digest of everything reachable from ``roots`` that a proof can depend on (see the
    module docstring).  ``switches``: fields of the first root left out (a switch board's
    class stays in), for a key that a proof's recorded switch reads complete."""
    w = _Walk()
    w.emit("python", sys.version, "solver", _solver_version())
    left_out = frozenset(switches)
    if left_out and roots:
        w.switch_root = roots[0]
        w.switch_fields = left_out
        w.emit("switches", *sorted(left_out))
    w.engine_files()
    for r in roots:
        w.emit("root")
        w.value(r)
        w.drain()
    # Loaded user modules that nothing above refers to: code can still import them (an import
    # inside a function).  Not in the key (which modules a process has loaded depends on the
    # program, not on the model): an entry records their files and checks them when used.
    digests = dict(w.files)
    for name in sorted(sys.modules):
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str) and w.where(path) == "user":
            real = os.path.realpath(path)
            if real not in digests:
                digests[real] = _file_digest(real)
    return ProofInputs(w.h.hexdigest(), tuple(sorted(w.files)), tuple(w.unverifiable),
                       len(w.refs), dict(sorted(digests.items())))


def value_digest(x: Any) -> str | None:
    """The digest of one value walked as the key walks it (a user module it reaches is walked
    in full), or None when part of it cannot be digested."""
    w = _Walk()
    w.emit("value")
    w.value(x)
    w.drain()
    return None if w.unverifiable else w.h.hexdigest()


def _file_digest(path: str) -> str:
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=20).hexdigest()
    except OSError:
        return "unreadable"


def files_unchanged(digests: Any) -> bool:
    """True when ``digests`` (path -> digest, as :attr:`ProofInputs.digests`) still matches
    every file; False for anything else (a changed, missing or unreadable file, bad data)."""
    if not isinstance(digests, dict):
        return False
    for path, d in digests.items():
        if not isinstance(path, str) or not isinstance(d, str) or d == "unreadable":
            return False
        if _file_digest(path) != d:
            return False
    return True


# -- entries --------------------------------------------------------------------------------------


def _mac(secret: bytes, key: str, payload: dict[str, Any]) -> str:
    body = json.dumps({"format": ENTRY_FORMAT, "key": key, "payload": payload},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(secret, body.encode("ascii"), hashlib.sha256).hexdigest()


def load_entry(path: Path, key: str) -> dict[str, Any] | None:
    """The payload stored under ``key`` at ``path``, or None: missing, unreadable, for
    another key, or not signed by this installation's secret (edited, copied, forged)."""
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(d, dict) or d.get("format") != ENTRY_FORMAT or d.get("key") != key:
        return None
    payload, mac = d.get("payload"), d.get("mac")
    if not isinstance(payload, dict) or not isinstance(mac, str):
        return None
    secret = _secret(create=False)
    if secret is None:
        return None
    try:
        good = _mac(secret, key, payload)
    except (TypeError, ValueError):
        return None
    return payload if hmac.compare_digest(good, mac) else None


def store_entry(path: Path, key: str, payload: dict[str, Any]) -> bool:
    """Write a signed entry; False when it cannot be written (a read-only directory or
    secret: the proof then runs again next time)."""
    secret = _secret(create=True)
    if secret is None:
        return False
    doc = {"format": ENTRY_FORMAT, "key": key, "payload": payload,
           "mac": _mac(secret, key, payload)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        return False
    return True

