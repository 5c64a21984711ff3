"""The reachable state graph of a small model, as a networkx graph (the one networkx user).

For looking at a scripted scenario whole (tens to thousands of states): every
reachable state is a node numbered in BFS order, with its depth, whether it
is final, and the names of the invariants it violates; every transition is
an edge with its thread and action text.  ``summary`` reports what a graph
view adds to a search: the terminal states, the cycles (non-trivial strongly
connected components, where a thread can spin for ever), and how many
shortest paths reach each violating state.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mcheck.model import Kind, Model

__all__ = ["state_graph", "summary", "write_graph"]


def state_graph(model: Model, max_states: int = 100_000) -> Any:
    """The reachable state graph of ``model`` (a ``networkx.MultiDiGraph``).

    Raises ValueError when the model has more than ``max_states`` states.
    """
    import networkx as nx

    invariants = [p for p in model.properties() if p.kind is Kind.INVARIANT]
    g = nx.MultiDiGraph(name=model.name)
    index: dict[Any, int] = {}
    queue: deque[Any] = deque()

    def node(s: Any, depth: int) -> int:
        i = index.get(s)
        if i is None:
            i = index[s] = len(index)
            if i >= max_states:
                raise ValueError(f"more than {max_states} states: give a larger --max-states "
                                 f"or a smaller configuration")
            bad = [p.name for p in invariants if not p.check(s)]
            g.add_node(i, depth=depth, final=bool(model.is_final(s)), violates=",".join(bad))
            queue.append((s, depth))
        return i

    for s in model.initial_states():
        node(s, 0)
    while queue:
        s, depth = queue.popleft()
        i = index[s]
        for a, t in model.successors(s):
            j = node(t, depth + 1)
            g.add_edge(i, j, thread=str(model.thread(a)), action=model.format_action(a))
    return g


def summary(g: Any) -> dict[str, Any]:
    """What a graph view adds to a search: terminal states, cycles, shortest paths."""
    import networkx as nx

    terminal = [n for n in g.nodes if g.out_degree(n) == 0]
    cycles = [c for c in nx.strongly_connected_components(g)
              if len(c) > 1 or any(g.has_edge(n, n) for n in c)]
    bad = sorted(n for n, d in g.nodes(data=True) if d["violates"])
    simple = nx.DiGraph(g)
    paths = {}
    for n in bad[:10]:
        paths[n] = sum(1 for _ in nx.all_shortest_paths(simple, 0, n))
    return {
        "states": g.number_of_nodes(), "transitions": g.number_of_edges(),
        "terminal": len(terminal),
        "terminal_not_final": sum(1 for n in terminal if not g.nodes[n]["final"]),
        "cycles": len(cycles), "largest_cycle": max((len(c) for c in cycles), default=0),
        "violating": len(bad), "shortest_paths_to_first_violations": paths,
    }


def write_graph(g: Any, path: str) -> None:
    """GraphML (``.graphml``), GEXF (``.gexf``) or Graphviz DOT (``.dot``, written here)."""
    import networkx as nx

    if path.endswith(".graphml"):
        nx.write_graphml(g, path)
    elif path.endswith(".gexf"):
        nx.write_gexf(g, path)
    elif path.endswith(".dot"):
        with open(path, "w", encoding="ascii", errors="backslashreplace") as f:
            f.write(f"digraph {_q(g.graph.get('name', 'model'))} {{\n")
            for n, d in g.nodes(data=True):
                style = ' color="red"' if d["violates"] else ""
                label = f"{n}" + (f"\n{d['violates']}" if d["violates"] else "")
                f.write(f'  {n} [label={_q(label)}{style}];\n')
            for u, v, d in g.edges(data=True):
                f.write(f"  {u} -> {v} [label={_q(d['thread'] + ': ' + d['action'])}];\n")
            f.write("}\n")
    else:
        raise ValueError(f"cannot tell the format of {path!r}: name it .graphml, .gexf or .dot")


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
