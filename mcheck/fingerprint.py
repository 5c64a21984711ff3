"""Stable fingerprints of values: the same in every process and under any PYTHONHASHSEED.

Python's built-in hash is salted for ``str`` and ``None``; nothing persisted or
compared across processes may depend on it.  These digests encode a value
canonically (type tag, length, contents) and hash the bytes with BLAKE2b.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

__all__ = ["digest", "encode", "fingerprint64", "int_fingerprint", "require_ints"]

#: The fingerprint store's hash: CPython hashes ints and tuples of ints without the
#: per-process salt, so this is the same in every process and under any
#: PYTHONHASHSEED -- for int tuples only, which ``require_ints`` checks.  (CPython
#: hashes -1 and -2 alike: a field holding both would merge two states.)
int_fingerprint: Callable[[Any], int] = hash  # stable for int tuples (see above)


def require_ints(state: Any) -> None:
    """Raise ValueError unless ``state`` is built from ints and tuples only."""
    stack = [state]
    while stack:
        v = stack.pop()
        if type(v) is tuple:
            stack.extend(v)
        elif type(v) is not int:
            raise ValueError(
                f"the fingerprint store needs states built from ints and tuples only (found a "
                f"{type(v).__name__}); use the exact store")


def encode(value: Any, out: bytearray | None = None) -> bytes:
    """A canonical byte encoding of a value built from None, bools, ints, strs and tuples/lists."""
    buf = bytearray() if out is None else out
    _enc(value, buf)
    return bytes(buf)


def _enc(v: Any, b: bytearray) -> None:
    if v is None:
        b += b"N"
    elif v is True:
        b += b"T"
    elif v is False:
        b += b"F"
    elif isinstance(v, int):
        s = str(v).encode()
        b += b"i%d:" % len(s)
        b += s
    elif isinstance(v, str):
        s = v.encode()
        b += b"s%d:" % len(s)
        b += s
    elif isinstance(v, (tuple, list)):
        b += b"(%d:" % len(v)
        for x in v:
            _enc(x, b)
    elif isinstance(v, (frozenset, set)):
        items = sorted(encode(x) for x in v)
        b += b"{%d:" % len(items)
        for x in items:
            b += x
    elif isinstance(v, float):
        s = repr(v).encode()
        b += b"f%d:" % len(s)
        b += s
    else:
        raise TypeError(f"cannot fingerprint a {type(v).__name__}: states and actions must be "
                        f"built from None, bools, ints, strs and tuples")


def digest(value: Any, size: int = 16) -> str:
    """Hex BLAKE2b digest of :func:`encode` of ``value``."""
    return hashlib.blake2b(encode(value), digest_size=size).hexdigest()


def fingerprint64(value: Any) -> int:
    """A 64-bit stable fingerprint of ``value`` as an int."""
    return int.from_bytes(hashlib.blake2b(encode(value), digest_size=8).digest(), "little")
