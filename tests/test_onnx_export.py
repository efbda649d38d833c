"""ONNX export: every template and random graphs run in onnxruntime as they run in the engine."""

import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from test_export import random_graph

import engine
from netbuilder.cli import main as cli_main
from netbuilder.compile import compile_graph
from netbuilder.export import ExportError
from netbuilder.export import onnx as onnx_export
from netbuilder.export.onnx import ONNX_EMITTERS, OPSET, build_onnx, write_onnx
from netbuilder.graph.templates import list_templates, load_template, template_path

TEMPLATES = [name for name, _ in list_templates()]


def engine_and_onnx(graph, batch=3, seed=0):
    """(engine output, onnxruntime output) for one random batch, same weights."""
    model = compile_graph(graph)
    model.eval()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    proto = build_onnx(graph, state)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = next(n for n in graph.nodes.values() if n.type == "Input")
    x = np.random.default_rng(seed).standard_normal((batch, *inp.out_shape)).astype(np.float32)
    with engine.no_grad():
        expected = model(engine.from_numpy(x)).numpy()
    return expected, session.run(None, {inp.name: x})[0]


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_run_the_same_in_onnxruntime(name):
    expected, got = engine_and_onnx(load_template(name).graph)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_random_graphs_run_the_same_in_onnxruntime():
    rng = np.random.default_rng(7)
    for i in range(20):
        graph = random_graph(rng)
        expected, got = engine_and_onnx(graph, seed=i)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=f"graph {i}")


def test_the_model_reads_like_the_network():
    graph = load_template("bn_cnn").graph
    proto = build_onnx(graph)
    assert proto.opset_import[0].version == OPSET
    names = [n.name for n in proto.graph.node]
    assert names == [n.name for n in graph.nodes.values() if n.type != "Input"][: len(names)]
    keys = {i.name for i in proto.graph.initializer}
    assert {"conv1.weight", "bn1.weight", "bn1.running_mean", "bn1.running_var", "fc1.bias"} <= keys
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    shape = list(graph.node_by_name("input1").out_shape)
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == shape
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_any_batch_size_runs():
    graph = load_template("lenet").graph
    session = ort.InferenceSession(build_onnx(graph).SerializeToString())
    shape = graph.node_by_name("input1").out_shape
    for batch in (1, 5):
        x = np.zeros((batch, *shape), np.float32)
        assert session.run(None, {"input1": x})[0].shape == (batch, 10)


def test_uneven_adaptive_pooling_matches():
    graph = load_template("resnet").graph
    gap = next(n for n in graph.nodes.values() if n.type == "AdaptiveAvgPool2d")
    graph.set_params(gap.id, {**gap.params, "output_size": 3})
    assert not graph.problems()
    expected, got = engine_and_onnx(graph)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_a_block_type_with_no_mapping_is_refused_by_name(monkeypatch):
    monkeypatch.delitem(ONNX_EMITTERS, "MaxPool2d")
    with pytest.raises(ExportError, match=r"no ONNX operators are known for pool1 \(MaxPool2d\)"):
        build_onnx(load_template("lenet").graph)


def test_missing_onnx_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ExportError, match=r"pip install 'netbuilder\[onnx\]'"):
        onnx_export.require_onnx()


def test_cli_exports_onnx_with_weights(tmp_path, capsys):
    graph = load_template("lenet").graph
    model = compile_graph(graph)
    from safetensors.numpy import save_file

    state = {k: v.numpy() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / "w.safetensors")
    out = tmp_path / "lenet.onnx"
    code = cli_main(
        [
            "export",
            str(template_path("lenet")),
            "--target",
            "onnx",
            "-o",
            str(out),
            "--weights",
            str(tmp_path / "w.safetensors"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    proto = onnx.load(str(out))
    stored = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    np.testing.assert_array_equal(stored["conv1.weight"], state["conv1.weight"])
    # weights of another network are refused as one line, and nothing is written
    other = tmp_path / "other.onnx"
    save_file({"fc1.weight": np.zeros((2, 2), np.float32)}, tmp_path / "bad.safetensors")
    code = cli_main(
        ["export", str(template_path("lenet")), "--target", "onnx", "-o", str(other)]
        + ["--weights", str(tmp_path / "bad.safetensors")]
    )
    assert code == 1 and not other.exists()
    assert "do not fit this network" in capsys.readouterr().err


def test_write_onnx_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken)
    with pytest.raises(OSError):
        write_onnx(load_template("lenet"), path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


@pytest.mark.parametrize("type_", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("size,kernel,stride,padding", [(7, 2, 2, 0), (6, 3, 2, 1), (8, 3, 3, 1)])
def test_ceil_mode_pooling_matches_pytorch_sizes(type_, size, kernel, stride, padding):
    from netbuilder.graph import History
    from netbuilder.graph import commands as C
    from netbuilder.graph.model import Graph

    graph = Graph("Net")
    history = History(graph)
    inp = C.AddNode("Input", (0, 0), {"shape": [2, size, size]})
    pool = C.AddNode(
        type_,
        (0, 0),
        {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": True},
    )
    history.push(inp)
    history.push(pool)
    history.push(C.Connect(inp.node_id, pool.node_id, 0))
    expected, got = engine_and_onnx(graph)  # the checker's shape inference agrees too
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
