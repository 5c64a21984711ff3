"""Stable fingerprints of values: the same in every process and under any PYTHONHASHSEED.

Python's built-in hash is salted for ``str`` and ``None``; nothing persisted or
compared across processes may depend on it.  These digests encode a value
canonically (type tag, length, contents) and hash the bytes with BLAKE2b.
"""

from __future__ import annotations

import hashlib
import marshal
from typing import Any

__all__ = ["digest", "encode", "encode_state", "fingerprint64", "fingerprint_of",
           "require_int_encoding", "require_ints", "state_fingerprint"]


#: Every marshal type code but those of ints (``i``, ``l``) and tuples (``(``).
_NOT_INT_CODES = b"0NFTS.Ifgxystru[{c?<>aA)zZ:"
#: The bytes that cannot start a value other than an int or a tuple.
_SAFE_BYTES = bytes(b for b in range(256) if b not in _NOT_INT_CODES)


def encode_state(state: Any, _dumps: Any = marshal.dumps) -> bytes:
    """The canonical encoding of a state built from ints and tuples: marshal version 2.

    Version 2 writes no back-references, so the bytes do not depend on which
    objects the state shares, and ``marshal.loads`` gives the state back, so
    the encoding is injective.  A value marshal cannot encode (an object)
    raises the ValueError of :func:`require_ints`.
    """
    try:
        return _dumps(state, 2)
    except ValueError:
        require_ints(state)
        raise


def fingerprint_of(data: bytes, _b2: Any = hashlib.blake2b,
                   _from: Any = int.from_bytes) -> int:
    """The 64-bit fingerprint of an encoding: BLAKE2b, 8 bytes, as a signed int (it fits an
    ``array('q')``)."""
    return _from(_b2(data, digest_size=8).digest(), "little", signed=True)


def state_fingerprint(state: Any) -> int:
    """The fingerprint store's 64-bit key of a state built from ints and tuples.

    :func:`fingerprint_of` :func:`encode_state`: two distinct states share a
    fingerprint only when the digest collides, so there are no structural
    collisions (CPython's ``hash`` gives -1 and -2 alike).  The same in every
    process and under any PYTHONHASHSEED.
    """
    return fingerprint_of(encode_state(state))


def require_int_encoding(data: bytes, state: Any) -> None:
    """Raise the ValueError of :func:`require_ints` unless the encoding ``data`` of
    ``state`` holds ints and tuples only.

    Exact, and cheap in the usual case: an encoding with no byte that could
    be the type code of anything else (a bool, None, a str, a float) needs no
    walk; one with such a byte (it may be part of an int) is walked.  The
    fingerprint store calls it on every new state: a bool would otherwise
    make ``(True,)`` and ``(1,)``, one state in the exact store, two here.
    """
    if data.translate(None, _SAFE_BYTES):
        require_ints(state)


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
