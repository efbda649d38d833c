"""Graph model: shape inference, validation messages on the right node, notifications."""

import pytest

from netbuilder.blocks import BlockError
from netbuilder.graph import Edge, Graph, GraphError, History
from netbuilder.graph import commands as C


class Net:
    """A tiny builder over History: net.add("Conv2d", name, after=..., **params)."""

    def __init__(self):
        self.g = Graph()
        self.h = History(self.g)
        self.ids = {}

    def add(self, type_, name, after=None, port=0, **params):
        cmd = C.AddNode(type_, (0, 0), params, name)
        self.h.push(cmd)
        self.ids[name] = cmd.node_id
        for i, src in enumerate([after] if isinstance(after, str) else (after or [])):
            self.h.push(C.Connect(self.ids[src], cmd.node_id, port + i))
        return cmd.node_id

    def node(self, name):
        return self.g.nodes[self.ids[name]]

    def problems(self):
        """{node name: [messages]} for nodes that have problems."""
        return {n.name: n.problems for n in self.g.nodes.values() if n.problems}

    def push(self, cmd):
        self.h.push(cmd)


def lenet_like():
    net = Net()
    net.add("Input", "input1", shape=[1, 32, 32])
    net.add("Conv2d", "conv1", "input1", out_channels=6, kernel_size=5)
    net.add("ReLU", "relu1", "conv1")
    net.add("MaxPool2d", "pool1", "relu1")
    net.add("Flatten", "flatten1", "pool1")
    net.add("Linear", "fc1", "flatten1", out_features=10)
    return net


def only_problem(net, name, *fragments):
    problems = net.problems()
    assert list(problems) == [name], problems
    (message,) = problems[name]
    assert message.startswith(name), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_valid_chain_infers_shapes_and_counts():
    net = lenet_like()
    assert net.problems() == {}
    assert net.g.is_valid
    assert net.node("conv1").out_shape == (6, 28, 28)
    assert net.node("pool1").out_shape == (6, 14, 14)
    assert net.node("flatten1").out_shape == (1176,)
    assert net.node("fc1").resolved["in_features"] == 1176
    assert net.g.total_params == 6 * 25 + 6 + 1176 * 10 + 10
    assert net.node("conv1").summary == "6@5x5"


def test_cycle_is_reported_on_its_nodes_and_cleared():
    net = lenet_like()
    data = net.g.to_dict()
    data["edges"].append({"src": net.ids["pool1"], "dst": net.ids["relu1"], "dst_port": 0})
    data["edges"] = [
        e for e in data["edges"] if e["dst"] != net.ids["relu1"] or e["src"] == net.ids["pool1"]
    ]
    g = Graph.from_dict(data)  # files may hold loops; they load and show on the nodes
    looped = {g.nodes[nid].name for nid, _ in g.problems()}
    assert {"relu1", "pool1"} <= looped
    for nid, msg in g.problems():
        if g.nodes[nid].name in ("relu1", "pool1"):
            assert "loop" in msg and "remove one of the wires" in msg
    History(g).push(C.Disconnect(Edge(net.ids["pool1"], net.ids["relu1"], 0)))
    assert not any("loop" in m for _, m in g.problems())


def test_commands_refuse_loops_and_bad_wires():
    net = lenet_like()
    before = net.g.to_dict()
    with pytest.raises(GraphError, match="loop"):
        net.push(C.Connect(net.ids["fc1"], net.ids["conv1"], 0))
    assert net.g.check_connection(net.ids["conv1"], net.ids["input1"], 0).startswith(
        "input1 is an Input"
    )
    assert "cannot feed itself" in net.g.check_connection(net.ids["conv1"], net.ids["conv1"], 0)
    assert "one input" in net.g.check_connection(net.ids["conv1"], net.ids["fc1"], 1)
    assert net.g.to_dict() == before


def test_missing_input_on_add():
    net = lenet_like()
    net.add("Add", "add1", "relu1")
    msg = only_problem(net, "add1", "input 2 is not connected", "wire")
    assert msg
    net.push(C.Connect(net.ids["conv1"], net.ids["add1"], 1))
    net.push(C.Connect(net.ids["add1"], net.ids["pool1"], 0))
    assert net.problems() == {}


def test_unconnected_block_and_unused_output():
    net = lenet_like()
    net.add("Conv2d", "conv9")
    only_problem(net, "conv9", "is not connected", "delete it")
    net.push(C.Connect(net.ids["relu1"], net.ids["conv9"], 0))
    only_problem(net, "conv9", "conv9's output is not used", "delete it")
    net.push(C.RemoveItems([net.ids["conv9"]]))
    assert net.problems() == {}


def test_wrong_input_rank():
    net = lenet_like()
    net.push(C.RemoveItems([net.ids["flatten1"]]))
    net.push(C.Connect(net.ids["pool1"], net.ids["fc1"], 0))
    only_problem(net, "fc1", "needs flat features but gets 6x14x14", "insert a Flatten")
    net.push(C.InsertOnEdge(Edge(net.ids["pool1"], net.ids["fc1"], 0), "Flatten", (0, 0)))
    assert net.problems() == {}

    net2 = Net()
    net2.add("Input", "input1", shape=[20])
    net2.add("Conv2d", "conv1", "input1")
    only_problem(net2, "conv1", "needs an image-shaped input", "use Linear")


def test_kernel_larger_than_input():
    net = Net()
    net.add("Input", "input1", shape=[1, 4, 4])
    net.add("Conv2d", "conv1", "input1", kernel_size=5)
    only_problem(net, "conv1", "kernel 5x5 is larger than its 4x4 input", "smaller kernel")
    net.push(C.SetParams(net.ids["conv1"], {"kernel_size": 3}))
    assert net.problems() == {} and net.node("conv1").out_shape == (8, 2, 2)
    net.push(C.SetParams(net.ids["conv1"], {"kernel_size": 3, "padding": 0}))
    net.add("MaxPool2d", "pool1", "conv1", kernel_size=3)
    only_problem(net, "pool1", "kernel 3x3 is larger than its 2x2 input")


