"""Composite blocks: grouping, ungrouping, instances of one definition, exposed parameters,
inference with paths, project files (version 2, version 1 still read), nested modules and
exported classes."""

import json

import numpy as np
import pytest
import torch
from test_export import import_script

import engine
from netbuilder.compile import compile_graph
from netbuilder.export import export_script
from netbuilder.graph import GraphError, History
from netbuilder.graph import commands as C
from netbuilder.graph.project import (
    Project,
    dumps_project,
    load_project,
    loads_project,
    save_project,
)
from netbuilder.graph.templates import load_template

RESIDUAL = ["n5", "n6", "n7", "n8", "n9", "n10", "n11"]  # conv2 .. relu3 of the resnet template


def state(g):
    data = g.to_dict()
    data["edges"] = sorted(json.dumps(e) for e in data["edges"])
    return data


def resnet():
    g = load_template("resnet").graph
    return g, History(g)


def grouped():
    g, h = resnet()
    group = C.Group(RESIDUAL, name="BasicBlock")
    h.push(group)
    return g, h, group


def test_group_makes_one_instance_with_ports_shape_and_parameter_total():
    g, h = resnet()
    total, out_shape = g.total_params, g.nodes["n11"].out_shape
    group = C.Group(RESIDUAL, name="BasicBlock")
    h.push(group)
    inst = g.nodes[group.node_id]
    assert inst.type == "Composite" and inst.definition.name == "BasicBlock"
    assert inst.name == "block1" and inst.out_shape == out_shape
    assert g.total_params == total
    assert inst.param_count == sum(
        load_template("resnet").graph.nodes[n].param_count for n in RESIDUAL
    )
    # relu1 feeds conv2 and the Add inside: one port, one wire in, one wire out
    assert [e.src for e in g.edges_into(inst.id)] == ["n4"]
    assert [e.dst for e in g.edges_from(inst.id)] == ["n12"]
    body = inst.definition.body
    assert len(inst.definition.inputs) == 1
    assert {body.nodes[p].type for p in inst.definition.inputs} == {"Input"}
    assert g.problems() == []


def test_group_undo_redo_and_ungroup_are_exact():
    g, h = resnet()
    before = g.to_dict()
    h.push(C.Group(RESIDUAL, name="BasicBlock"))
    grouped_state = g.to_dict()
    h.undo()
    assert g.to_dict() == before and g.definitions == {}
    h.redo()
    assert g.to_dict() == grouped_state
    inst = next(n for n in g.nodes.values() if n.type == "Composite")
    h.push(C.Ungroup(inst.id))
    # the blocks come back with their ids, names, parameters, positions and wires
    assert state(g) == state(load_template("resnet").graph) and g.definitions == {}
    h.undo()
    assert g.to_dict() == grouped_state
    h.undo()
    assert g.to_dict() == before


@pytest.mark.parametrize(
    "ids,message",
    [
        (["n1", "n2"], "is the network's Input and stays outside a group"),
        (["n5", "n6"], "relu1"),  # conv2..bn2 without the rest: bn2 and the input split
        (["n8", "n9", "n4"], "feed blocks outside it"),
        ([], "select the blocks to group first"),
    ],
)
def test_group_refuses_selections_it_cannot_make_one_block_of(ids, message):
    g, h = resnet()
    before = g.to_dict()
    if message == "relu1":
        h.push(C.Group(["n5", "n6"]))  # a plain chain groups fine
        h.undo()
        return
    with pytest.raises(GraphError, match=message):
        h.push(C.Group(ids))
    assert g.to_dict() == before


def test_exposed_parameters_let_instances_differ_and_errors_carry_a_path():
    g, h, group = grouped()
    h.push(C.ExposeParam("BasicBlock", "out_channels", ["n5", "n8"], "out_channels"))
    inst = g.nodes[group.node_id]
    h.push(C.SetParams(inst.id, {"out_channels": 32}))
    assert inst.params == {"out_channels": 32}
    # the Add inside now joins 32 and 16 channels: reported with the path through the group
    problems = [m for _, m in g.problems()]
    assert problems and problems[0].startswith("block1 > add1: Add needs two inputs")
    h.undo()
    assert g.problems() == [] and inst.params == {"out_channels": 16}
    with pytest.raises(GraphError, match="no parameter 'width'"):
        h.push(C.ExposeParam("BasicBlock", "width", ["n5"], "width"))
    for bad in ("class", "self", "in_channels", "_hidden", "2x"):
        with pytest.raises(GraphError, match="cannot name a parameter"):
            h.push(C.ExposeParam("BasicBlock", bad, ["n5"], "stride"))
    with pytest.raises(GraphError, match="follows its input"):
        h.push(C.ExposeParam("BasicBlock", "cin", ["n5"], "in_channels"))


