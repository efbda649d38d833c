"""Project files: round trips, clear errors for bad files, atomic saves."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netbuilder.graph import project as project_module
from netbuilder.graph.project import (
    Project,
    ProjectError,
    dumps_project,
    load_project,
    loads_project,
    save_project,
)
from netbuilder.graph.templates import list_templates, load_template, template_path

TEMPLATES = [name for name, _ in list_templates()]


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_round_trip_exactly(name, tmp_path):
    original = load_template(name)
    assert original.graph.is_valid
    path = tmp_path / f"{name}.nbproj"
    save_project(original, path)
    again = load_project(path)
    assert again.to_dict() == original.to_dict()
    assert path.read_text() == template_path(name).read_text()  # byte-identical rewrite
    assert [n.out_shape for n in again.graph.nodes.values()] == [
        n.out_shape for n in original.graph.nodes.values()
    ]


def test_lenet_template_is_the_seed_network():
    g = load_template("lenet").graph
    assert g.total_params == 61706
    layers = [(n.type, n.name, n.summary) for n in g.nodes.values()]
    assert layers == [
        ("Input", "input1", "1x32x32"),
        ("Conv2d", "conv1", "6@5x5"),
        ("ReLU", "relu1", ""),
        ("MaxPool2d", "pool1", "2x2"),
        ("Conv2d", "conv2", "16@5x5"),
        ("ReLU", "relu2", ""),
        ("MaxPool2d", "pool2", "2x2"),
        ("Flatten", "flatten1", ""),
        ("Linear", "fc1", "120"),
        ("ReLU", "relu3", ""),
        ("Linear", "fc2", "84"),
        ("ReLU", "relu4", ""),
        ("Linear", "fc3", "10"),
    ]
    assert [n.type for n in load_template("resnet").graph.nodes.values()].count("Add") == 1


def test_training_weights_and_runs_are_kept_verbatim(tmp_path):
    p = load_template("mlp")
    p.training = {"optimizer": "adam", "lr": 0.001, "betas": [0.9, 0.99], "future_key": {"a": 1}}
    p.weights_path = "weights/mlp.safetensors"
    p.runs = [{"name": "run 1", "loss": [2.3, 0.4, 0.2], "accuracy": 0.97}]
    save_project(p, tmp_path / "p.nbproj")
    q = load_project(tmp_path / "p.nbproj")
    assert q.training == p.training and q.runs == p.runs
    assert q.weights_path == "weights/mlp.safetensors"
    assert q.weights_file(tmp_path / "p.nbproj") == tmp_path / "weights" / "mlp.safetensors"


def lenet_dict():
    return json.loads(template_path("lenet").read_text())


def mangle(change):
    data = lenet_dict()
    change(data)
    return json.dumps(data)


BAD_FILES = [
    ("", "the file is empty"),
    ('{"format": "netbuilder-project", "version": 1, "gra', "line 1 column"),
    ("[1, 2]", "top level: must be a JSON object"),
    ('{"format": "other"}', "format: expected 'netbuilder-project'"),
    (mangle(lambda d: d.update(version=7)), "version: the file has format version 7"),
    (mangle(lambda d: d.update(version="1")), "version: must be a positive whole number"),
    (mangle(lambda d: d.pop("graph")), "graph: missing"),
    (mangle(lambda d: d.update(extra=1)), "top level: unknown field(s) extra"),
    (
        mangle(lambda d: d["graph"]["nodes"][1].update(type="Conv3d")),
        "graph.nodes[1].type: unknown block type 'Conv3d'",
    ),
    (
        mangle(lambda d: d["graph"]["nodes"][1].update(name="import os")),
        "graph.nodes[1].name: 'import os' is not a valid name",
    ),
    (
        mangle(lambda d: d["graph"]["nodes"][2].update(name="conv1")),
        "graph.nodes[2].name: 'conv1' is used by two blocks",
    ),
    (
        mangle(lambda d: d["graph"]["nodes"][1]["params"].update(kernel_size="5")),
        "graph.nodes[1] (conv1).params: kernel_size must be a whole number",
    ),
    (
        mangle(lambda d: d["graph"]["nodes"][1]["params"].update(kernal=5)),
        "graph.nodes[1] (conv1).params: Conv2d has no parameter 'kernal'",
    ),
    (
        mangle(lambda d: d["graph"]["nodes"][1].update(pos=[1])),
        "graph.nodes[1] (conv1).pos: must be two numbers",
    ),
    (
        mangle(lambda d: d["graph"]["nodes"][1].update(id="n1")),
        "graph.nodes[1].id: 'n1' is used twice",
    ),
    (
        mangle(lambda d: d["graph"]["edges"][0].update(src="n99")),
        "graph.edges[0].src: no block with id 'n99'",
    ),
    (
        mangle(lambda d: d["graph"]["edges"][0].update(dst_port=3)),
        "graph.edges[0].dst_port: conv1 has no input port 3",
    ),
    (
        mangle(lambda d: d["graph"]["edges"].append(dict(d["graph"]["edges"][1]))),
        "two wires go into input 0 of relu1",
    ),
    (mangle(lambda d: d.update(training=[1])), "training: must be an object"),
    (mangle(lambda d: d.update(runs={"a": 1})), "runs: must be a list of objects"),
    (mangle(lambda d: d.update(weights=5)), "weights: must be a file path or null"),
    ('{"format": "netbuilder-project", "version": NaN}', "NaN is not a number JSON allows"),
    ("[" * 100000, "nested too deeply"),
]


@pytest.mark.parametrize("text,message", BAD_FILES, ids=[m[:30] for _, m in BAD_FILES])
def test_bad_files_give_one_clear_message(tmp_path, text, message):
    path = tmp_path / "bad.nbproj"
    path.write_text(text)
    with pytest.raises(ProjectError) as info:
        load_project(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_unreadable_paths(tmp_path):
    with pytest.raises(ProjectError, match="file not found"):
        load_project(tmp_path / "missing.nbproj")
    with pytest.raises(ProjectError, match="is a folder"):
        load_project(tmp_path)
    (tmp_path / "bin.nbproj").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProjectError, match="not UTF-8"):
        load_project(tmp_path / "bin.nbproj")


VALID = template_path("resnet").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(0, len(VALID)),
    flips=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=4),
)
def test_fuzzed_bytes_only_raise_project_error(cut, flips):
    data = bytearray(VALID[:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    try:
        loads_project(bytes(data), "fuzz")
    except ProjectError as exc:
        assert str(exc).startswith("fuzz: ")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_json_structure_only_raises_project_error(data):
    """Replace one value anywhere in a valid project with random JSON."""
    doc = json.loads(VALID)
    paths = []

    def walk(node, path):
        paths.append(path)
        items = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, child in items:
            walk(child, (*path, key))

    walk(doc, ())
    path = data.draw(st.sampled_from(paths[1:]))
    target = doc
    for key in path[:-1]:
        target = target[key]
    if data.draw(st.booleans()) and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = data.draw(json_values)
    try:
        project = loads_project(json.dumps(doc), "fuzz")
    except ProjectError as exc:
        assert str(exc).startswith("fuzz: ")
    else:
        dumps_project(project)  # whatever loads can be saved again


def test_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "p.nbproj"
    save_project(load_template("lenet"), path)
    old = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_module.os, "replace", broken_replace)
    with pytest.raises(ProjectError, match="cannot save: No space left on device"):
        save_project(load_template("mlp"), path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["p.nbproj"]  # the temp file is cleaned up


def test_save_killed_midway_through_writing(tmp_path, monkeypatch):
    path = tmp_path / "p.nbproj"
    save_project(load_template("lenet"), path)
    old = path.read_bytes()
    real_write = os.write

    def dies(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise KeyboardInterrupt  # the process is stopped halfway

    monkeypatch.setattr(os, "write", dies)
    with pytest.raises(KeyboardInterrupt):
        save_project(load_template("mlp"), path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["p.nbproj"]
    assert load_project(path).graph.total_params == 61706


def test_unserialisable_training_settings_are_refused(tmp_path):
    p = Project(load_template("lenet").graph, training={"lr": float("nan")})
    with pytest.raises(ProjectError, match="cannot be written as JSON"):
        save_project(p, tmp_path / "x.nbproj")
    assert not (tmp_path / "x.nbproj").exists()