def test_non_positive_sizes_from_a_file_show_on_the_node():
    net = lenet_like()
    data = net.g.to_dict()
    for node in data["nodes"]:
        if node["name"] == "conv1":
            node["params"]["out_channels"] = 0
    g = Graph.from_dict(data)
    ((nid, msg),) = g.problems()
    assert g.nodes[nid].name == "conv1"
    assert "out_channels must be positive (got 0)" in msg and "set it to 1 or more" in msg
    History(g).push(C.SetParams(nid, {"out_channels": 6}))
    assert g.problems() == []

    with pytest.raises(BlockError, match="must be positive"):
        C.SetParams(nid, {"out_channels": -1}).redo(g)  # edits are refused up front
    assert g.nodes[nid].params["out_channels"] == 6

    data["nodes"][0]["params"]["shape"] = [1, 0, 28]
    g = Graph.from_dict(data)
    assert any(
        "shape must be positive" in m for nid, m in g.problems() if g.nodes[nid].name == "input1"
    )


def test_pinned_in_features_mismatch():
    net = lenet_like()
    net.push(C.SetParams(net.ids["fc1"], {"in_features": 400}))
    only_problem(
        net,
        "fc1",
        "in_features is 400 but the input has 1176 features",
        "set in_features to 1176, or clear it",
    )
    net.push(C.SetParams(net.ids["fc1"], {"in_features": None}))
    assert net.problems() == {}
    net.push(C.SetParams(net.ids["conv1"], {"in_channels": 3}))
    only_problem(net, "conv1", "in_channels is 3 but the input has 1 channels")


def residual():
    net = Net()
    net.add("Input", "input1", shape=[1, 8, 8])
    net.add("Conv2d", "conv1", "input1", out_channels=4, kernel_size=3, padding=1)
    net.add("Conv2d", "conv2", "conv1", out_channels=4, kernel_size=3, padding=1)
    net.add("Add", "add1", ["conv2", "conv1"])
    net.add("Flatten", "flatten1", "add1")
    return net


def test_add_shape_mismatch():
    net = residual()
    assert net.problems() == {} and net.node("add1").out_shape == (4, 8, 8)
    net.push(C.SetParams(net.ids["conv2"], {"out_channels": 6}))
    only_problem(net, "add1", "same shape but gets 6x8x8 and 4x8x8", "so both match")
    net.push(C.SetParams(net.ids["conv2"], {"out_channels": 4}))
    assert net.problems() == {}


def test_concat_mismatch_and_ports():
    net = residual()
    net.push(C.RemoveItems([net.ids["add1"]]))
    net.add("Concat", "cat1", ["conv2", "conv1"])
    net.push(C.Connect(net.ids["cat1"], net.ids["flatten1"], 0))
    assert net.problems() == {} and net.node("cat1").out_shape == (8, 8, 8)
    assert net.g.port_count(net.ids["cat1"]) == 3
    net.push(C.Connect(net.ids["input1"], net.ids["cat1"], 2))
    assert net.node("cat1").out_shape == (9, 8, 8)
    net.push(C.SetParams(net.ids["conv2"], {"padding": 0}))
    only_problem(net, "cat1", "every other size must match", "height x width equal")
    net.push(C.SetParams(net.ids["conv2"], {"padding": 1}))
    assert net.problems() == {}


def test_second_input_block():
    net = lenet_like()
    net.add("Input", "input2", shape=[1, 32, 32])
    problems = net.problems()
    assert "second Input" in problems["input2"][0]


def test_notifications_once_per_command():
    net = lenet_like()
    calls = []
    net.g.subscribe(calls.append)
    net.push(C.InsertOnEdge(net.g.edges_into(net.ids["fc1"])[0], "Dropout", (0, 0)))
    assert len(calls) == 1
    kinds = [c.kind for c in calls[0]]
    assert kinds.count("node_added") == 1 and "edge_added" in kinds and "edge_removed" in kinds
    net.h.undo()
    assert len(calls) == 2
    net.push(C.MoveNodes({net.ids["conv1"]: (5, 5)}))
    assert [c.kind for c in calls[-1]] == ["node_moved"]
    net.g.unsubscribe(calls.append)
    net.push(C.Rename(net.ids["conv1"], "c1"))
    assert len(calls) == 3


def test_rename_rules():
    net = lenet_like()
    with pytest.raises(GraphError, match="already called"):
        net.push(C.Rename(net.ids["conv1"], "fc1"))
    with pytest.raises(GraphError, match="not a valid name"):
        net.push(C.Rename(net.ids["conv1"], "conv 1"))
    with pytest.raises(GraphError, match="reserved"):
        net.push(C.Rename(net.ids["conv1"], "forward"))
    assert net.node("conv1").name == "conv1"


def test_topological_order_and_edges():
    net = residual()
    order = [net.g.nodes[n].name for n in net.g.topological_order()]
    assert order == ["input1", "conv1", "conv2", "add1", "flatten1"]
    assert [e.dst_port for e in net.g.edges_into(net.ids["add1"])] == [0, 1]
    assert len(net.g.edges_from(net.ids["conv1"])) == 2


def test_in_shapes_are_per_port_even_when_one_is_missing():
    net = lenet_like()
    net.add("Add", "add1", "relu1", port=1)
    assert net.node("add1").in_shapes == [None, (6, 28, 28)]
    assert net.node("add1").out_shape is None
