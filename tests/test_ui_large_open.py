"""Opening the largest project the editor accepts keeps the window live: the canvas items are
made a slice at a time while the event loop runs, and another file or closing stops that."""
# ruff: noqa: F811  (pytest fixtures imported from test_ui_editor are redefined as arguments)

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QTimer
from test_ui_editor import boxes, make_window  # noqa: F401  (fixtures)

from netbuilder.graph import commands as cmds
from netbuilder.graph.limits import MAX_BLOCKS
from netbuilder.graph.templates import template_path
from netbuilder.ui.problems import MAX_PROBLEM_ROWS


def _chain_file(folder, blocks: int, loop: bool = False):
    """Input -> ReLU -> ReLU ... in rows of 100; `loop` wires the last block back into the
    first ReLU (every block then has a problem to show)."""
    nodes = [{"id": "n0", "type": "Input", "name": "input1", "params": {"shape": [16]},
              "pos": [0.0, 0.0]}]  # fmt: skip
    edges = []
    for i in range(1, blocks):
        pos = [float(i % 100 * 200), float(i // 100 * 120)]
        nodes.append({"id": f"n{i}", "type": "ReLU", "name": f"relu{i}", "params": {}, "pos": pos})
        edges.append({"src": f"n{i - 1}", "dst": f"n{i}", "dst_port": 0})
    if loop:
        edges[0] = {"src": f"n{blocks - 1}", "dst": "n1", "dst_port": 0}
    path = folder / f"big{blocks}{'loop' if loop else ''}.nbproj"
    graph = {"name": "Big", "nodes": nodes, "edges": edges}
    path.write_text(json.dumps({"format": "netbuilder-project", "version": 1, "graph": graph}))
    return path


def _on_canvas(w) -> tuple[int, int]:
    return len(w.scene.node_items), len(w.scene.edge_items)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    return _chain_file(tmp_path_factory.mktemp("big"), MAX_BLOCKS)


def test_a_10000_block_project_opens_while_the_event_loop_runs(make_window, qtbot, big_file):
    w = make_window()
    messages = []
    w.statusBar().messageChanged.connect(messages.append)
    ticks = []
    probe = QTimer(w)
    probe.setInterval(1)
    probe.timeout.connect(lambda: ticks.append(w.scene.building))
    probe.start()

    assert w.open_path(big_file)
    assert w.scene.building and _on_canvas(w) < (MAX_BLOCKS, MAX_BLOCKS - 1)
    # the whole network is fitted at once, from the model, not from the items made so far
    assert w.scene.nodes_rect().width() > 100 * 190
    qtbot.waitUntil(lambda: not w.scene.building, timeout=120_000)
    probe.stop()

    assert sum(ticks) >= 5  # the loop kept running while the items were made
    assert _on_canvas(w) == (MAX_BLOCKS, MAX_BLOCKS - 1)
    assert all(item.label == "16" for item in w.scene.edge_items.values())
    assert any(m.startswith(f"Opening {big_file.name}: ") and "of 10,000 blocks" in m
               for m in messages)  # fmt: skip
    assert messages[-1] == f"Opened {big_file.name}: 10,000 blocks, 9,999 wires"
    assert w.scene.edge_at(w.scene.edge_items[w.graph.edges[0]].path().pointAtPercent(0.5))


def test_a_large_loop_lists_its_problems_and_opens_too(make_window, qtbot, tmp_path):
    w = make_window()
    assert w.open_path(_chain_file(tmp_path, 2_000, loop=True))
    qtbot.waitUntil(lambda: not w.scene.building, timeout=60_000)
    assert _on_canvas(w) == (2_000, 1_999)
    problems = w.graph.problems()
    assert len(problems) >= 1_999
    # the list shows the first few hundred and counts the rest
    assert w.problem_rows()[0][0] == problems[0][0]
    assert len(w.problem_rows()) == MAX_PROBLEM_ROWS
    last = w.problems.item(w.problems.count() - 1).text()
    assert last.startswith(f"… and {len(problems) - MAX_PROBLEM_ROWS:,} more")
    assert w.problems_dock.windowTitle() == f"Problems ({len(problems):,})"


def test_opening_another_file_or_closing_mid_build_is_safe(make_window, qtbot, tmp_path):
    big = _chain_file(tmp_path, 3_000)
    w = make_window()
    assert w.open_path(big)
    qtbot.waitUntil(lambda: 0 < _on_canvas(w)[0] < 3_000, timeout=30_000)

    lenet = template_path("lenet")
    assert w.open_path(lenet)  # a small project is built at once and the big build stops
    assert not w.scene.building
    counts = (len(w.graph.nodes), len(w.graph.edges))
    assert _on_canvas(w) == counts
    qtbot.wait(100)
    assert _on_canvas(w) == counts
    assert {i.node_id for i in w.scene.items() if hasattr(i, "node_id") and i.parentItem() is None
            } == set(w.graph.nodes)  # fmt: skip

    assert w.open_path(big)  # and a big one opened again starts afresh
    qtbot.waitUntil(lambda: _on_canvas(w)[0] > 0, timeout=30_000)
    w.close()
    assert not w.scene.building
    qtbot.wait(50)  # no slice runs after the window closed


def test_a_large_file_is_read_while_the_window_paints(make_window, qtbot, big_file, monkeypatch):
    from netbuilder.ui import project_files

    w = make_window()
    ticks = []
    probe = QTimer(w)
    probe.setInterval(1)
    probe.timeout.connect(lambda: ticks.append(w.graph.name))
    read = project_files.load_project

    def slow_read(path):  # as a slow disk would: the window must not wait frozen
        import time

        time.sleep(0.3)
        return read(path)

    monkeypatch.setattr(project_files, "load_project", slow_read)
    probe.start()
    assert w.open_path(big_file)
    probe.stop()
    assert ticks.count("Net") >= 5 and w.graph.name == "Big"  # ticked while it was read
    w.close()


def test_a_broken_large_file_is_refused_with_a_message(make_window, boxes, tmp_path):
    w = make_window()
    bad = tmp_path / "big.nbproj"
    bad.write_text('{"format": "netbuilder-project", "version": 1, "graph": ' + " " * 300_000)
    assert not w.open_path(bad)
    kind, title, text = boxes[-1]
    assert kind == "critical" and title == "Cannot open project" and str(bad) in text
    assert w.graph.name == "Net" and not w.scene.building


def test_edits_during_the_build_end_in_the_same_canvas(make_window, qtbot, tmp_path):
    w = make_window()
    assert w.open_path(_chain_file(tmp_path, 3_000))
    qtbot.waitUntil(lambda: 0 < _on_canvas(w)[0] < 3_000, timeout=30_000)
    graph = w.graph
    far = "n2999" if "n2999" not in w.scene.node_items else "n1500"
    assert w.runner.push(cmds.RemoveItems([far]))  # a block that has no item yet
    assert w.runner.push(cmds.RemoveItems([], [graph.edges[10]]))  # a wire that has none
    qtbot.waitUntil(lambda: not w.scene.building, timeout=60_000)
    assert set(w.scene.node_items) == set(graph.nodes)
    assert set(w.scene.edge_items) == set(graph.edges)
    assert all(item.label is not None for item in w.scene.edge_items.values())
    w.undo()
    w.undo()
    assert set(w.scene.node_items) == set(graph.nodes) and len(graph.nodes) == 3_000
    assert set(w.scene.edge_items) == set(graph.edges) and len(graph.edges) == 2_999
