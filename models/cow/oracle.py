"""The oracle: ghost values tell missed COW from wrong COW; accounting invariants.

Every write writes a fresh token.  Each process keeps ``L[v]``, what it
would read at ``v`` if memory were truly private, and ``hist``, the set of
tokens it legitimately held (its own writes, its devices' writes through
its references, what it inherited at fork).  After every step:

* each alive process's view of each mapped page (the present frame, the
  swap cache frame, or the slot) must equal ``L[v]``;
* each live GUP reference must read what its owner expects: ``L[owner][v]``
  while the owner maps the page, the value frozen at unmap after that.

A mismatch whose observed token is outside the observer's history is a
**missed COW** (data leaked from another process); inside it, a **wrong
COW** (the observer's own data went stale).  R/O gets (vmsplice pipes) are
checked for leaks only; pins and R/W gets for both (../../docs/oracle.md).

Kernel accounting (refcount discipline, mapcount and swapcount, the
inactive count of swap and migration entries, no use after free, E6's
"writable implies exclusive" and "pinned implies exclusive", BIAS above
every ordinary count) is reported separately as model errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcheck.symmetry import Tally, ite, pick

from .vm import ALIVE, LIVE, MIGRATION, NONE, PRESENT, SWAP

if TYPE_CHECKING:
    from .model import CowBase as CowModel

__all__ = ["mismatches", "leak_errors", "coherence_errors", "accounting_errors",
           "observer_keys", "observer_class", "accounting_keys", "accounting_ok",
           "accounting_atom",
           "MISSED", "WRONG", "copy_was_unnecessary"]


def _view(state: tuple, pte: tuple) -> int | None:
    frames, slots = state[0], state[1]
    kind, idx = pte[0], pte[1]
    if kind == PRESENT:
        return frames[idx][6]
    if kind == MIGRATION:  # the page being migrated: the data moves with it
        return frames[idx][6]
    if kind == SWAP:
        cache = slots[idx][1]
        return frames[cache][6] if cache != NONE else slots[idx][2]
    return None


MISSED, WRONG = 1, 2  # observer classes (0: the observer sees what it should)


def observer_keys(m: CowModel) -> list[tuple]:
    """One key per observer: ``("pte", p, v)`` for each mapping, ``("handle", k)`` per handle."""
    cfg = m.cfg
    return [("pte", p, v) for p in range(cfg.procs) for v in range(cfg.pages)] + \
        [("handle", k) for k in range(cfg.handles)]


def observer_class(state: tuple, key: tuple) -> int:
    """MISSED or WRONG when the observer ``key`` sees a token it should not, else 0.

    A process's view of page ``v`` must be its ghost ``L[v]``; a live GUP
    reference must read what its owner expects (``L[owner][vpn]`` while the
    owner maps the page, the value frozen at unmap after that).  A token
    outside the observer's history is a leak (MISSED); inside it, stale data
    (WRONG; for a reference, only pins and R/W gets promise coherence).
    """
    procs = state[2]
    if key[0] == "pte":
        _pte, p, v = key
        pr = procs[p]
        if pr[0] != ALIVE:
            return 0
        want = pr[7][v]
        if want == NONE:
            return 0
        got = _view(state, pr[1][v])
        if got is None or got == want:
            return 0
        return WRONG if (pr[8] >> got) & 1 or got == 0 else MISSED
    st, f, owner, vpn, pin, rw, attached, expect = state[3][key[1]]
    if st != LIVE:
        return 0
    want = pick(pick(tuple(pr[7] for pr in procs), owner), vpn) if attached else expect
    got = pick(tuple(fr[6] for fr in state[0]), f)
    if got == want:
        return 0
    if not ((pick(tuple(pr[8] for pr in procs), owner) >> got) & 1 or got == 0):
        return MISSED
    return WRONG if pin or rw else 0


def _observer_text(m: CowModel, state: tuple, key: tuple) -> str:
    procs = state[2]
    names = m.proc_names
    if key[0] == "pte":
        _pte, p, v = key
        got = _view(state, procs[p][1][v])
        return (f"{names[p]} reads {m.token_name(got)} at page {v}, "
                f"expected {m.token_name(procs[p][7][v])}")
    st, f, owner, vpn, pin, rw, attached, expect = state[3][key[1]]
    want = procs[owner][7][vpn] if attached else expect
    return (f"{m.handle_names[key[1]]} ({names[owner]}'s {'pin' if pin else 'get'}) "
            f"reads {m.token_name(state[0][f][6])}, expected {m.token_name(want)}")


def mismatches(m: CowModel, state: tuple) -> list[tuple[str, str]]:
    """(class, explanation) for every observer whose view differs from its ghost value."""
    out: list[tuple[str, str]] = []
    for key in observer_keys(m):
        c = observer_class(state, key)
        if c:
            out.append(("missed" if c == MISSED else "wrong", _observer_text(m, state, key)))
    return out


def leak_errors(m: CowModel, state: tuple) -> list[str]:
    return [why for cls, why in mismatches(m, state) if cls == "missed"]


def coherence_errors(m: CowModel, state: tuple) -> list[str]:
    return [why for cls, why in mismatches(m, state) if cls == "wrong"]


def accounting_errors(m: CowModel, state: tuple) -> list[str]:
    """Kernel invariants that must hold in every era's own terms."""
    frames, slots, procs, handles, threads = state[:5]
    bias = m.cfg.bias
    errs: list[str] = []
    nf = len(frames)
    maps = [0] * nf
    swapped = [0] * len(slots)
    holders = [0] * nf
    pins = [0] * nf
    migr = [0] * nf
    for pr in procs:
        for kind, idx, _w, _x in pr[1]:
            if kind == PRESENT:
                maps[idx] += 1
            elif kind == SWAP:
                swapped[idx] += 1
            elif kind == MIGRATION:
                migr[idx] += 1
    for h in handles:
        if h[0] == LIVE:
            holders[h[1]] += bias if h[4] else 1
            pins[h[1]] += h[4]
    for th in threads:
        if th[3] != NONE:
            holders[th[3]] += th[4]
            if th[4] == bias:  # a speculative GUP-fast pin
                pins[th[3]] += 1
    for f, (ref, mapc, lru, sc, _ae, locked, _data, inactive) in enumerate(frames):
        if ref == 0:
            if maps[f] or holders[f] or migr[f] or any(s[1] == f for s in slots):
                errs.append(f"use after free: f{f} is free but still referenced")
            continue
        if migr[f] and not locked:
            errs.append(f"f{f}: {migr[f]} migration entries name it but it is not locked")
        want_inactive = migr[f] + (swapped[sc] if sc != NONE else 0)
        if inactive != want_inactive:
            errs.append(f"f{f}: inactive count {inactive} != {want_inactive} swap and"
                        f" migration entries referencing it")
        want = mapc + (1 if sc != NONE else 0) + lru + holders[f]
        if ref != want:
            errs.append(f"f{f}: refcount {ref} != mapcount {mapc} + swapcache + lru {lru} "
                        f"+ GUP/in-flight {holders[f]}")
        if mapc != maps[f]:
            errs.append(f"f{f}: mapcount {mapc} but {maps[f]} PTEs map it")
        if ref - bias * pins[f] >= bias:
            errs.append(f"f{f}: {ref - bias * pins[f]} ordinary references reach BIAS {bias}:"
                        f" raise --bias")
        if sc != NONE and slots[sc][1] != f:
            errs.append(f"f{f}: in swap cache of s{sc} but the slot caches another page")
    for s, (swc, cache, _data) in enumerate(slots):
        if swc != swapped[s]:
            errs.append(f"s{s}: swapcount {swc} but {swapped[s]} swap PTEs name it")
        if cache != NONE and frames[cache][3] != s:
            errs.append(f"s{s}: caches f{cache} which is not in its swap cache")
    if m.policy.anon_exclusive:
        for p, pr in enumerate(procs):
            for v, (kind, idx, wr, _x) in enumerate(pr[1]):
                if kind == PRESENT and wr and not frames[idx][4]:
                    errs.append(f"{m.proc_names[p]} page {v}: writable PTE to f{idx} "
                                f"which is not PageAnonExclusive")
                if kind == SWAP and wr and (swapped[idx] != 1 or (
                        slots[idx][1] != NONE and frames[slots[idx][1]][1] > 0)):
                    errs.append(f"{m.proc_names[p]} page {v}: SWP_EXCLUSIVE entry to a"
                                f" shared slot s{idx}")
        for k, h in enumerate(handles):
            if h[0] != LIVE or not h[4]:
                continue
            if frames[h[1]][1] > 0 and not frames[h[1]][4]:
                errs.append(f"{m.handle_names[k]}: pinned f{h[1]} is mapped but not "
                            f"PageAnonExclusive")
            pte = procs[h[2]][1][h[3]]
            if h[6] and pte[0] == SWAP and slots[pte[1]][1] == h[1]:
                errs.append(f"{m.handle_names[k]}: pinned f{h[1]} was unmapped to swap"
                            f" (try_to_unmap must refuse pinned exclusive pages)")
    return errs


