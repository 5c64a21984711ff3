"""Stable fingerprints of values: the same in every process and under any PYTHONHASHSEED.

Python's built-in hash is salted for ``str`` and ``None``; nothing persisted or
compared across processes may depend on it.  These digests encode a value
canonically (type tag, length, contents) and hash the bytes with BLAKE2b.
"""

from __future__ import annotations

import hashlib
import marshal
from typing import Any

__all__ = ["digest", "encode", "fingerprint64", "require_ints", "state_fingerprint"]


def state_fingerprint(state: Any, _dumps: Any = marshal.dumps, _b2: Any = hashlib.blake2b,
                      _from: Any = int.from_bytes) -> int:
    """The fingerprint store's 64-bit key of a state built from ints and tuples.

    A BLAKE2b digest (8 bytes, as a signed int so that it fits an ``array('q')``)
    of the state's marshal encoding at version 2.  That encoding is canonical
    for ints and tuples (version 2 writes no back-references, so it does not
    depend on which objects the state shares) and injective (``marshal.loads``
    gives the state back), so two distinct states share a fingerprint only
    when the digest collides: no structural collisions, unlike CPython's
    ``hash``, which gives -1 and -2 alike.  The same in every process and
    under any PYTHONHASHSEED.  A value that marshal cannot encode raises
    ValueError; :func:`require_ints` gives the user-facing message.
    """
    return _from(_b2(_dumps(state, 2), digest_size=8).digest(), "little", signed=True)


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
