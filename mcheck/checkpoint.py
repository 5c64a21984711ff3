"""Checkpoints of the partitioned search, taken at level boundaries, resumable at any rank count.

A checkpoint directory holds ``levels/`` (each level's parent table, one file per
rank, written once and never changed), one ``ckpt-<depth>/`` directory per
checkpoint (each rank's visited slice and frontier, rank 0's ``meta.pickle``) and
``CURRENT``, which names the newest complete checkpoint.  Every file is written
under a temporary name and renamed, ``CURRENT`` last, so a run killed while writing
leaves the previous checkpoint usable.  Format and argument: ``docs/parallel.md``.
"""

from __future__ import annotations

import os
import pickle
import shutil
import time
from array import array
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mcheck.errors import UsageError
from mcheck.fingerprint import encode_state, fingerprint_of
from mcheck.model import Model, Property

__all__ = ["FORMAT", "Checkpoint", "CheckpointError", "FileTable", "identity_of", "load"]

#: The checkpoint format's version: a checkpoint of another version is refused.
FORMAT = 1
_MAGIC = "mcheck-checkpoint"

#: What a differing identity field means, for people.
_WHAT = MappingProxyType({
    "model": "another model (its name, version, parameters or initial states differ)",
    "properties": "other properties", "stop_at_first": "another --all setting",
    "deadlock": "another --deadlock setting", "symmetry": "another --symmetry setting"})


class CheckpointError(UsageError):
    """A checkpoint that cannot be written or resumed: missing, corrupt, or another run's."""


def identity_of(model: Model, props: list[Property], stop_at_first: bool, deadlock: bool,
                canon: Any) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote the checkpoint."""
    return {"model": model.fingerprint(), "properties": sorted(p.name for p in props),
            "stop_at_first": stop_at_first, "deadlock": deadlock,
            "symmetry": canon is not None}


def _level_file(root: Path, level: int, size: int, rank: int) -> Path:
    return root / "levels" / f"L{level:06d}-n{size}-r{rank}.bin"


def _dump(path: Path, obj: Any) -> None:
    """Write ``obj`` to ``path`` through a temporary name, so a reader sees all or nothing."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump((_MAGIC, FORMAT, obj), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


#: Every global of mcheck's a checkpoint file refers to: an ``array`` (the tables,
#: fingerprints and generation numbers) and, in ``meta.pickle``, the results found so far
#: (states are ints and tuples; actions are the model's own values).
_GLOBALS = frozenset({("array", "array"), ("array", "_array_reconstructor"),
                      ("mcheck.result", "PropertyResult"), ("mcheck.result", "Path"),
                      ("mcheck.result", "Verdict"), ("mcheck.model", "Kind")})


class _Unpickler(pickle.Unpickler):
    """Reads what :func:`_dump` writes and nothing more: a file naming any other global
    (a function or class, which unpickling calls) is refused, so resuming a checkpoint
    from elsewhere cannot run code.  Classes the model's own package defines (``package``:
    its module, or the package its module is in) are let through, for its actions: their
    code is the model's, which the run executes anyway."""

    def __init__(self, f: Any, package: str | None) -> None:
        super().__init__(f)
        self.package = package

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _GLOBALS:
            return super().find_class(module, name)
        if self._ours(module):
            got = super().find_class(module, name)
            # a class the package defines, not one it imported (subprocess.Popen, say)
            if isinstance(got, type) and self._ours(getattr(got, "__module__", "")):
                return got
        raise _Foreign(f"{module}.{name}")

    def _ours(self, module: str) -> bool:
        top = self.package
        return top is not None and (module == top or module.startswith(top + "."))


class _Foreign(pickle.UnpicklingError):
    """A checkpoint file names a global no checkpoint holds."""


