"""The state graph export (mcheck/graph.py, the one networkx user)."""

from __future__ import annotations

import networkx as nx
import pytest

from examples.toys import LostUpdate, Philosophers
from mcheck.graph import state_graph, summary, write_graph
from models.cow import mcheck_models


def test_lost_update_graph() -> None:
    g = state_graph(LostUpdate())
    assert (g.number_of_nodes(), g.number_of_edges()) == (13, 14)  # check() counts the same
    bad = [(n, d["depth"], d["final"]) for n, d in g.nodes(data=True) if d["violates"]]
    assert bad == [(11, 4, True)]  # both threads read x = 0: one final state, x = 1
    assert g.nodes[11]["violates"] == "final_x_is_2"
    assert summary(g) == {
        "states": 13, "transitions": 14, "terminal": 3, "terminal_not_final": 0, "cycles": 0,
        "largest_cycle": 0, "violating": 1,
        "shortest_paths_to_first_violations": {11: 4},  # 2 orders of the reads x 2 of the writes
    }


def test_philosophers_graph_has_the_deadlock_and_the_cycle() -> None:
    g = state_graph(Philosophers(3))
    assert (g.number_of_nodes(), g.number_of_edges()) == (14, 27)  # tests/test_explore.py
    info = summary(g)
    assert (info["terminal"], info["terminal_not_final"]) == (1, 1)  # all hold their left fork
    assert [n for n in g.nodes if g.out_degree(n) == 0] == [12]
    assert g.nodes[12]["depth"] == 3  # the --deadlock trace's length
    # Every state but the deadlock lies on one cycle (eat, put down, think again).
    assert (info["cycles"], info["largest_cycle"], info["violating"]) == (1, 13, 0)


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
