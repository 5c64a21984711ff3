"""The state graph export (mcheck/graph.py, the one networkx user)."""

from __future__ import annotations

import networkx as nx
import pytest

from examples.toys import LostUpdate
from mcheck.graph import state_graph, summary, write_graph
from models.cow import mcheck_models


def test_lost_update_graph() -> None:
    g = state_graph(LostUpdate())
    assert (g.number_of_nodes(), g.number_of_edges()) == (13, 14)
    info = summary(g)
    assert info["terminal"] == 3 and info["terminal_not_final"] == 0 and info["cycles"] == 0
    bad = [n for n, d in g.nodes(data=True) if d["violates"]]
    assert [g.nodes[n]["violates"] for n in bad] == ["final_x_is_2"] * len(bad)


def test_cow_scenario_graph_matches_the_search_and_writes_all_formats(tmp_path) -> None:
    [m] = mcheck_models({"policy": "E1", "scenario": "S03"})
    g = state_graph(m)
    assert (g.number_of_nodes(), g.number_of_edges()) == (91, 132)  # tests/cow/test_matrix
    assert nx.is_directed_acyclic_graph(g)
    for ext in ("graphml", "gexf", "dot"):
        write_graph(g, str(tmp_path / f"g.{ext}"))
        assert (tmp_path / f"g.{ext}").stat().st_size > 1000
    with pytest.raises(ValueError, match="name it .graphml"):
        write_graph(g, str(tmp_path / "g.png"))
    with pytest.raises(ValueError, match="more than 10 states"):
        state_graph(m, max_states=10)