# -- the accounting invariants one object at a time (what the symmetry proof checks) ----------


def accounting_keys(m: CowModel) -> list[tuple]:
    """``("frame", f)``, ``("slot", s)``, and with PageAnonExclusive ``("pte", p, v)``,
    ``("handle", k)``: the objects :func:`accounting_ok` checks one at a time."""
    cfg = m.cfg
    keys = [("frame", f) for f in range(cfg.frames)] + [("slot", s) for s in range(cfg.slots)]
    if m.policy.anon_exclusive:
        keys += [("pte", p, v) for p in range(cfg.procs) for v in range(cfg.pages)]
        keys += [("handle", k) for k in range(cfg.handles)]
    return keys


def _counts(m: CowModel, state: tuple) -> tuple:
    """Per frame: mappings, holders, pins, caching slots; per slot: swap PTEs (one pass).

    The model keeps the last state's counts (``counts_memo``): every accounting
    atom of a state asks for them, and the memo is the model's own, not the
    module's.
    """
    memo = m.counts_memo
    if memo[0] is state:
        return memo[1]
    return _count(m.cfg.bias, memo, state)


def _count(bias: int, memo: list, state: tuple) -> tuple:
    """The counts of ``state``, kept in ``memo`` (``[state, counts, tallies]``).

    Branch-free (ite, Tally), so the memo is valid for a symbolic state on every
    path of the symmetry proof; a NONE index adds nothing.  The six tallies are
    made once per memo and reset here (each gets fresh counters, so the counts
    of an earlier state are never changed): building six objects was a third
    of the cost of this function.
    """
    frames, slots, procs, handles, threads = state[:5]
    nf = len(frames)
    tallies = memo[2]
    if tallies is None or len(tallies[0].counts) != nf or len(tallies[5].counts) != len(slots):
        tallies = memo[2] = (Tally(nf), Tally(nf), Tally(nf), Tally(nf), Tally(nf),
                             Tally(len(slots)))
    maps, holders, pins, cached, migr, swapped = tallies
    for t in tallies:
        t.counts = [0] * len(t.counts)
    for pr in procs:
        for kind, idx, _w, _x in pr[1]:
            maps.add(ite(kind == PRESENT, idx, NONE))
            swapped.add(ite(kind == SWAP, idx, NONE))
            migr.add(ite(kind == MIGRATION, idx, NONE))
    for h in handles:
        f = ite(h[0] == LIVE, h[1], NONE)
        holders.add(f, ite(h[4], bias, 1))
        pins.add(f, h[4])
    for th in threads:
        holders.add(th[3], th[4])
        pins.add(th[3], th[4] == bias)  # a speculative GUP-fast pin
    for sl in slots:
        cached.add(sl[1])
    out = (maps.counts, holders.counts, pins.counts, cached.counts, swapped.counts,
           migr.counts)
    memo[0], memo[1] = state, out
    return out