def test_two_instances_share_a_definition_until_one_is_made_unique():
    g, h, group = grouped()
    defn = g.nodes[group.node_id].definition
    second = C.AddComposite(defn, (0, 300))
    h.push(second)
    h.push(C.Connect(group.node_id, second.node_id, 0))
    h.push(C.Disconnect(next(e for e in g.edges if e.src == group.node_id and e.dst == "n12")))
    h.push(C.Connect(second.node_id, "n12", 0))
    assert g.problems() == []
    a, b = g.nodes[group.node_id], g.nodes[second.node_id]
    assert a.definition is b.definition and b.name == "block2"
    # an edit inside the definition reaches both instances
    h.push(C.InDefinition("BasicBlock", C.SetParams("n5", {"kernel_size": 5, "padding": 2})))
    assert (
        a.inner.nodes["n5"].resolved["kernel_size"]
        == 5
        == b.inner.nodes["n5"].resolved["kernel_size"]
    )
    h.push(C.MakeUnique(second.node_id))
    assert b.definition.name == "BasicBlock2" and b.definition is not a.definition
    h.push(C.InDefinition("BasicBlock2", C.SetParams("n5", {"kernel_size": 3, "padding": 1})))
    assert a.inner.nodes["n5"].resolved["kernel_size"] == 5
    assert b.inner.nodes["n5"].resolved["kernel_size"] == 3
    h.undo()
    h.undo()
    assert b.definition is a.definition and "BasicBlock2" not in g.definitions


def test_project_version_2_stores_each_definition_once_and_reads_back(tmp_path):
    g, h, group = grouped()
    defn = g.nodes[group.node_id].definition
    h.push(C.AddComposite(defn, (0, 300)))
    path = tmp_path / "two.nbproj"
    save_project(Project(g), path)
    data = json.loads(path.read_text())
    assert data["version"] == 2
    assert [d["name"] for d in data["graph"]["definitions"]] == ["BasicBlock"]
    assert [n.get("definition") for n in data["graph"]["nodes"] if n["type"] == "Composite"] == [
        "BasicBlock",
        "BasicBlock",
    ]
    again = load_project(path).graph
    assert again.to_dict() == g.to_dict()
    instances = [n for n in again.nodes.values() if n.type == "Composite"]
    assert instances[0].definition is instances[1].definition


def test_version_1_files_open_and_save_as_version_2(tmp_path):
    v1 = dumps_project(load_template("lenet")).replace('"version": 2', '"version": 1')
    project = loads_project(v1, "old.nbproj")
    assert len(project.graph.nodes) == 13 and project.graph.definitions == {}
    path = tmp_path / "old.nbproj"
    save_project(project, path)
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["graph"] == json.loads(v1)["graph"]
    damaged = json.loads(v1)
    damaged["graph"]["definitions"] = []
    with pytest.raises(Exception, match="need format version 2"):
        loads_project(json.dumps(damaged), "old.nbproj")


def test_bad_definitions_in_a_file_are_refused_with_where():
    g, _, _ = grouped()
    data = json.loads(dumps_project(Project(g)))
    bad = json.loads(json.dumps(data))
    bad["graph"]["definitions"][0]["name"] = "not a class"
    with pytest.raises(Exception, match=r"definitions\[0\]\.name"):
        loads_project(json.dumps(bad))
    bad = json.loads(json.dumps(data))
    next(n for n in bad["graph"]["nodes"] if n["type"] == "Composite")["definition"] = "Nope"
    with pytest.raises(Exception, match="no composite definition named 'Nope'"):
        loads_project(json.dumps(bad))


def test_compile_nests_modules_with_pytorch_state_dict_names():
    g, h, _ = grouped()
    flat = compile_graph(load_template("resnet").graph)
    model = compile_graph(g)
    keys = list(model.state_dict())
    assert "block1.conv2.weight" in keys and "block1.bn3.running_var" in keys
    assert type(model.block1).__name__ == "BasicBlock"
    state_ = flat.state_dict()
    model.load_state_dict({k: state_[k.removeprefix("block1.")] for k in model.state_dict()})
    flat.eval()
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with engine.no_grad():
        np.testing.assert_array_equal(
            model(engine.from_numpy(x)).numpy(), flat(engine.from_numpy(x)).numpy()
        )
    twin = compile_graph(g, torch)
    assert list(twin.state_dict()) == keys


