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
checked for leaks only; pins and R/W gets for both (abstract-vm.md §6).

Kernel accounting (refcount discipline, mapcount and swapcount, no use
after free, E6's "writable implies exclusive" and "pinned implies
exclusive", BIAS above every ordinary count) is reported separately as
model errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .vm import ALIVE, LIVE, NONE, PRESENT, SWAP

if TYPE_CHECKING:
    from .model import CowBase as CowModel

__all__ = ["mismatches", "leak_errors", "coherence_errors", "accounting_errors"]


def _view(state: tuple, pte: tuple) -> int | None:
    frames, slots = state[0], state[1]
    kind, idx = pte[0], pte[1]
    if kind == PRESENT:
        return frames[idx][6]
    if kind == SWAP:
        cache = slots[idx][1]
        return frames[cache][6] if cache != NONE else slots[idx][2]
    return None


def mismatches(m: CowModel, state: tuple) -> list[tuple[str, str]]:
    """(class, explanation) for every observer whose view differs from its ghost value."""
    procs, handles = state[2], state[3]
    out: list[tuple[str, str]] = []
    names = m.proc_names
    for p, pr in enumerate(procs):
        if pr[0] != ALIVE:
            continue
        ptes, L, hist = pr[1], pr[7], pr[8]
        for v, want in enumerate(L):
            if want == NONE:
                continue
            got = _view(state, ptes[v])
            if got is None or got == want:
                continue
            cls = "wrong" if (hist >> got) & 1 or got == 0 else "missed"
            out.append((cls, f"{names[p]} reads {m.token_name(got)} at page {v}, "
                             f"expected {m.token_name(want)}"))
    for k, h in enumerate(handles):
        st, f, owner, vpn, pin, rw, attached, expect = h
        if st != LIVE:
            continue
        want = procs[owner][7][vpn] if attached else expect
        got = state[0][f][6]
        if got == want:
            continue
        hist = procs[owner][8]
        hname = m.handle_names[k]
        if not ((hist >> got) & 1 or got == 0):
            out.append(("missed", f"{hname} ({names[owner]}'s {'pin' if pin else 'get'}) "
                                  f"reads {m.token_name(got)}, expected {m.token_name(want)}"))
        elif pin or rw:
            out.append(("wrong", f"{hname} ({names[owner]}'s {'pin' if pin else 'get'}) "
                                 f"reads {m.token_name(got)}, expected {m.token_name(want)}"))
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
    for pr in procs:
        for kind, idx, _w, _x in pr[1]:
            if kind == PRESENT:
                maps[idx] += 1
            elif kind == SWAP:
                swapped[idx] += 1
    for h in handles:
        if h[0] == LIVE:
            holders[h[1]] += bias if h[4] else 1
            pins[h[1]] += h[4]
    for th in threads:
        if th[3] != NONE:
            holders[th[3]] += th[4]
            if th[4] == bias:  # a speculative GUP-fast pin
                pins[th[3]] += 1
    for f, (ref, mapc, lru, sc, _ae, _locked, _data) in enumerate(frames):
        if ref == 0:
            if maps[f] or holders[f] or any(s[1] == f for s in slots):
                errs.append(f"use after free: f{f} is free but still referenced")
            continue
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
