"""Exported scripts: readable, lint-clean, the same network in torch and engine, and they train."""

import gzip
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import engine
from netbuilder.compile import compile_graph
from netbuilder.export import ExportError, export_script, write_export
from netbuilder.graph import History
from netbuilder.graph import commands as C
from netbuilder.graph import project as project_module
from netbuilder.graph.templates import list_templates, load_template
from netbuilder.resources import resource_path

TEMPLATES = [name for name, _ in list_templates()]
SAMPLE = resource_path("data", "mnist-sample.npz")


def import_script(path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args, timeout=300, **env):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **env}
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=environment)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, time.perf_counter() - start


def accuracy(stdout):
    found = re.findall(r"^test accuracy: (0\.\d{4}|1\.0000)$", stdout, re.M)
    assert found, stdout
    return float(found[-1])


def test_lenet_forward_reads_like_the_seed():
    text = export_script(load_template("lenet").graph, "torch")
    assert "class Net(nn.Module):" in text
    expected = """\
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x
"""
    assert expected in text
    engine_text = export_script(load_template("lenet").graph, "engine")
    assert "import engine as torch" in engine_text and "DistributedDataParallel" not in engine_text
    assert (
        engine_text.split("class Net")[1].split("def read_idx")[0]
        == text.split("class Net")[1].split("def read_idx")[0]
    )


def test_residual_forward_keeps_the_skip_value():
    text = export_script(load_template("resnet").graph, "torch", class_name="SmallResNet")
    assert "class SmallResNet(nn.Module):" in text
    assert "relu1 = F.relu(self.bn1(self.conv1(x)))" in text
    assert "x = F.max_pool2d(F.relu(x + relu1), 2)" in text


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported")
    paths = {}
    for name in TEMPLATES:
        for target in ("torch", "engine"):
            path = folder / f"{name}_{target}.py"
            write_export(load_template(name), path, target)
            paths[name, target] = path
    return folder, paths


def test_generated_code_passes_ruff(exported):
    folder, _ = exported
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            "E,F,W,I,B,UP",
            "--line-length",
            "100",
            ".",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", TEMPLATES)