def _read(root: Path, path: Path, package: str | None = None) -> Any:
    try:
        with open(path, "rb") as f:
            magic, version, obj = _Unpickler(f, package).load()
    except _Foreign as e:
        raise CheckpointError(f"checkpoint {root} cannot be resumed safely: {path.name} refers "
                              f"to {e}, which is neither mcheck's nor the model's (it was not "
                              "read)", "resume only from a directory a --checkpoint run wrote, "
                              "of a model whose actions are made of its own classes") from None
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {root} is incomplete: {path.name} is missing",
                              "resume from an intact copy, or start again with "
                              "--checkpoint") from None
    except Exception as e:
        raise CheckpointError(f"checkpoint {root} is corrupt: {path.name} cannot be read "
                              f"({type(e).__name__})", "resume from an intact copy, or start "
                              "again with --checkpoint") from None
    if magic != _MAGIC or version != FORMAT:
        raise CheckpointError(f"checkpoint {root} has format {version!r}, this mcheck reads "
                              f"format {FORMAT}", "start again with --checkpoint")
    return obj


def _corrupt(root: Path, name: str, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {root} is corrupt: {name} cannot be read ({why})",
                           "resume from an intact copy, or start again with --checkpoint")


class FileTable:
    """A level's parent table read back from a checkpoint, in the layout of the run that
    wrote it (``size`` ranks); any rank reads any entry."""

    def __init__(self, root: Path, level: int, size: int) -> None:
        self.root, self.level, self.size = root, level, size
        self.cache: dict[int, tuple[array, array, array]] = {}

    def entry(self, r: int, j: int) -> tuple[int, int, int]:
        if r not in self.cache:
            self.cache[r] = _read(self.root, _level_file(self.root, self.level, self.size, r))
        try:
            po, pj, si = self.cache[r]
            return int(po[j]), int(pj[j]), int(si[j])
        except (TypeError, ValueError, IndexError):
            raise _corrupt(self.root, _level_file(self.root, self.level, self.size, r).name,
                           "its entries do not match the checkpoint") from None

    def files(self) -> list[Path]:
        return [_level_file(self.root, self.level, self.size, r) for r in range(self.size)]


class Checkpoint:
    """Writes the checkpoints of one run into ``directory`` (every rank holds one)."""

    def __init__(self, directory: Any, transport: Any, identity: dict[str, Any],
                 every: float | None) -> None:
        self.root = Path(directory)
        self.t = transport
        self.identity = identity
        self.every = every
        self.last = time.monotonic()
        self.persisted: set[int] = set()  # levels whose tables are in this directory
        # One name for this run's temporary directories, the same on every rank.
        self.run_id = transport.bcast(f"{os.getpid()}-{time.time_ns()}", root=0)

    def due(self, now: float) -> bool:
        return self.every is None or now - self.last >= self.every

    def write(self, s: Any) -> None:
        """Write the checkpoint of search ``s`` at its level boundary (a collective)."""
        from mcheck.parallel import LevelTable

        t = self.t
        tag = f"ckpt-{s.depth:06d}"
        tmp = self.root / f"{tag}.{self.run_id}.tmp"
        err = None
        try:
            (self.root / "levels").mkdir(parents=True, exist_ok=True)
            tmp.mkdir(parents=True, exist_ok=True)
            for level, table in enumerate(s.tables):
                if level in self.persisted:
                    continue
                if isinstance(table, LevelTable):
                    _dump(_level_file(self.root, level, t.size, t.rank),
                          (table.po, table.pj, table.si))
                elif t.rank == 0 and table.root.resolve() != self.root.resolve():
                    for f in table.files():
                        part = self.root / "levels" / (f.name + f".{self.run_id}.tmp")
                        shutil.copyfile(f, part)
                        os.replace(part, self.root / "levels" / f.name)
            _dump(tmp / f"seen-r{t.rank}.bin", array("q", iter(s.seen)))
            _dump(tmp / f"front-r{t.rank}.bin",
                  (s.front_g, [x if type(x) is bytes else encode_state(x) for x in s.front]))
        except OSError as e:
            err = f"{type(e).__name__}: {e.strerror or e}"
        errs = [e for e in t.allgather(err) if e is not None]
        if errs:
            raise CheckpointError(f"cannot write a checkpoint into {self.root}: {errs[0]}",
                                  "give --checkpoint a writable directory with room")
        self.persisted.update(range(len(s.tables)))
        if t.rank == 0:
            self._commit(s, tag, tmp)
        self.last = time.monotonic()

    def _commit(self, s: Any, tag: str, tmp: Path) -> None:
        from mcheck.parallel import LevelTable

        layouts = [self.t.size if isinstance(x, LevelTable) else x.size for x in s.tables]
        meta = {"identity": self.identity, "size": self.t.size, "depth": s.depth,
                "layouts": layouts, "width": s.width, "n_states": s.n_states,
                "transitions": s.transitions, "counts": s.counts, "found": s.found,
                "witness": s.witness, "has_witness": s.has_witness}
        try:
            _dump(tmp / "meta.pickle", meta)
            final = self.root / tag
            current = self.root / "CURRENT"
            previous = current.read_text().strip() if current.exists() else None
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            part = self.root / f"CURRENT.{self.run_id}.tmp"
            part.write_text(tag + "\n")
            os.replace(part, current)
            if previous and previous != tag and (self.root / previous).is_dir():
                shutil.rmtree(self.root / previous)
        except OSError as e:
            raise CheckpointError(f"cannot write a checkpoint into {self.root}: "
                                  f"{type(e).__name__}: {e.strerror or e}",
                                  "give --checkpoint a writable directory with room") from None


