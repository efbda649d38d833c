"""The resampling and reshaping blocks through the whole chain: one graph using every one of
them compiles, exports as a torch and an engine script, and all of these compute the same."""

import numpy as np
import torch
from test_export import import_script

import engine
from netbuilder.compile import compile_graph
from netbuilder.export import export_script
from netbuilder.graph import Graph, History
from netbuilder.graph import commands as C


def decoder_graph():
    g = Graph()
    g.name = "Decoder"
    h = History(g)
    chain = [
        ("Input", {"shape": [1, 12, 12]}),
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}),
        ("LayerNorm", {}),
        ("Dropout2d", {"p": 0.2}),
        ("Upsample", {"mode": "bilinear"}),
        ("ConvTranspose2d", {"out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1}),
        ("Identity", {}),
        ("Upsample", {"scale_factor": 0.5}),
        ("Flatten", {}),
        ("Linear", {"out_features": 24}),
        ("Unflatten", {"unflattened_size": [2, 3, 4]}),
        ("LayerNorm", {"normalized_shape": [4]}),
        ("Flatten", {}),
        ("Linear", {"out_features": 5}),
    ]
    prev = None
    for type_, params in chain:
        cmd = C.AddNode(type_, (0, 0), params)
        h.push(cmd)
        if prev is not None:
            h.push(C.Connect(prev, cmd.node_id, 0))
        prev = cmd.node_id
    return g


def test_every_new_block_exports_to_the_compiled_function(tmp_path):
    g = decoder_graph()
    assert g.problems() == []
    shapes = [n.out_shape for n in g.nodes.values()]
    assert (3, 11, 11) in shapes and (2, 3, 4) in shapes
    compiled = compile_graph(g)
    state = {k: v.numpy().copy() for k, v in compiled.state_dict().items()}
    assert "deconv1.weight" in state and "ln1.weight" in state
    x = np.random.default_rng(0).standard_normal((2, 1, 12, 12)).astype(np.float32)
    compiled.eval()
    with engine.no_grad():
        expected = compiled(engine.from_numpy(x)).numpy()
    for flavour in ("torch", "engine"):
        path = tmp_path / f"decoder_{flavour}.py"
        source = export_script(g, flavour)
        path.write_text(source)
        assert "F.interpolate(" in source and ".unflatten(1, (2, 3, 4))" in source
        net = import_script(path).Decoder()
        if flavour == "torch":
            net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
            net.eval()
            out = net(torch.from_numpy(x)).detach().numpy()
        else:
            net.load_state_dict({k: engine.from_numpy(v) for k, v in state.items()})
            net.eval()
            with engine.no_grad():
                out = net(engine.from_numpy(x)).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5, err_msg=flavour)


def test_a_projection_shortcut_at_the_top_level_exports_as_a_sequential(tmp_path):
    g = Graph()
    g.name = "Skip"
    h = History(g)
    inp = C.AddNode("Input", (0, 0), {"shape": [3, 8, 8]})
    conv = C.AddNode("Conv2d", (0, 0), {"out_channels": 8, "stride": 2, "padding": 1})
    short = C.AddNode("Shortcut", (0, 0), {"out_channels": 8, "stride": 2})
    same = C.AddNode("Shortcut", (0, 0), {})
    add = C.AddNode("Add", (0, 0))
    flat = C.AddNode("Flatten", (0, 0))
    for cmd in (inp, conv, short, same, add, flat):
        h.push(cmd)
    h.push(C.Connect(inp.node_id, conv.node_id, 0))
    h.push(C.Connect(inp.node_id, short.node_id, 0))
    h.push(C.Connect(conv.node_id, same.node_id, 0))
    h.push(C.Connect(same.node_id, add.node_id, 0))
    h.push(C.Connect(short.node_id, add.node_id, 1))
    h.push(C.Connect(add.node_id, flat.node_id, 0))
    assert g.problems() == []
    source = export_script(g, "torch")
    assert "self.shortcut1 = nn.Sequential(" in source
    assert "self.shortcut2 = nn.Identity()" in source
    compiled = compile_graph(g)
    assert sorted(k for k in compiled.state_dict() if k.startswith("shortcut")) == [
        "shortcut1.0.weight",
        "shortcut1.1.bias",
        "shortcut1.1.num_batches_tracked",
        "shortcut1.1.running_mean",
        "shortcut1.1.running_var",
        "shortcut1.1.weight",
    ]
    path = tmp_path / "skip.py"
    path.write_text(source)
    net = import_script(path).Skip()
    net.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in compiled.state_dict().items()}
    )
    net.eval()
    compiled.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    with engine.no_grad():
        expected = compiled(engine.from_numpy(x)).numpy()
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(), expected, atol=1e-5)