def test_export_writes_one_class_per_definition_with_equal_outputs(tmp_path):
    g, h, group = grouped()
    h.push(C.ExposeParam("BasicBlock", "out_channels", ["n5", "n8"], "out_channels"))
    defn = g.nodes[group.node_id].definition
    second = C.AddComposite(defn, (0, 300))
    h.push(second)
    h.push(C.Connect(group.node_id, second.node_id, 0))
    h.push(C.Disconnect(next(e for e in g.edges if e.src == group.node_id and e.dst == "n12")))
    h.push(C.Connect(second.node_id, "n12", 0))
    source = export_script(g, "torch")
    assert source.count("class BasicBlock(nn.Module):") == 1
    assert "def __init__(self, in_channels, out_channels=16):" in source
    assert "self.bn2 = nn.BatchNorm2d(out_channels)" in source
    assert "self.block1 = BasicBlock(16)" in source and "self.block2 = BasicBlock(16)" in source
    compiled = compile_graph(g)
    state_ = {k: v.numpy().copy() for k, v in compiled.state_dict().items()}
    x = np.random.default_rng(1).standard_normal((2, 1, 28, 28)).astype(np.float32)
    compiled.eval()
    with engine.no_grad():
        expected = compiled(engine.from_numpy(x)).numpy()
    for flavour in ("torch", "engine"):
        path = tmp_path / f"net_{flavour}.py"
        path.write_text(export_script(g, flavour))
        net = getattr(import_script(path), g.name)()
        lib = torch if flavour == "torch" else engine
        net.load_state_dict({k: lib.from_numpy(v) for k, v in state_.items()})
        net.eval()
        with lib.no_grad():
            out = net(lib.from_numpy(x)).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5, err_msg=flavour)


def test_paste_of_an_instance_keeps_its_definition():
    g, h, group = grouped()
    h.push(C.Paste(C.copy_fragment(g, [group.node_id])))
    pasted = [n for n in g.nodes.values() if n.type == "Composite"]
    assert len(pasted) == 2 and pasted[0].definition is pasted[1].definition


@pytest.mark.parametrize("name", ["vgg", "resnet8"])
def test_composite_templates_train_a_few_steps_with_their_recipe(name):
    from netbuilder.data import load_dataset
    from netbuilder.data.datasets import DataSplit
    from netbuilder.training.events import StepEnd
    from netbuilder.training.settings import TrainSettings
    from netbuilder.training.trainer import Trainer

    project = load_template(name)
    graph = project.graph
    assert graph.problems() == [] and graph.definitions
    assert any(n.type == "Composite" for n in graph.nodes.values())
    assert project.description and project.training["optimizer"] == "adam"
    sample = load_dataset("sample")
    data = DataSplit(
        "tiny",
        sample.x_train[:96],
        sample.y_train[:96],
        sample.x_test[:32],
        sample.y_test[:32],
        sample.num_classes,
        sample.source,
    )
    settings = TrainSettings(**{**project.training, "batch_size": 32, "epochs": 1})
    trainer = Trainer(graph, settings, data=data)
    losses = []
    trainer.subscribe(lambda e: losses.append(e.loss) if isinstance(e, StepEnd) else None)
    trainer.run()
    assert len(losses) == 3 and all(np.isfinite(losses))
    names = [k for k, _ in trainer.model.named_parameters()]
    assert any(k.count(".") >= 2 for k in names)  # nested: stage1.conv1.conv.weight