def load(directory: Any, s: Any, identity: dict[str, Any]) -> None:
    """Load the newest checkpoint in ``directory`` into search ``s``, re-partitioned for
    this run's ranks (every rank calls it)."""
    from mcheck.parallel import LevelTable

    root = Path(directory)
    current = root / "CURRENT"
    try:
        tag = current.read_text().strip()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint in {root}",
                              "give --resume the directory a --checkpoint run wrote") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {root} cannot be read: {type(e).__name__}",
                              "give --resume the directory a --checkpoint run wrote") from None
    top = type(s.model).__module__.split(".")[0]
    # mcheck's own classes are never a model's actions: only those _GLOBALS names
    meta = _read(root, root / tag / "meta.pickle", None if top == "mcheck" else top)
    try:
        old = dict(meta["identity"])
        size, depth, layouts = int(meta["size"]), int(meta["depth"]), list(meta["layouts"])
        if any(k not in meta for k in ("width", "n_states", "transitions", "counts",
                                       "found", "witness", "has_witness")):
            raise KeyError
    except (TypeError, KeyError, ValueError):
        raise _corrupt(root, "meta.pickle", "it lacks its fields") from None
    for k, v in identity.items():
        if old.get(k) != v:
            raise CheckpointError(f"checkpoint {root} was written for {_WHAT[k]}",
                                  "resume with the model and flags it was written with, or "
                                  "start again with --checkpoint")
    b = s.bounds
    if b.max_depth is not None and depth > b.max_depth:
        raise CheckpointError(f"checkpoint {root} is at depth {depth}, beyond --max-depth "
                              f"{b.max_depth}", "resume with a larger --max-depth, or none")
    if b.max_states is not None and meta["n_states"] >= b.max_states:
        raise CheckpointError(f"checkpoint {root} holds {meta['n_states']} states already, "
                              f"--max-states {b.max_states} stops before",
                              "resume with a larger --max-states, or none")
    me, n = s.me, s.size
    s.tables = [FileTable(root, level, layouts[level]) for level in range(depth)]
    top = FileTable(root, depth, size)
    mine = []
    for r in range(size):
        name = f"seen-r{r}.bin"
        try:
            for fp in _read(root, root / tag / name):
                if fp % n == me:
                    s.seen.add(fp)
            name = f"front-r{r}.bin"
            g, datas = _read(root, root / tag / name)
            for j, data in enumerate(datas):
                if fingerprint_of(data) % n == me:
                    mine.append((int(g[j]), data, r, j))  # decoded when expanded
        except (TypeError, ValueError, IndexError, OverflowError):
            raise _corrupt(root, name, "its contents are not a rank's slice") from None
    mine.sort(key=lambda x: x[0])
    entries = [top.entry(r, j) for _g, _x, r, j in mine]
    s.tables.append(LevelTable([e[0] for e in entries], [e[1] for e in entries],
                               [e[2] for e in entries]))
    s.front = [x[1] for x in mine]
    s.front_g = array("q", [x[0] for x in mine])
    s.depth, s.width = depth, meta["width"]
    s.n_states, s.transitions = meta["n_states"], meta["transitions"]
    s.counts, s.found = list(meta["counts"]), dict(meta["found"])
    s.witness, s.has_witness = list(meta["witness"]), list(meta["has_witness"])
