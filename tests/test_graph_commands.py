"""Every command kind: undo returns the exact earlier state, redo the exact later one."""

import random

import pytest

from netbuilder.blocks import CATALOGUE, BlockError
from netbuilder.graph import Edge, GraphError, History
from netbuilder.graph import commands as C
from netbuilder.graph.templates import load_template


def state(g):
    """Everything observable: the file form (order, ids, names, params, positions) and the
    derived values views read."""
    derived = [
        (n.id, n.out_shape, n.in_shapes, n.param_count, n.problems, n.resolved)
        for n in g.nodes.values()
    ]
    return g.to_dict(), derived, list(g.edges)


def resnet():
    g = load_template("resnet").graph
    return g, History(g), {n.name: n.id for n in g.nodes.values()}


def check_roundtrip(g, h, cmd):
    before = state(g)
    h.push(cmd)
    after = state(g)
    assert after != before
    h.undo()
    assert state(g) == before
    h.redo()
    assert state(g) == after
    h.undo()
    assert state(g) == before
    return after


def test_add_node():
    g, h, ids = resnet()
    cmd = C.AddNode("Conv2d", (10, 20), {"out_channels": 3})
    after = check_roundtrip(g, h, cmd)
    assert cmd.text == "Add Conv2d"
    added = after[0]["nodes"][-1]
    assert added["name"] == "conv5" and added["pos"] == [10.0, 20.0]


def test_remove_items_nodes_and_edges():
    g, h, ids = resnet()
    check_roundtrip(g, h, C.RemoveItems([ids["conv2"], ids["add1"]]))
    check_roundtrip(g, h, C.RemoveItems(edges=[g.edges[3], g.edges[0]]))
    check_roundtrip(g, h, C.RemoveItems([ids["input1"]], edges=[g.edges[-1]]))


def test_connect_replacing_an_existing_wire():
    g, h, ids = resnet()
    old = g.edges_into(ids["add1"])[1]
    after = check_roundtrip(g, h, C.Connect(ids["conv1"], ids["add1"], 1))
    assert old not in after[2]
    assert Edge(ids["conv1"], ids["add1"], 1) in after[2]


def test_disconnect_move_setparams_rename():
    g, h, ids = resnet()
    check_roundtrip(g, h, C.Disconnect(g.edges[4]))
    check_roundtrip(g, h, C.MoveNodes({ids["conv1"]: (1, 2), ids["fc1"]: (-5, 7.5)}))
    check_roundtrip(g, h, C.SetParams(ids["conv4"], {"out_channels": 7, "kernel_size": [1, 3]}))
    check_roundtrip(g, h, C.Rename(ids["conv4"], "wide"))


def test_insert_on_edge_paste_autolayout_macro():
    g, h, ids = resnet()
    edge = g.edges_into(ids["fc1"])[0]
    check_roundtrip(g, h, C.InsertOnEdge(edge, "Dropout", (3, 3), {"p": 0.1}))
    fragment = C.copy_fragment(g, [ids["conv2"], ids["bn2"], ids["relu2"]])
    assert len(fragment["nodes"]) == 3 and len(fragment["edges"]) == 2
    paste = C.Paste(fragment, (40, 40))
    after = check_roundtrip(g, h, paste)
    names = [n["name"] for n in after[0]["nodes"][-3:]]
    assert names == ["conv5", "bn4", "relu5"]  # fresh unique names
    h.push(C.MoveNodes({ids["conv1"]: (500, -300)}))  # templates are laid out already
    check_roundtrip(g, h, C.AutoLayout())
    macro = C.Macro("Add and wire", [C.AddNode("ReLU", (0, 0)), C.Disconnect(g.edges[0])])
    check_roundtrip(g, h, macro)


def test_refused_commands_leave_the_graph_unchanged():
    g, h, ids = resnet()
    before = state(g)
    calls = []
    g.subscribe(calls.append)
    with pytest.raises(BlockError):
        h.push(C.SetParams(ids["conv1"], {"kernel_size": 0}))
    with pytest.raises(GraphError):
        h.push(C.Connect(ids["fc1"], ids["conv1"], 0))
    with pytest.raises(GraphError):
        h.push(C.Rename(ids["conv1"], "bn1"))
    with pytest.raises(BlockError):
        C.AddNode("Conv2d", (0, 0), {"stride": -1})
    macro = C.Macro("bad", [C.AddNode("ReLU", (0, 0)), C.Rename(ids["conv1"], "9")])
    with pytest.raises(GraphError):
        h.push(macro)
    assert state(g)[0] == before[0] and state(g)[2] == before[2]
    assert not h.can_undo


