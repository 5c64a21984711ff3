"""Partial-order reduction: stubborn sets over a model's components, with a BFS proviso.

A model that declares components (``Symmetry.components`` and
``successors_of``, whose lists concatenated are its successors) can be
searched with **stubborn sets**: in a state, only the components of a set
closed under dependence are expanded.  Footprints proven by symbolic
execution (:mod:`mcheck.proof.footprint`) give the static relation: two
components are dependent when one writes what the other reads or writes.

In a state ``s``, starting from each enabled component in turn, the set is
closed under two rules: an enabled member brings every component dependent
on it; a disabled member brings every component that writes what its
disabled paths read (whatever enables it must write one of those).  The
enabled members are the **ample set**.  It is used only when it is smaller
than the enabled set and

* no member is **visible**: it writes nothing an invariant, a transition
  property or a metric being checked reads, and no transition property can
  fail (no metric can count) on its own transitions;
* the **proviso**: none of its successors was stored already.  In a
  breadth-first search every cycle of the reduced graph then has a fully
  expanded state (the last state of the cycle to be expanded sees its
  successor stored), so no component is ignored forever.

Under these conditions every invariant violation, failing transition,
counted metric event and deadlock of the full graph has a counterpart in the
reduced one (docs/reduction.md).  The reduced graph has fewer states and
transitions: verdicts are the full search's, state and transition counts
and metric counts are the reduced graph's, and traces are re-derived on the
full relation (:func:`mcheck.explore.check`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mcheck.model import Kind, Model, Property
from mcheck.proof.footprint import Analysis, conflict, meets

__all__ = ["Reduction", "Stats", "check_components"]

#: states whose component lists are compared with the model's successors
SELF_CHECK = 2000
#: after this many states expanded with no proper ample set among them, stop looking for
#: one (expanding in full is always sound; it only saves the per-state cost)
GIVE_UP = 20_000


@dataclass
class Stats:
    """What the reduction did in one search."""

    reduced: int = 0  # states expanded by a proper ample set
    full: int = 0  # states expanded in full
    proviso: int = 0  # of those: an ample set was found but the proviso refused it
    gave_up: bool = False  # no ample set in the first GIVE_UP states: the rest in full


class Reduction:
    """Stubborn sets for ``model`` from ``analysis``, checking ``props``."""

    def __init__(self, model: Model, decl: Any, analysis: Analysis,
                 props: Sequence[Property]) -> None:
        if not analysis.ok:
            raise ValueError("the footprint analysis did not finish: nothing to reduce with")
        self.model = model
        self.successors_of = decl.successors_of
        self.comps = list(analysis.components)
        fps = analysis.footprints
        self.fps = fps
        self.props = list(props)
        self.prop_reads = analysis.prop_reads
        n = len(fps)
        self.dep = [0] * n
        self.nes = [0] * n
        vis = 0
        self.why_visible: dict[Any, str] = {}
        for i, fp in enumerate(fps):
            self.dep[i], self.nes[i], why = self._masks(i, fp.reads, fp.writes, fp.guard,
                                                        fp.fires)
            if why:
                vis |= 1 << i
                self.why_visible[fp.key] = why
        self.visible = vis
        # the same, case by case: (dep, nes, visible) of each entry, by the entry's id
        self.entry_masks: dict[int, tuple[int, int, bool]] = {}
        for i, fp in enumerate(fps):
            for case in fp.cases:
                for e in case.entries.values():
                    d, g, why = self._masks(i, e.reads, e.writes, e.guard, e.fires)
                    self.entry_masks[id(e)] = (d, g, bool(why))
        self.stats = Stats()
        self._unchecked = SELF_CHECK

    def _masks(self, i: int, reads: frozenset, writes: frozenset, guard: frozenset,
               fires: frozenset) -> tuple[int, int, str]:
        """Components dependent on one with these reads and writes, the writers of its
        guard, and why it is visible ("" when it is not)."""
        dep = nes = 0
        for j, other in enumerate(self.fps):
            if j == i:
                continue
            if conflict(reads, writes, other.reads, other.writes):
                dep |= 1 << j
            if meets(other.writes, guard):
                nes |= 1 << j
        why = ""
        for p in self.props:
            preads = self.prop_reads.get(p.name)
            if preads is None:
                why = f"{p.name} was not analysed"
            elif meets(writes, preads):
                why = f"it writes what {p.name} reads"
            elif p.kind is not Kind.INVARIANT and p.name in fires:
                why = f"{p.name} can {'count' if p.kind is Kind.METRIC else 'fail'} on it"
            if why:
                break
        return dep, nes, why

    def summary(self) -> dict[str, Any]:
        """How many components are invisible, and how many pairs are independent (over
        their whole domains; in a given state more may be)."""
        n = len(self.comps)
        pairs = sum(1 for i in range(n) for j in range(i + 1, n) if not self.dep[i] >> j & 1)
        return {"components": n, "invisible": n - bin(self.visible).count("1"),
                "independent_pairs": pairs, "pairs": n * (n - 1) // 2}

    def describe(self) -> str:
        """One line for people: the analysis's figures and what the search did."""
        sm, st = self.summary(), self.stats
        gave_up = (f"; no state could be reduced in the first {GIVE_UP} expanded, the rest "
                   "in full" if st.gave_up else "")
        return (f"{sm['invisible']} of {sm['components']} components invisible, "
                f"{sm['independent_pairs']} of {sm['pairs']} pairs independent; {st.reduced} "
                f"states expanded in part, {st.full} in full ({st.proviso} by the proviso"
                f"{gave_up}); counts are the reduced graph's, traces the full relation's")

    def masks_at(self, state: Any, enabled: int) -> tuple[list[int], int]:
        """Per component, its dependents (enabled) or the writers of its guard (disabled)
        in ``state``, and the mask of components visible in ``state``."""
        out = []
        vis = 0
        em = self.entry_masks
        for i, fp in enumerate(self.fps):
            on = enabled >> i & 1
            entries = fp.at(state) if fp.cases else None
            if not entries:
                out.append(self.dep[i] if on else self.nes[i])
                if on and self.visible >> i & 1:
                    vis |= 1 << i
                continue
            m = 0
            v = False
            for e in entries:
                d, g, ev = em[id(e)]
                m |= d if on else g
                v = v or ev
            out.append(m)
            if on and v:
                vis |= 1 << i
        return out, vis

    def ample(self, enabled: int, masks: Sequence[int], visible: int) -> int:
        """The smallest proper invisible ample set (a mask), or 0 for none."""
        best = 0
        best_n = 0
        rest = enabled
        while rest:
            low = rest & -rest
            rest ^= low
            t = low
            work = low
            while work:
                b = work & -work
                work ^= b
                new = masks[b.bit_length() - 1] & ~t
                if new:
                    t |= new
                    work |= new
                if t & enabled == enabled:
                    break
            amp = t & enabled
            if amp == enabled or amp & visible:
                continue
            k = bin(amp).count("1")
            if not best or k < best_n:
                best, best_n = amp, k
                if k == 1:
                    break
        return best

    def expand(self, state: Any, seen: Callable[[Any], bool]
               ) -> Iterator[tuple[int, tuple[Any, Any]]]:
        """``(index among all successors, (action, next state))`` of the reduced expansion."""
        stats = self.stats
        if stats.gave_up:
            stats.full += 1
            return enumerate(self.model.successors(state))
        if not stats.reduced and not stats.proviso and stats.full >= GIVE_UP:
            stats.gave_up = True
        succ_of = self.successors_of
        outs = [list(succ_of(state, c)) for c in self.comps]
        if self._unchecked:
            self._unchecked -= 1
            why = _mismatch(self.model, state, outs)
            if why is not None:
                raise ValueError(f"the declared components do not give the model's "
                                 f"successors: {why}")
        enabled = 0
        for i, o in enumerate(outs):
            if o:
                enabled |= 1 << i
        amp = 0
        if enabled & (enabled - 1):
            masks, visible = self.masks_at(state, enabled)
            amp = self.ample(enabled, masks, visible)
        if amp:
            picked = []
            base = 0
            for i, o in enumerate(outs):
                if amp >> i & 1:
                    for k, at in enumerate(o):
                        picked.append((base + k, at))
                base += len(o)
            if not any(seen(t) for _i, (_a, t) in picked):
                self.stats.reduced += 1
                return iter(picked)
            self.stats.proviso += 1
        self.stats.full += 1
        return enumerate(at for o in outs for at in o)


