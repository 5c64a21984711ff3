"""A visited set of 64-bit fingerprints in about 8.5 bytes each: sorted buckets of flat arrays.

The top bits of a fingerprint pick one of ``2**k`` buckets; each bucket is an
``array('q')`` kept sorted, so membership is a binary search and insertion a
C ``memmove`` of half a bucket.  When the mean bucket holds more than
:data:`SPLIT_AT` fingerprints the number of buckets doubles and every bucket
is cut in two at the next bit (rare: the total cost stays linear).  Nothing
but the fingerprints is stored, so a fingerprint costs 8 bytes plus the
arrays' over-allocation (about 6%, which :meth:`FingerprintSet.nbytes`
counts).  Pure Python and the standard library.  See ``../docs/stores.md``.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import BinaryIO

__all__ = ["MAX_BITS", "SPLIT_AT", "FingerprintSet"]

#: The mean bucket size above which the buckets double.
SPLIT_AT = 512

#: The most bucket bits: beyond them the buckets only grow (2**49 fingerprints at the mean).
MAX_BITS = 40

_MAGIC = b"MCFPSET1"
_HEADER = struct.Struct("<8sQ")  # magic, count
_CHUNK = 1 << 16  # fingerprints read or written at a time


class FingerprintSet:
    """A set of signed 64-bit ints (fingerprints) in sorted buckets.

    ``add`` says whether the fingerprint was new; iteration yields every
    fingerprint in increasing order, whatever the order of insertion.  It
    starts with ``2**bits`` buckets and doubles them when the mean bucket
    passes ``split_at``.
    """

    __slots__ = ("_bits", "_shift", "_half", "_buckets", "_n", "_limit", "_split_at")

    def __init__(self, fingerprints: Iterable[int] = (), *, bits: int = 4,
                 split_at: int = SPLIT_AT) -> None:
        if not 0 <= bits <= MAX_BITS:
            raise ValueError(f"bucket bits must be in 0..{MAX_BITS}, got {bits}")
        if split_at < 1:
            raise ValueError(f"split_at must be at least 1, got {split_at}")
        self._n = 0
        self._split_at = split_at
        self._set_bits(bits, [array("q") for _ in range(1 << bits)])
        for fp in fingerprints:
            self.add(fp)

    def _set_bits(self, bits: int, buckets: list[array]) -> None:
        self._bits = bits
        self._shift = 64 - bits
        self._half = (1 << bits) >> 1  # the signed top bits run from -half to half - 1
        self._buckets = buckets
        self._limit = self._split_at << bits if bits < MAX_BITS else -1

    @property
    def buckets(self) -> int:
        """The number of buckets (a power of two)."""
        return len(self._buckets)

    def add(self, fp: int) -> bool:
        """Insert ``fp``; True when it was not there.  OverflowError unless it fits 64
        signed bits."""
        try:
            b = self._buckets[(fp >> self._shift) + self._half]
        except IndexError:  # far out of range; nearer misses fail in insert
            raise OverflowError(f"fingerprint {fp} does not fit in 64 signed bits") from None
        i = bisect_left(b, fp)
        if i < len(b) and b[i] == fp:
            return False
        b.insert(i, fp)
        self._n += 1
        if self._n == self._limit:
            self._split()
        return True

    def discard(self, fp: int) -> None:
        """Remove ``fp`` if it is there (the buckets never merge back)."""
        try:
            b = self._buckets[(fp >> self._shift) + self._half]
        except IndexError:
            return
        i = bisect_left(b, fp)
        if i < len(b) and b[i] == fp:
            del b[i]
            self._n -= 1

    def __contains__(self, fp: object) -> bool:
        try:
            b = self._buckets[(fp >> self._shift) + self._half]  # type: ignore[operator]
        except (IndexError, TypeError):  # out of range, or not an int
            return False
        i = bisect_left(b, fp)
        return i < len(b) and b[i] == fp

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[int]:
        for b in self._buckets:
            yield from b

    def nbytes(self) -> int:
        """Bytes the set really holds: every array with its over-allocation, and the list."""
        return sys.getsizeof(self._buckets) + sum(sys.getsizeof(b) for b in self._buckets)

    def _split(self) -> None:
        """Double the buckets, cutting each at its next bit; trims every array."""
        bits = self._bits + 1
        shift = 64 - bits
        half = (1 << bits) >> 1
        out: list[array] = []
        for b in self._buckets:
            if not b:
                out += (array("q"), array("q"))
                continue
            # The buckets' fingerprints share their top bits; the lower half is below the
            # first fingerprint of the upper half, the one with the next bit set.
            first = ((b[0] >> shift) + half) & ~1
            cut = bisect_left(b, (first + 1 - half) << shift)
            out += (b[:cut], b[cut:])
        self._set_bits(bits, out)

    # -- files (checkpoints) ----------------------------------------------------------------

    def write(self, f: BinaryIO) -> None:
        """Write the set to a binary file: a header, then every fingerprint in order."""
        f.write(_HEADER.pack(_MAGIC, self._n))
        for b in self._buckets:
            for k in range(0, len(b), _CHUNK):
                chunk = b[k:k + _CHUNK]
                if sys.byteorder != "little":
                    chunk.byteswap()
                f.write(chunk.tobytes())

    @classmethod
    def read(cls, f: BinaryIO) -> FingerprintSet:
        """The set that :meth:`write` wrote to ``f``; ValueError naming the file if it is
        truncated or corrupt."""
        name = getattr(f, "name", "<stream>")
        head = f.read(_HEADER.size)
        if len(head) != _HEADER.size:
            raise ValueError(f"{name}: truncated fingerprint set (no header)")
        magic, n = _HEADER.unpack(head)
        if magic != _MAGIC:
            raise ValueError(f"{name}: not a fingerprint set (bad header)")
        s = cls()
        buckets = s._buckets
        shift, half = s._shift, s._half
        prev = None
        left = n
        while left:
            want = min(left, _CHUNK) * 8
            data = f.read(want)
            if len(data) != want:
                raise ValueError(f"{name}: truncated fingerprint set ({n - left + len(data) // 8}"
                                 f" of {n} fingerprints)")
            chunk = array("q", data)
            if sys.byteorder != "little":
                chunk.byteswap()
            for fp in chunk:
                if prev is not None and fp <= prev:
                    raise ValueError(f"{name}: corrupt fingerprint set (fingerprints out of "
                                     "order)")
                prev = fp
                buckets[(fp >> shift) + half].append(fp)
            left -= len(chunk)
        if f.read(1):
            raise ValueError(f"{name}: corrupt fingerprint set (data after the last "
                             "fingerprint)")
        s._n = n
        while s._n >= s._limit > 0:
            s._split()
        return s