def test_history_flags_and_texts():
    g, h, ids = resnet()
    assert h.clean and not h.can_undo and not h.can_redo
    h.push(C.Rename(ids["fc1"], "head"))
    assert not h.clean and h.undo_text == "Rename to head"
    h.set_clean()
    assert h.clean
    h.undo()
    assert not h.clean and h.can_redo and h.redo_text == "Rename to head"
    h.redo()
    assert h.clean
    h.undo()
    h.push(C.AutoLayout())
    assert not h.clean and not h.can_redo


def test_random_edit_sequence_undoes_step_by_step():
    rng = random.Random(4)
    g, h, ids = resnet()
    states = [state(g)]
    types = list(CATALOGUE)
    for _ in range(80):
        nodes = list(g.nodes)
        choice = rng.randrange(8)
        try:
            if choice == 0:
                h.push(C.AddNode(rng.choice(types), (rng.random(), rng.random())))
            elif choice == 1 and nodes:
                h.push(C.RemoveItems(rng.sample(nodes, min(2, len(nodes)))))
            elif choice == 2 and nodes:
                h.push(C.Connect(rng.choice(nodes), rng.choice(nodes), rng.randrange(2)))
            elif choice == 3 and g.edges:
                h.push(C.Disconnect(rng.choice(g.edges)))
            elif choice == 4 and nodes:
                h.push(C.MoveNodes({rng.choice(nodes): (rng.random(), rng.random())}))
            elif choice == 5 and g.edges:
                h.push(C.InsertOnEdge(rng.choice(g.edges), "ReLU", (0, 0)))
            elif choice == 6 and nodes:
                h.push(C.Paste(C.copy_fragment(g, rng.sample(nodes, min(3, len(nodes))))))
            elif choice == 7:
                convs = [n for n in nodes if g.nodes[n].type == "Conv2d"]
                if convs:
                    h.push(C.SetParams(rng.choice(convs), {"kernel_size": rng.randrange(1, 6)}))
            else:
                continue
        except BlockError:
            assert state(g) == states[-1]
            continue
        states.append(state(g))
    assert len(states) > 40
    for expected in reversed(states[:-1]):
        h.undo()
        assert state(g) == expected
    for expected in states[1:]:
        h.redo()
        assert state(g) == expected


def _overlaps(positions, w, h):
    boxes = list(positions.values())
    return [
        (a, b)
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if abs(a[0] - b[0]) < w and abs(a[1] - b[1]) < h
    ]


def test_autolayout_one_row_without_a_view_and_wrapped_rows_with_one():
    g = load_template("lenet").graph
    order = g.topological_order()
    w, h = C.NODE_SIZE
    row = C.layout_positions(g)
    assert len({y for _, y in row.values()}) == 1  # a chain: one row
    xs = [row[nid][0] for nid in order]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    # a laptop-sized canvas: rows, each read left to right, the next row below
    wrapped = C.layout_positions(g, (1000.0, 700.0))
    rows = sorted({y for _, y in wrapped.values()})
    assert 2 <= len(rows) < len(order)
    assert not _overlaps(wrapped, w, h)
    right = max(x for x, _ in wrapped.values()) + w
    bottom = max(y for _, y in wrapped.values()) + h
    assert right / bottom < 1000 / 700 * 2.5  # roughly the view's shape, not one long strip
    by_reading = sorted(order, key=lambda nid: (wrapped[nid][1], wrapped[nid][0]))
    assert by_reading == order  # producers before consumers, row by row
    # a very wide view keeps one row; the node size is a parameter (the UI passes its own)
    assert C.layout_positions(g, (100000.0, 700.0)) == row
    big = C.layout_positions(g, None, (300.0, 100.0))
    assert big[order[1]][0] - big[order[0]][0] == 300.0 + C.LAYOUT_GAP[0]


def test_autolayout_branches_stack_in_columns_and_undo_is_exact():
    g, h, ids = resnet()
    cmd = C.AutoLayout((1200.0, 800.0))
    h.push(C.MoveNodes({ids["conv1"]: (500, -300)}))
    side = C.AddNode("ReLU", (0, 0))
    h.push(side)  # a second consumer of conv1: a branch of conv1's consumers' depth
    h.push(C.Connect(ids["conv1"], side.node_id, 0))
    check_roundtrip(g, h, cmd)
    h.redo()
    positions = {nid: n.pos for nid, n in g.nodes.items()}
    assert not _overlaps(positions, *C.NODE_SIZE)
    # blocks of one depth (a residual branch beside its main path) stack in one column
    stacked = [c for c in C._depth_columns(g) if len(c) >= 2]
    assert stacked
    for column in stacked:
        assert len({positions[nid][0] for nid in column}) == 1
        assert len({positions[nid][1] for nid in column}) == len(column)