def accounting_ok(m: CowModel, state: tuple, key: tuple) -> object:
    """The accounting invariants of one object (the conjunction is ``not accounting_errors``)."""
    return accounting_atom(m, m.counts_memo, state, key)


def accounting_atom(m: CowModel, memo: list, state: tuple, key: tuple) -> object:
    """:func:`accounting_ok` with the model's ``counts_memo`` passed in.

    The model's ``model_error`` invariant calls this, bound to the model and its
    memo (``functools.partial``), once per key of every state: the same code
    for concrete states and for the symmetry proof's symbolic ones.
    """
    kind = key[0]
    if kind == "frame":
        maps, holders, pins, cached, swapped, migr = \
            memo[1] if memo[0] is state else _count(m.cfg.bias, memo, state)
        f = key[1]
        ref, mapc, lru, sc, _ae, locked, _data, inactive = state[0][f]
        if ref == 0:  # free: nothing may refer to it
            return maps[f] == 0 and holders[f] == 0 and cached[f] == 0 and migr[f] == 0
        if ref != mapc + (sc != NONE) + lru + holders[f] or mapc != maps[f]:
            return False
        if migr[f] != 0 and not locked:  # a page under migration is locked
            return False
        # the inactive count: migration entries naming the page, swap entries of its slot
        slots = state[1]
        in_swap = ite(sc == NONE, 0, pick(tuple(swapped), sc)) if len(slots) else 0
        if inactive != migr[f] + in_swap:
            return False
        bias = m.cfg.bias
        if ref - bias * pins[f] >= bias:  # ordinary references reach BIAS
            return False
        return sc == NONE or slots[sc][1] == f
    if kind == "slot":
        swapped = (memo[1] if memo[0] is state else _count(m.cfg.bias, memo, state))[4]
        s = key[1]
        swc, cache, _data = state[1][s]
        return swc == swapped[s] and (cache == NONE or state[0][cache][3] == s)
    if kind == "pte":
        _pte, p, v = key
        pk, idx, wr, _x = state[2][p][1][v]
        if not wr:
            return True
        if pk == PRESENT:
            return bool(state[0][idx][4])
        if pk == SWAP:
            swapped = (memo[1] if memo[0] is state else _count(m.cfg.bias, memo, state))[4]
            if swapped[idx] != 1:
                return False
            cache = state[1][idx][1]
            return cache == NONE or state[0][cache][1] <= 0
        return True
    st, f, owner, vpn, pin, _rw, attached, _e = state[3][key[1]]
    if st != LIVE or not pin:
        return True
    frames = state[0]
    if frames[f][1] > 0 and not frames[f][4]:
        return False
    pte = state[2][owner][1][vpn]
    return not (attached and pte[0] == SWAP and state[1][pte[1]][1] == f)


def copy_was_unnecessary(state: tuple, p: int, v: int) -> bool:
    """Was a do_wp_page copy of (p, v) in ``state`` unnecessary?

    True when the faulting process was the only observer of the old page:
    nobody else maps it (mapcount 1), names it through a migration entry or
    holds its swap slot, and no GUP
    reference of anyone is on it (the faulting process's own reference
    would make the copy a wrong COW, not an unnecessary one).  Kernel
    transients (swap cache with no swap PTE, LRU pagevec, an in-flight
    GUP-fast grab) do not count as observers (../../docs/oracle.md); the unnecessary_cow metric.
    """
    frames, slots, procs, handles = state[:4]
    kind, f, _w, _sd = procs[p][1][v]
    if kind != PRESENT:
        return False
    ref, mapc, _lru, sc, _ae, _locked, _data, _inactive = frames[f]
    if mapc != 1:
        return False
    if any(k == MIGRATION and i == f for pr in procs for k, i, _w2, _x in pr[1]):
        return False  # a page table still names it through a migration entry
    if sc != NONE and slots[sc][0] != 0:
        return False
    return not any(h[0] == LIVE and h[1] == f for h in handles)