def test_torch_and_engine_scripts_build_the_same_network(exported, name):
    _, paths = exported
    graph = load_template(name).graph
    tnet = import_script(paths[name, "torch"]).__dict__[graph.name]()
    enet = import_script(paths[name, "engine"]).__dict__[graph.name]()
    shapes = {k: tuple(v.shape) for k, v in tnet.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in enet.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in compile_graph(graph).state_dict().items()}
    state = {k: v.detach().numpy().copy() for k, v in enet.state_dict().items()}
    tnet.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    tnet.eval()
    enet.eval()
    shape = next(n.out_shape for n in graph.nodes.values() if n.type == "Input")
    x = np.random.default_rng(5).standard_normal((3, *shape)).astype(np.float32)
    with engine.no_grad():
        a = enet(engine.from_numpy(x)).numpy()
    b = tnet(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_weights_beside_the_script_give_the_same_accuracy_in_both(tmp_path):
    """Exported weights load by default; torch and engine scripts evaluate them identically,
    from a Keras .npz and from an IDX folder (gzipped or not)."""
    project = load_template("lenet")
    # train briefly in-process with the script's own functions (a subprocess costs seconds)
    write_export(project, tmp_path / "train.py", "torch")
    script = import_script(tmp_path / "train.py")
    args = script.parse_args(["--data", str(SAMPLE), "--lr", "0.02"])
    x_train, y_train, *_ = script.prepare_arrays(*script.load_data(SAMPLE), script.INPUT_SHAPE)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a busy two-core machine run several times slower
    model = script.Net()
    try:
        optimizer = script.make_optimizer(args, model.parameters())
        rng = np.random.default_rng(0)
        script.train_epoch(model, x_train, y_train, args, rng, optimizer, script.make_loss(args))
    finally:
        torch.set_num_threads(threads)
    script.save_file(model.state_dict(), str(tmp_path / "trained.safetensors"))
    write_export(project, tmp_path / "net_torch.py", "torch", tmp_path / "trained.safetensors")
    write_export(project, tmp_path / "net_engine.py", "engine", tmp_path / "trained.safetensors")
    assert (tmp_path / "net_torch.safetensors").is_file()
    idx = tmp_path / "idx"
    idx.mkdir()
    with np.load(SAMPLE) as data:
        for key, stem, gz in (
            ("x_train", "train-images-idx3-ubyte", True),
            ("y_train", "train-labels-idx1-ubyte", False),
            ("x_test", "t10k-images-idx3-ubyte", True),
            ("y_test", "t10k-labels-idx1-ubyte", False),
        ):
            array = data[key].astype(np.uint8)
            header = bytes([0, 0, 8, array.ndim]) + b"".join(
                d.to_bytes(4, "big") for d in array.shape
            )
            raw = header + array.tobytes()
            if gz:
                (idx / f"{stem}.gz").write_bytes(gzip.compress(raw))
            else:
                (idx / stem).write_bytes(raw)
    results = []
    # torch starts slowly (seconds), so it runs once; the engine covers both loaders
    for name, data in (("net_torch.py", SAMPLE), ("net_engine.py", idx), ("net_engine.py", SAMPLE)):
        out, _ = run([sys.executable, str(tmp_path / name), "--data", str(data), "--epochs", "0"])
        results.append(accuracy(out))
    assert len(set(results)) == 1, results
    assert results[0] > 0.5  # trained weights, so agreement is not a constant guess


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_engine_script_trains_and_saves(tmp_path, loss):
    project = load_template("mlp")
    project.training = {**project.training, "loss": loss, "epochs": 1, "lr": 0.05}
    write_export(project, tmp_path / "mlp.py", "engine")
    out, _ = run(
        [
            sys.executable,
            str(tmp_path / "mlp.py"),
            "--data",
            str(SAMPLE),
            "--batch-size",
            "32",
            "--save",
            str(tmp_path / "w.safetensors"),
        ]
    )
    assert "epoch 1/1: train loss" in out
    assert accuracy(out) > 0.8
    from safetensors.numpy import load_file

    assert set(load_file(tmp_path / "w.safetensors")) == {
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "fc3.weight",
        "fc3.bias",
    }


def test_training_settings_become_the_script_defaults():
    project = load_template("lenet")
    _end_in_log_softmax(project.graph)  # for the nll loss
    project.training = {
        "optimizer": "adam",
        "lr": 0.002,
        "batch_size": 128,
        "epochs": 3,
        "seed": 5,
        "loss": "nll",
        "weight_decay": 0.01,
        "bogus": 1,
    }
    text = export_script(project.graph, "torch", training=project.training)
    args = parse_exported(text, ["--data", "d.npz"])
    assert (args.epochs, args.lr, args.optimizer, args.batch_size) == (3, 0.002, "adam", 128)
    assert (args.seed, args.loss, args.weight_decay) == (5, "nll", 0.01)
    assert "return nn.NLLLoss()" in text
    # every option of the optimizer reaches it, betas included
    adam = text[text.index("optim.Adam(") : text.index("optim.AdamW(")]
    for keyword in ("lr", "betas", "eps", "weight_decay", "amsgrad"):
        assert f"{keyword}=args.{keyword}," in adam
    assert "x = F.log_softmax(self.fc3(x), dim=1)" in text


def parse_exported(text, argv):
    """The exported script's parse_args(argv), without running the script's main."""
    namespace = {}
    exec(compile(text, "exported.py", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["parse_args"](argv)


def _end_in_log_softmax(graph):
    add = C.AddNode("LogSoftmax", (2000.0, 0.0))
    add.redo(graph)
    C.Connect(graph.node_by_name("fc3").id, add.node_id, 0).redo(graph)
    assert not graph.problems()


def test_nll_on_raw_scores_is_refused_as_in_the_app():
    project = load_template("lenet")
    with pytest.raises(ExportError, match=r"ends in fc3 \(Linear\); add a LogSoftmax block"):
        export_script(project.graph, "torch", training={"loss": "nll"})


def test_each_optimizer_keeps_its_own_momentum_in_the_script():
    project = load_template("lenet")
    text = export_script(project.graph, "torch", training={"optimizer": "rmsprop"})
    # RMSprop does not inherit SGD's 0.9: torch.optim.RMSprop's default momentum is 0
    args = parse_exported(text, ["--data", "d"])
    assert (args.optimizer, args.momentum, args.rmsprop_momentum) == ("rmsprop", 0.9, 0.0)
    assert "momentum=args.rmsprop_momentum" in text and "momentum=args.momentum" in text
    text = export_script(
        project.graph, "engine", training={"rmsprop_momentum": 0.5, "momentum": 0.8}
    )
    args = parse_exported(text, ["--data", "d"])
    assert (args.momentum, args.rmsprop_momentum) == (0.8, 0.5)


def test_scripts_with_weights_pass_ruff_and_are_plainly_readable(tmp_path):
    project = load_template("lenet")
    state = {k: v.numpy() for k, v in compile_graph(project.graph).state_dict().items()}
    folder = tmp_path / "out"
    folder.mkdir()
    old_umask = os.umask(0o022)
    try:
        script = write_export(project, folder / "a_rather_long_script_name.py", weights=state)
    finally:
        os.umask(old_umask)
    for path in (script, script.with_suffix(".safetensors")):
        assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select",
         "E,F,W,I,B,UP", "--line-length", "100", "."],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bad_exports_are_refused(tmp_path):
    project = load_template("lenet")
    state = {k: v.numpy() for k, v in compile_graph(project.graph).state_dict().items()}
    state["fc3.weight"] = np.zeros((5, 84), np.float32)
    del state["fc1.bias"]
    with pytest.raises(ExportError, match=r"missing fc1.bias; fc3.weight is \(5, 84\)"):
        write_export(project, tmp_path / "a.py", "torch", weights=state)
    with pytest.raises(ExportError, match="no such weights file"):
        write_export(project, tmp_path / "a.py", "torch", weights=tmp_path / "none.safetensors")
    with pytest.raises(ExportError, match="unknown export target"):
        export_script(project.graph, "onnx")
    History(project.graph).push(C.AddNode("ReLU", (0, 0)))
    with pytest.raises(ExportError, match="relu5 is not connected"):
        write_export(project, tmp_path / "a.py", "torch")
    assert not list(tmp_path.iterdir())


def test_interrupted_export_leaves_the_old_script(tmp_path, monkeypatch):
    path = tmp_path / "net.py"
    write_export(load_template("lenet"), path, "torch")
    old = path.read_text()

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_module.os, "replace", broken)
    with pytest.raises(OSError):
        write_export(load_template("mlp"), path, "torch")
    assert path.read_text() == old
    assert [p.name for p in tmp_path.iterdir()] == ["net.py"]


@pytest.fixture(scope="module")
def lenet_torch_script(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lenet")
    path = folder / "lenet.py"
    write_export(load_template("lenet"), path, "torch")
    return path


@pytest.mark.slow
def test_lenet_torch_script_reaches_97_percent_in_one_epoch(lenet_torch_script, mnist_dir):
    out, seconds = run(
        [sys.executable, str(lenet_torch_script), "--data", str(mnist_dir), "--epochs", "1"]
    )
    print(f"\nLeNet torch script, 1 epoch: {out.strip()} ({seconds:.1f} s wall)")
    assert accuracy(out) >= 0.97


@pytest.mark.slow
def test_lenet_torch_script_under_torchrun(lenet_torch_script, mnist_dir, tmp_path):
    torchrun = shutil.which("torchrun")
    command = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    out, seconds = run(
        [
            *command,
            "--standalone",
            "--nproc_per_node",
            "2",
            str(lenet_torch_script),
            "--data",
            str(mnist_dir),
            "--epochs",
            "1",
            "--save",
            str(tmp_path / "w.safetensors"),
        ]
    )
    print(f"\nLeNet torch script, torchrun x2, 1 epoch: {out.strip()} ({seconds:.1f} s wall)")
    assert out.count("test accuracy:") == 1  # only rank 0 prints
    assert accuracy(out) >= 0.97
    assert (tmp_path / "w.safetensors").is_file()


ACTIVATIONS = [
    ("ReLU", {}),
    ("Tanh", {}),
    ("Sigmoid", {}),
    ("GELU", {"approximate": "tanh"}),
    ("GELU", {}),
    ("LeakyReLU", {"negative_slope": 0.2}),
    ("Softmax", {"dim": 1}),
    ("LogSoftmax", {"dim": 1}),
    ("Dropout", {"p": 0.3}),
]
POOLS = [
    ("MaxPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}),
    ("AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}),
    ("AdaptiveAvgPool2d", {"output_size": 6}),
]


def random_graph(rng):
    """A random DAG of shape-preserving blocks with branches, Adds and Concats, one output."""
    g = load_template("lenet").graph
    h = History(g)
    h.push(C.RemoveItems(list(g.nodes)))
    inp = C.AddNode("Input", (0, 0), {"shape": [4, 6, 6]})
    h.push(inp)
    values = [inp.node_id]

    def add(type_, sources, **params):
        cmd = C.AddNode(type_, (0, 0), params)
        h.push(cmd)
        for port, src in enumerate(sources):
            h.push(C.Connect(src, cmd.node_id, port))
        values.append(cmd.node_id)
        return cmd.node_id

    for _ in range(rng.integers(3, 9)):
        kind = rng.integers(6)
        src = values[rng.integers(len(values))]
        if kind == 0:
            padding = [1, "same"][int(rng.integers(2))]
            add("Conv2d", [src], out_channels=4, kernel_size=3, padding=padding)
        elif kind == 1:
            type_, params = ACTIVATIONS[rng.integers(len(ACTIVATIONS))]
            add(type_, [src], **params)
        elif kind == 2:
            add("BatchNorm2d", [src])
        elif kind == 3:
            type_, params = POOLS[rng.integers(len(POOLS))]
            add(type_, [src], **params)
        elif kind == 4:
            add("Add", [src, values[rng.integers(len(values))]])
        else:
            cat = add("Concat", [src, values[rng.integers(len(values))]])
            add("Conv2d", [cat], out_channels=4, kernel_size=1)
            values.remove(cat)  # 8 channels: only its 1x1 conv reads it
    sinks = [v for v in values if not g.edges_from(v)]
    while len(sinks) > 1:
        sinks = [add("Add", sinks[:2]), *sinks[2:]]
    head = add("Flatten", sinks)
    add("Linear", [head], out_features=3)
    return g


def test_random_graphs_export_to_the_same_function(tmp_path):
    rng = np.random.default_rng(7)
    for i in range(20):
        graph = random_graph(rng)
        assert graph.problems() == [], graph.problems()
        twin = compile_graph(graph, torch)
        path = tmp_path / f"random{i}.py"
        path.write_text(export_script(graph, "torch"))
        net = import_script(path).Net()
        net.load_state_dict(twin.state_dict())
        net.eval()
        twin.eval()
        x = torch.from_numpy(rng.standard_normal((2, 4, 6, 6)).astype(np.float32))
        torch.testing.assert_close(net(x), twin(x), msg=path.read_text)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            "E,F,W,I,B,UP",
            "--line-length",
            "100",
            ".",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout


def test_class_name_comes_from_the_graph_when_it_can():
    graph = load_template("lenet").graph
    for name, expected in (
        ("ResNet", "ResNet"),
        ("my net", "Net"),
        ("prepare_arrays", "Net"),
        ("main", "Net"),
        ("__name__", "Net"),
        ("int", "Net"),
        ("\uff4e\uff4e", "Net"),  # full-width "nn": Python reads it as nn
        ("\uff2d\uff4c\uff50", "Mlp"),  # full-width "Mlp" folds to a usable name
        ("class", "Net"),
        ("torch", "Net"),
    ):
        graph.name = name
        assert f"class {expected}(nn.Module):" in export_script(graph)
        assert f"model = {expected}().to(device)" in export_script(graph)
    with pytest.raises(ExportError, match="cannot name a Python class"):
        export_script(graph, class_name="1x")


def test_feature_inputs_and_data_that_does_not_fit(tmp_path):
    graph = load_template("mlp").graph
    h = History(graph)
    ids = {n.name: n.id for n in graph.nodes.values()}
    h.push(C.SetParams(ids["input1"], {"shape": [784]}))  # flat features straight in
    write_export(graph, tmp_path / "flat.py", "engine")
    out, _ = run([sys.executable, str(tmp_path / "flat.py"), "--data", str(SAMPLE), "--lr", "0.05"])
    assert accuracy(out) > 0.8
    # grey copied to 3 channels and resized, as the app does
    h.push(C.SetParams(ids["input1"], {"shape": [3, 20, 20]}))
    write_export(graph, tmp_path / "colour.py", "engine")
    out, _ = run([sys.executable, str(tmp_path / "colour.py"), "--data", str(SAMPLE)])
    assert accuracy(out) > 0.5
    h.push(C.SetParams(ids["input1"], {"shape": [2, 28, 28]}))
    write_export(graph, tmp_path / "two.py", "engine")
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "two.py"), "--data", str(SAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "the input wants 2 channels; images give 1 (grey) or 3" in proc.stderr.strip()


@pytest.mark.parametrize(
    ("training", "expected"),
    [
        ({"schedule": "step", "step_size": 2, "gamma": 0.5},
         "StepLR(optimizer, step_size=args.step_size, gamma=args.gamma)"),
        ({"schedule": "multistep", "milestones": [3, 1]},
         "MultiStepLR(optimizer, milestones=args.milestones, gamma=args.gamma)"),
        ({"schedule": "exponential", "gamma": 0.9}, "ExponentialLR(optimizer, gamma=args.gamma)"),
        ({"schedule": "cosine"}, "CosineAnnealingLR(optimizer, T_max=args.t_max or args.epochs)"),
        ({"schedule": "plateau", "patience": 1},
         'ReduceLROnPlateau(optimizer, factor=args.gamma, patience=args.patience, mode="min")'),
    ],
)  # fmt: skip
def test_the_lr_schedule_is_exported(training, expected):
    text = export_script(load_template("mlp").graph, "engine", training=training)
    flat = re.sub(r",\s*\)", ")", re.sub(r"\(\s+", "(", re.sub(r"\s+", " ", text)))
    assert expected in flat and "scheduler = make_scheduler(args, optimizer)" in text
    args = parse_exported(text, ["--data", "d"])
    for key, value in training.items():
        assert getattr(args, key) == (sorted(value) if key == "milestones" else value)


def test_an_exported_schedule_runs(tmp_path):
    project = load_template("mlp")
    project.training.update(schedule="step", gamma=0.5)
    script = write_export(project, tmp_path / "mlp.py", "engine")
    with np.load(resource_path("data", "mnist-sample.npz")) as s:
        np.savez(tmp_path / "d.npz", x_train=s["x_train"][:256], y_train=s["y_train"][:256],
                 x_test=s["x_test"][:64], y_test=s["y_test"][:64])  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(script), "--data", str(tmp_path / "d.npz"), "--epochs", "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("test accuracy: ")
