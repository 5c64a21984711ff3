"""Which permutations each component is checked under (obligation 5, docs/proof.md).

Components the group maps onto each other are proven once per orbit: one member
under generators of its stabiliser, and one element reaching each other member.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["component_plan"]

#: above this many group elements the plan falls back to every component x every generator
_GROUP_LIMIT = 5000


def _perm_key(p: Any) -> tuple:
    return tuple(sorted((n, tuple(t)) for n, t in p.tables().items()))


def _closure(gens: Sequence[Any], identity: Any, limit: int) -> dict[tuple, Any] | None:
    """The group ``gens`` generate, by key (None past ``limit`` elements)."""
    out = {_perm_key(identity): identity}
    todo = [identity]
    while todo:
        x = todo.pop()
        for g in gens:
            y = x.then(g)
            k = _perm_key(y)
            if k not in out:
                if len(out) >= limit:
                    return None
                out[k] = y
                todo.append(y)
    return out


def _perm_name(p: Any, names: dict[tuple, str]) -> str:
    k = _perm_key(p)
    if k in names:
        return names[k]
    return "; ".join(f"{n}: {list(t)}" for n, t in k) or "identity"


def component_plan(decl: Any, comps: Sequence[Any], gens: list[tuple[str, Any]]
                   ) -> dict[Any, list[tuple[str, Any]]]:
    """Per orbit of components, its first member and the permutations to check it under.

    Past ``_GROUP_LIMIT`` group elements, every component under every generator.  Why
    this covers every component and generator: docs/proof.md, "Components proven once
    per orbit".
    """
    from mcheck.symmetry import Perm

    identity = Perm.identity_of(decl.sets)
    group = _closure([g for _n, g in gens], identity, _GROUP_LIMIT)
    if group is None:
        return {c: gens for c in comps}
    names = {_perm_key(g): n for n, g in gens}
    # simplest first: fewest sets moved, then by tables (so transversal elements are
    # generators wherever one will do)
    elements = [group[k] for k in sorted(group, key=lambda k: (len(k), k))]
    plan: dict[Any, list[tuple[str, Any]]] = {}
    placed: set[Any] = set()
    for c0 in comps:
        if c0 in placed:
            continue
        # the orbit, with a transversal element per member (the least by key that reaches it)
        trans: dict[Any, Any] = {}
        stab: list[Any] = []
        for h in elements:
            hc = decl.permute_key(c0, h)
            if hc == c0:
                stab.append(h)
            elif hc not in trans:
                trans[hc] = h
        placed.add(c0)
        placed.update(trans)
        # generators of the stabiliser: the declared generators that fix c0 first, then any
        # element the ones so far do not generate
        chosen: list[Any] = []
        stab_keys = {_perm_key(h) for h in stab}
        fixed = [g for _n, g in gens if _perm_key(g) in stab_keys]
        span = _closure(chosen, identity, _GROUP_LIMIT) or {}
        for h in fixed + stab:
            if _perm_key(h) not in span:
                chosen.append(h)
                span = _closure(chosen, identity, _GROUP_LIMIT) or {}
        plan[c0] = [(_perm_name(h, names), h) for h in chosen] + \
            [(_perm_name(t, names), t) for t in trans.values()]
    return plan