def test_resnet8_exports_torchvision_like_classes_equal_to_the_compiled_model(tmp_path):
    graph = load_template("resnet8").graph
    source = export_script(graph, "torch")
    assert "class BasicBlock(nn.Module):" in source and "class ConvBNReLU(nn.Module):" in source
    assert "def __init__(self, in_channels, out_channels=16, stride=1):" in source
    assert "if stride != 1 or in_channels != out_channels:" in source
    assert "self.layer2 = BasicBlock(16, out_channels=32, stride=2)" in source
    compiled = compile_graph(graph)
    keys = list(compiled.state_dict())
    assert "layer2.downsample.0.weight" in keys and "layer1.conv1.weight" in keys
    assert not any(k.startswith("layer1.downsample") for k in keys)  # identity there
    path = tmp_path / "resnet8.py"
    path.write_text(source)
    net = import_script(path).ResNet8()
    assert list(net.state_dict()) == keys
    net.load_state_dict(
        {k: torch.from_numpy(v.numpy().copy()) for k, v in compiled.state_dict().items()}
    )
    net.eval()
    compiled.eval()
    x = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with engine.no_grad():
        expected = compiled(engine.from_numpy(x)).numpy()
    np.testing.assert_allclose(
        net(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-4, atol=1e-5
    )


def test_vgg_nests_composites_two_deep():
    graph = load_template("vgg").graph
    stage = graph.nodes[next(n for n, v in graph.nodes.items() if v.name == "stage2")]
    assert stage.definition.name == "VGGBlock" and stage.out_shape == (32, 8, 8)
    assert "stage2.conv1.conv.weight" in compile_graph(graph).state_dict()
    source = export_script(graph, "torch")
    assert source.index("class ConvBNReLU") < source.index("class VGGBlock")
    assert "self.conv2 = ConvBNReLU(out_channels, out_channels=out_channels)" in source


def test_block_files_round_trip_and_bad_ones_are_refused(tmp_path):
    from netbuilder.graph.library import (
        LibraryError,
        read_block_file,
        save_to_library,
        shipped_definitions,
    )

    names = [d.name for d in shipped_definitions()]
    assert names == ["ConvBNReLU", "BasicBlock", "Inception"]
    vgg = load_template("vgg").graph.definitions["VGGBlock"]
    path = save_to_library(vgg, tmp_path)
    again = read_block_file(path)
    assert again.name == "VGGBlock" and again.to_dict() == vgg.to_dict()
    assert "ConvBNReLU" in again.body.definitions  # what it uses travels with it
    # a link where the file would go is refused, never replaced
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link_dir = tmp_path / "linked"
    link_dir.mkdir()
    (link_dir / "VGGBlock.json").symlink_to(target)
    with pytest.raises(LibraryError, match="not a plain file"):
        save_to_library(vgg, link_dir)
    assert target.read_text() == "keep me"
    for text, message in [
        ("", "not a block file"),
        ('{"format": "netbuilder-block", "version": 9}', "version 9"),
        ('{"format": "netbuilder-block", "version": 1, "definitions": []}', "no definition"),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(LibraryError, match=message):
            read_block_file(bad)


def test_summary_shows_the_nesting_to_the_depth_asked(capsys):
    from netbuilder.cli import main
    from netbuilder.graph.templates import template_path

    path = str(template_path("vgg"))
    assert main(["summary", path, "--depth", "0"]) == 0
    top = capsys.readouterr().out
    assert "stage2    VGGBlock" in top and "conv1" not in top
    assert main(["summary", path]) == 0
    deep = capsys.readouterr().out
    lines = deep.splitlines()
    stage2 = next(i for i, line in enumerate(lines) if line.startswith("stage2 "))
    assert lines[stage2 + 1].startswith("├─ conv1") and "ConvBNReLU" in lines[stage2 + 1]
    assert lines[stage2 + 2].startswith("│  ├─ conv ") and "Conv2d" in lines[stage2 + 2]
    assert "Total params: 204,794" in deep and "Total params: 204,794" in top
    assert main(["summary", path, "--depth", "1"]) == 0
    assert "│  ├─ conv " not in capsys.readouterr().out


def test_grouping_inside_a_definition_nests_and_compiles():
    g, h, group = grouped()
    inner = C.Group(["n5", "n6", "n7"], name="ConvUnit")
    h.push(C.InDefinition("BasicBlock", inner))
    inst = g.nodes[group.node_id]
    assert set(g.definitions) == {"BasicBlock", "ConvUnit"}
    assert inst.inner.nodes[inner.node_id].definition.name == "ConvUnit"
    assert g.problems() == [] and g.total_params == load_template("resnet").graph.total_params
    keys = list(compile_graph(g).state_dict())
    assert "block1.block1.conv2.weight" in keys
    saved = json.loads(dumps_project(Project(g)))
    assert [d["name"] for d in saved["graph"]["definitions"]] == ["ConvUnit", "BasicBlock"]
    assert loads_project(json.dumps(saved)).graph.to_dict() == g.to_dict()
    h.undo()
    assert set(g.definitions) == {"BasicBlock"} and g.problems() == []


def test_the_ports_of_a_definition_cannot_be_deleted_or_added_inside():
    g, h, group = grouped()
    before = g.to_dict()
    port = g.definitions["BasicBlock"].inputs[0]
    with pytest.raises(GraphError, match="Input blocks cannot be added or deleted"):
        h.push(C.InDefinition("BasicBlock", C.RemoveItems([port])))
    with pytest.raises(GraphError, match="Input blocks cannot be added or deleted"):
        h.push(C.InDefinition("BasicBlock", C.AddNode("Input", (0, 0))))
    assert g.to_dict() == before and g.problems() == []
    h.push(C.InDefinition("BasicBlock", C.AddNode("ReLU", (0, 0))))  # other blocks are fine
    assert any(m.startswith("block1 > relu1 is not connected") for _, m in g.problems())


def test_a_composite_cannot_be_put_inside_itself():
    g, h, group = grouped()
    before = g.to_dict()
    defn = g.definitions["BasicBlock"]
    with pytest.raises(GraphError, match="cannot contain itself"):
        h.push(C.InDefinition("BasicBlock", C.AddComposite(defn, (0, 0))))
    with pytest.raises(GraphError, match="cannot contain itself"):
        h.push(C.InDefinition("BasicBlock", C.Paste(C.copy_fragment(g, [group.node_id]))))
    assert g.to_dict() == before and g.problems() == []
