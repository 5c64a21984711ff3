"""What a search will cost: states, time and memory extrapolated from its first BFS levels.

``mcheck check ... --estimate`` runs a sample of the search (by default 10 s;
the bounds given bound it instead) and extrapolates from it:

* **states**: the log of the BFS level sizes is fitted by a parabola over the
  last 4, 5, 6, 7 and 8 levels (:func:`mcheck.progress.estimate_remaining`);
  the middle of the five totals is the figure and their spread, widened by
  10% on each side, the range.  This is attempted only once the widest level
  is behind the sample: before that, the fits bend down too early (on the
  907,216-state toy, by a factor of 14 at level 10), so the report gives the
  states so far as a lower bound and the last growth factor.
* **time**: states times the sample's seconds per state; the upper end adds
  25%, as a search slows down once its store outgrows the caches.
* **memory**: the growth of the process's peak resident memory over the
  sample, per state stored, times the states, plus what the process held
  before.  A sample that grew the peak by less than 4 MB measures nothing and
  says so.

Measured on the toy ``examples/toys.py --toy increments --procs 4`` (907,216
states, 6.1 s, 161 MB; tests/test_estimate.py pins it): from levels 0-25
(620,215 states) the estimate is 925,000 states (823,000 to 1,030,000), 6 s
(5.3 to 8.3 s) and 153 MB (139 to 169 MB).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcheck.progress import estimate_remaining

__all__ = ["DEFAULT_SAMPLE_SECONDS", "Estimate", "LevelRecorder", "extrapolate",
           "format_estimate"]

#: Seconds the sample runs when no bound is given.
DEFAULT_SAMPLE_SECONDS = 10.0
_WINDOWS = (4, 5, 6, 7, 8)
_WIDEN = 0.10  # each side of the spread of the fits
_SLOWDOWN = 0.25  # added to the upper end of the time
_MEASURABLE = 4 * 2 ** 20  # peak growth below this measures nothing


@dataclass(frozen=True)
class Estimate:
    """The extrapolated cost of a search.  Each range is ``(low, figure, high)``.

    ``states`` is None when the levels still grow (``growth`` says by how
    much a level): then ``at_least`` is the only sure figure.
    """

    levels: tuple[int, ...]
    sample_states: int
    sample_seconds: float
    exact: bool
    at_least: int
    states: tuple[float, float, float] | None
    seconds: tuple[float, float, float] | None
    memory: tuple[float, float, float] | None
    bytes_per_state: float | None
    growth: float | None
    sample_peak: int = 0


def extrapolate(levels: Sequence[int], sample_states: int, sample_seconds: float, *,
                exhausted: bool = False, rss_before: int = 0,
                rss_after: int = 0) -> Estimate:
    """The estimate from a sample: its BFS level sizes, states, seconds and peak memory."""
    lv = tuple(int(v) for v in levels)
    at_least = max(sample_states, sum(lv))
    grown = rss_after - rss_before
    bps = grown / sample_states if sample_states and grown >= _MEASURABLE else None
    sps = sample_seconds / sample_states if sample_states else 0.0
    if exhausted:
        n = float(sample_states)
        return Estimate(lv, sample_states, sample_seconds, True, sample_states,
                        (n, n, n), (sample_seconds,) * 3, (float(rss_after),) * 3, bps, None,
                        rss_after)
    growth = None
    states = None
    if len(lv) >= 2 and lv[-1] == max(lv):
        growth = lv[-1] / lv[-2] if lv[-2] else None
    elif len(lv) >= 2:
        totals = []
        for w in _WINDOWS:
            left = estimate_remaining(list(lv), w)
            if left is not None:
                totals.append(sum(lv) + left)
        if totals:
            low = max(float(at_least), min(totals) * (1 - _WIDEN))
            high = max(totals) * (1 + _WIDEN)
            states = (low, max(low, statistics.median(totals)), high)
    seconds = memory = None
    if states is not None:
        seconds = (states[0] * sps, states[1] * sps, states[2] * sps * (1 + _SLOWDOWN))
        if bps is not None:
            memory = tuple(rss_before + s * bps for s in states)  # type: ignore[assignment]
    return Estimate(lv, sample_states, sample_seconds, False, at_least, states, seconds,
                    memory, bps, growth, rss_after)


def _n(x: float) -> str:
    """A count in 3 significant figures: 921,000."""
    if x < 1000:
        return f"{x:.0f}"
    return f"{float(f'{x:.3g}'):,.0f}"


def _s(x: float) -> str:
    if x < 60:
        return f"{x:.2g}s" if x < 10 else f"{x:.0f}s"
    if x < 3600:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.1f} h"


def _mb(x: float) -> str:
    return f"{x / 2 ** 20:,.0f} MB"


def format_estimate(label: str, est: Estimate, how: str) -> str:
    """The report of ``est`` for the model ``label``; ``how`` says how the sample ended."""
    depth = len(est.levels) - 1
    head = (f"{label}: estimate from a sample of levels 0-{depth}, {est.sample_states} states "
            f"in {est.sample_seconds:.2f}s ({how})\n")
    if est.exact:
        return (f"{label}: the sample finished the search: {est.sample_states} states, "
                f"{est.sample_seconds:.2f}s, peak memory {_mb(est.sample_peak)} "
                "(exact, no extrapolation)\n")
    lines = [head]
    if est.states is None:
        grow = f", x{est.growth:.2f} on the one before" if est.growth else ""
        lines.append(f"  states   at least {est.at_least}: the widest level so far is the last "
                     f"one (level {depth}{grow}), so the total cannot be extrapolated yet; "
                     "sample longer (--timeout, --max-depth)\n")
        lines.append(f"  time     at least {_s(est.sample_seconds)}\n")
        return "".join(lines)
    lo, mid, hi = est.states
    lines.append(f"  states   about {_n(mid)} ({_n(lo)} to {_n(hi)})\n")
    assert est.seconds is not None
    slo, smid, shi = est.seconds
    rate = est.sample_states / est.sample_seconds if est.sample_seconds > 0 else 0.0
    lines.append(f"  time     about {_s(smid)} ({_s(slo)} to {_s(shi)}) at the sample's "
                 f"{_n(rate)} states/s\n")
    if est.memory is not None and est.bytes_per_state is not None:
        mlo, mmid, mhi = est.memory
        lines.append(f"  memory   about {_mb(mmid)} ({_mb(mlo)} to {_mb(mhi)}) at "
                     f"{est.bytes_per_state:.0f} bytes a state\n")
    else:
        lines.append(f"  memory   not measured: the sample of {est.sample_states} states grew "
                     "the peak by less than 4 MB (sample longer to measure it)\n")
    return "".join(lines)


class LevelRecorder:
    """A progress sink that records the BFS level sizes and passes everything on to ``inner``."""

    def __init__(self, inner: Any = None) -> None:
        self.levels: list[int] = []
        self._inner = inner

    def level(self, depth: int, size: int) -> None:
        """A BFS level begins."""
        self.levels.append(size)
        if self._inner is not None:
            self._inner.level(depth, size)

    def update(self, states: int, transitions: int, depth: int, frontier: int) -> None:
        """Counts so far."""
        if self._inner is not None:
            self._inner.update(states, transitions, depth, frontier)

    def close(self) -> None:
        """The search ended."""
        if self._inner is not None:
            self._inner.close()