def check_components(model: Model, decl: Any, states: Sequence[Any]) -> str | None:
    """Why the declared components do not give ``model``'s successors in ``states``, or
    None: the concatenated ``successors_of`` lists must equal ``successors`` exactly."""
    comps = list(decl.components)
    for s in states:
        why = _mismatch(model, s, [decl.successors_of(s, c) for c in comps])
        if why is not None:
            return why
    return None


def _mismatch(model: Model, state: Any, outs: Sequence[Any]) -> str | None:
    """Why the components' outcomes ``outs`` in ``state``, concatenated, are not the
    model's successors there (None: they are, exactly and in order)."""
    got = [at for o in outs for at in o]
    want = list(model.successors(state))
    if got == want:
        return None
    return (f"in state {state!r} the components give {len(got)} successors and "
            f"successors() {len(want)}, or other ones, or in another order")


MODES = ("on", "off", "auto")


def prepare(model: Model, mode: str, properties: Sequence[str] | None = None, *,
            say: Callable[[str], None] | None = None, budget: float | None = None
            ) -> tuple[Reduction | None, dict[str, Any]]:
    """The reduction ``--reduce MODE`` gives ``model`` for ``properties``, and a report.

    ``off``: none.  ``auto``: the reduction when the footprint analysis finishes (one
    that does not says why, and the search runs in full).  ``on``: the same, but a
    model without a declaration or an analysis that does not finish is a
    :class:`~mcheck.errors.UsageError`.
    """
    from mcheck.errors import UsageError
    from mcheck.proof.footprint import analyse

    info: dict[str, Any] = {"mode": mode}
    if mode == "off":
        return None, info
    if mode not in MODES:
        raise UsageError(f"--reduce {mode!r} is not one of {', '.join(MODES)}",
                         "use --reduce on, off or auto")
    hook = getattr(model, "symmetry", None)
    decl = hook() if callable(hook) else None
    if decl is None or decl.domain is None or decl.components is None:
        info["status"] = "undeclared"
        why = (f"model '{model.name}' declares no components and domain to analyse "
               "(its symmetry() declaration gives them)")
        if mode == "on":
            raise UsageError(why, "use --reduce off or auto, or declare components and a "
                                  "domain in the model's symmetry()")
        if say is not None:
            say(f"reduce: {why}; running the full search")
        return None, info
    props = [p for p in model.properties() if properties is None or p.name in properties]
    names = [p.name for p in props]
    an = analyse(model, decl, properties=names, budget=600.0 if budget is None else budget,
                 progress=None)
    info["status"] = an.status
    info["seconds"] = round(an.elapsed, 3)
    info["cached"] = an.cached
    if an.cache_note:
        info["cache"] = an.cache_note
    if not an.ok:
        info["reason"] = an.reason
        if mode == "on":
            raise UsageError(f"the footprint analysis of '{model.name}' did not finish "
                             f"({an.status}: {an.reason})",
                             "use --reduce auto (full search) or off, or raise --timeout")
        if say is not None:
            say(f"reduce: no footprints ({an.status}: {an.reason}); running the full search")
        return None, info
    red = Reduction(model, decl, an, props)
    info.update(red.summary())
    return red, info
