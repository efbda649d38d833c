"""The `netbuilder` command: summary, train, export, open, and its error handling."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from netbuilder.cli import main
from netbuilder.graph import commands
from netbuilder.graph.project import save_project
from netbuilder.graph.templates import load_template, template_path

LENET = str(template_path("lenet"))


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(err):
    # a run that got as far as loading its data has said what it trains on first
    lines = [line for line in err.strip().splitlines() if not line.startswith("data: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("netbuilder: error: ") and "Traceback" not in err
    return lines[0]


def test_summary_prints_blocks_shapes_and_totals(capsys):
    status, out, err = _run(capsys, "summary", LENET)
    assert status == 0 and not err
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["conv1"][1:] == ["Conv2d", "input1", "6x28x28", "156"]
    assert rows["pool2"][1:] == ["MaxPool2d", "relu2", "16x5x5", "0"]
    assert rows["fc3"][1:] == ["Linear", "relu4", "10", "850"]
    assert "Total params: 61,706" in out


def test_summary_shows_both_inputs_of_an_add(capsys):
    status, out, _ = _run(capsys, "summary", str(template_path("resnet")))
    assert status == 0
    add = next(line for line in out.splitlines() if line.startswith("add1"))
    assert "bn3, relu1" in add


def test_summary_of_an_invalid_network_lists_problems_and_exits_1(capsys, tmp_path):
    project = load_template("lenet")
    conv1 = project.graph.node_by_name("conv1")
    commands.SetParams(conv1.id, {"kernel_size": 40}).redo(project.graph)
    path = tmp_path / "broken.json"
    save_project(project, path)
    status, out, err = _run(capsys, "summary", str(path))
    assert status == 1
    assert "conv1" in out  # the table still shows what there is
    assert any(line.startswith("conv1: ") for line in err.splitlines())
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        (b"{not json", "bad.json"),
        (b'{"format": "netbuilder-project", "version": 99, "graph": {}}', "version"),
        (b"\xff\xfe\x00garbage", "bad.json"),
    ],
)
def test_bad_project_files_give_one_line_and_exit_1(capsys, tmp_path, content, expected):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_bytes(content)
    for command in (["summary"], ["train"], ["export", "-o", str(tmp_path / "x.py")]):
        status, _, err = _run(capsys, command[0], str(path), *command[1:])
        assert status == 1
        assert expected in _one_line_error(err)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", LENET, "--epochs", "0"],
        ["train", LENET, "--epochs", "many"],
        ["train", LENET, "--lr", "-1"],
        ["train", LENET, "--lr", "nan"],
        ["train", LENET, "--optimizer", "lbfgs"],
        ["train", LENET, "--momentum", "1.5"],
        ["train", LENET, "--loss", "hinge"],
        ["train"],
        ["export", LENET],
        ["export", LENET, "-o", "x.py", "--target", "jax"],
        ["summary"],
        ["--bogus"],
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(capsys, argv):
    status, _, err = _run(capsys, *argv)
    assert status == 2
    assert "--help" in _one_line_error(err)


def test_help_everywhere(capsys):
    for argv in (
        ["--help"],
        ["train", "--help"],
        ["summary", "--help"],
        ["export", "--help"],
        ["open", "--help"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert "usage: netbuilder" in capsys.readouterr().out


def test_bad_data_and_output_paths_give_one_line(capsys, tmp_path):
    status, _, err = _run(capsys, "train", LENET, "--dataset", str(tmp_path / "none"))
    assert status == 1 and str(tmp_path / "none") in _one_line_error(err)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    status, _, err = _run(capsys, "train", LENET, "--dataset", str(broken))
    assert status == 1 and "broken.npz" in _one_line_error(err)
    status, _, err = _run(capsys, "train", LENET, "--save-weights", str(tmp_path / "no/w.st"))
    assert status == 1 and "does not exist" in _one_line_error(err)
    status, _, err = _run(capsys, "train", LENET, "--metrics-out", str(tmp_path))
    assert status == 1 and "is a folder" in _one_line_error(err)


def _single_threaded_env():
    # One BLAS thread: on a busy 2-core box OpenBLAS's own threads make a LeNet step ~5x slower.
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def test_train_on_the_sample_learns_and_writes_metrics_and_weights(tmp_path):
    weights, metrics = tmp_path / "w.safetensors", tmp_path / "m.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "netbuilder",
            "train",
            LENET,
            "--epochs",
            "1",
            "--grad-every",
            "10",
            "--save-weights",
            str(weights),
            "--metrics-out",
            str(metrics),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=_single_threaded_env(),
    )
    status, out, err = result.returncode, result.stdout, result.stderr
    assert status == 0, err
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"test accuracy: 0\.\d{4}", last)
    assert float(last.split()[-1]) > 0.5  # chance is 0.1
    assert "epoch 1/1" in err

    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    steps = [r for r in records if "step" in r]
    epochs = [r for r in records if "train_loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 95))  # 6,000 samples / 64
    assert all(r["epoch"] == 1 and np.isfinite(r["loss"]) for r in steps)
    sampled = [r for r in steps if "grad_norms" in r]
    assert [r["step"] for r in sampled] == list(range(10, 95, 10))
    assert set(sampled[0]["grad_norms"]) >= {"conv1.weight", "fc3.bias"}
    assert len(epochs) == 1 and records[-1] is epochs[0]
    assert set(epochs[0]) >= {"epoch", "train_loss", "test_loss", "test_accuracy", "seconds"}
    assert epochs[0]["test_accuracy"] == pytest.approx(float(last.split()[-1]), abs=1e-4)

    from safetensors.numpy import load_file

    state = load_file(str(weights))
    assert state["conv1.weight"].shape == (6, 1, 5, 5) and state["fc3.bias"].shape == (10,)


def test_train_overrides_the_project_settings(capsys, tmp_path):
    metrics = tmp_path / "m.jsonl"
    tiny = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(
        tiny,
        x_train=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        y_train=np.arange(40) % 10,
        x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        y_test=np.arange(10),
    )
    checkpoint = tmp_path / "run.ckpt"
    status, _, err = _run(
        capsys,
        "train",
        LENET,
        "--dataset",
        str(tiny),
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--lr",
        "0.001",
        "--optimizer",
        "adam",
        "--metrics-out",
        str(metrics),
        "--no-progress",
        "--checkpoint",
        str(checkpoint),
        "--val-split",
        "0.2",
    )
    assert status == 0, err
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    # 40 samples, 8 held out for validation: 2 steps of 16 per epoch
    assert [r["step"] for r in records if "step" in r] == list(range(1, 5))
    epochs = [r for r in records if "val_accuracy" in r]
    assert [r["epoch"] for r in epochs] == [1, 2] and "val accuracy" in err
    assert {r["lr"] for r in records} == {0.001}

    import engine

    saved = engine.load(checkpoint)
    assert saved["progress"] == {"step": 4, "epoch": 2}
    assert "fc3.weight" in saved["model"]
    assert saved["optimizer"]["param_groups"][0]["lr"] == 0.001  # Adam's state, as asked


def test_a_diverging_run_exits_1_with_the_message(capsys, tmp_path):
    metrics = tmp_path / "m.jsonl"
    status, _, err = _run(capsys, "train", LENET, "--lr", "1e6", "--metrics-out", str(metrics))
    assert status == 1
    line = _one_line_error(err)  # numpy's overflow warnings are not shown
    assert "learning rate" in line and "step" in line
    assert metrics.exists()  # what was recorded up to the failure is kept


def test_export_writes_a_script(capsys, tmp_path):
    out = tmp_path / "lenet_engine.py"
    status, stdout, err = _run(capsys, "export", LENET, "-o", str(out), "--target", "engine")
    assert status == 0, err
    source = out.read_text()
    compile(source, str(out), "exec")
    assert "class Lenet(nn.Module)" in source and "conv1" in source  # named after the file
    status, _, err = _run(
        capsys, "export", LENET, "-o", str(out), "--weights", str(tmp_path / "missing.safetensors")
    )
    assert status == 1 and "missing.safetensors" in _one_line_error(err)


def test_open_starts_the_app_and_other_commands_do_not_import_qt(monkeypatch):
    calls = []
    fake = types.ModuleType("netbuilder.ui.app")
    fake.main = lambda argv: calls.append(list(argv)) or 0
    monkeypatch.setitem(sys.modules, "netbuilder.ui.app", fake)
    assert main([]) == 0
    assert main([LENET]) == 0
    assert main(["open", LENET]) == 0
    assert [c[1:] for c in calls] == [[], [LENET], [LENET]]

    code = (
        "import sys; from netbuilder.cli import main; "
        f"assert main(['summary', {LENET!r}]) == 0; "
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))], 'Qt'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_ctrl_c_stops_cleanly_and_still_writes_weights_and_metrics(tmp_path):
    weights, metrics = tmp_path / "w.safetensors", tmp_path / "m.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netbuilder",
            "train",
            LENET,
            "--epochs",
            "50",
            "--save-weights",
            str(weights),
            "--metrics-out",
            str(metrics),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_single_threaded_env(),
    )
    try:
        # the metrics are written line by line as the steps go
        deadline = time.monotonic() + 60
        while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert out.strip().splitlines()[-1].startswith("stopped at step ")
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert records and all("step" in r for r in records)
    from safetensors.numpy import load_file

    assert "fc3.weight" in load_file(str(weights))
    assert not list(tmp_path.glob(".*tmp*"))
    assert os.path.getsize(weights) > 60_000 * 4


def test_mnist_is_downloaded_on_first_use(mnist_dir, tmp_path, monkeypatch, capsys):
    import functools
    import http.server
    import threading

    from netbuilder.cli import load_data
    from netbuilder.data import download

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(mnist_dir))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(
            download, "MNIST_MIRRORS", (f"http://127.0.0.1:{server.server_address[1]}/",)
        )
        monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path))
        split = load_data("mnist", progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert (len(split.y_train), len(split.y_test)) == (60000, 10000)
    assert "downloading MNIST into " + str(tmp_path / "mnist") in capsys.readouterr().err
    assert load_data("mnist").source == split.source  # the second time it is in the cache


def _settings_from(argv, training=None):
    from netbuilder.cli import build_parser, train_settings

    args = build_parser().parse_args(["train", LENET, *argv])
    return train_settings(training if training is not None else {}, args, "p.json")


def test_momentum_goes_to_the_chosen_optimizer():
    # each optimizer keeps its own momentum: SGD 0.9 (classic), RMSprop 0 (torch's default)
    s = _settings_from(["--optimizer", "rmsprop"])
    assert (s.momentum, s.rmsprop_momentum, s.momentum_for()) == (0.9, 0.0, 0.0)
    s = _settings_from(["--optimizer", "rmsprop", "--momentum", "0.5"])
    assert (s.momentum, s.rmsprop_momentum) == (0.9, 0.5)
    s = _settings_from(["--momentum", "0.5"], {"optimizer": "sgd", "rmsprop_momentum": 0.3})
    assert (s.momentum, s.rmsprop_momentum) == (0.5, 0.3)


def test_options_replace_a_bad_project_setting_and_set_schedules():
    s = _settings_from(["--optimizer", "sgd"], {"optimizer": "lbfgs", "lr": 0.05})
    assert (s.optimizer, s.lr) == ("sgd", 0.05)
    s = _settings_from(["--schedule", "multistep", "--milestones", "4,2", "--gamma", "0.5"])
    assert (s.schedule, s.milestones, s.gamma) == ("multistep", (2, 4), 0.5)
    assert _settings_from(["--schedule", "step", "--step-size", "3"]).step_size == 3


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--optimizer", "adam", "--momentum", "0.5"], "--momentum applies to sgd and rmsprop"),
        (["--epochs", "-1"], "must be at least 1, got -1"),
        (["--milestones", "2,x"], "must be a whole number"),
    ],
)
def test_option_misuse_is_one_line_with_exit_2(capsys, argv, expected):
    status, _, err = _run(capsys, "train", LENET, *argv)
    assert status == 2 and expected in _one_line_error(err)


def test_nll_without_log_softmax_is_refused_before_training(capsys):
    status, out, err = _run(capsys, "train", LENET, "--loss", "nll", "--no-progress")
    line = _one_line_error(err)
    assert status == 1 and not out
    assert "ends in fc3 (Linear)" in line and "add a LogSoftmax block after fc3" in line


def test_nll_with_log_softmax_trains(capsys, tmp_path):
    from netbuilder.resources import resource_path

    project = load_template("mlp")
    graph = project.graph
    last = graph.node_by_name("fc3")
    add = commands.AddNode("LogSoftmax", (900.0, 0.0))
    add.redo(graph)
    commands.Connect(last.id, add.node_id, 0).redo(graph)
    path = tmp_path / "nll.json"
    save_project(project, path)
    data = tmp_path / "small.npz"
    with np.load(resource_path("data", "mnist-sample.npz")) as s:
        np.savez(data, x_train=s["x_train"][:300], y_train=s["y_train"][:300],
                 x_test=s["x_test"][:100], y_test=s["y_test"][:100])  # fmt: skip
    status, out, err = _run(
        capsys, "train", str(path), "--loss", "nll", "--dataset", str(data), "--batch-size", "16",
        "--no-progress",
    )  # fmt: skip
    assert status == 0, err
    assert float(out.strip().splitlines()[-1].split()[-1]) > 0.3  # 10 classes: chance is 0.1


def test_output_paths_are_checked_for_writing_before_training(capsys, tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    status, _, err = _run(capsys, "train", LENET, "--save-weights", str(afile / "w.st"))
    assert status == 1 and "is a file, not a folder" in _one_line_error(err)

    from engine import fileio

    monkeypatch.setattr(fileio.os, "access", lambda *args, **kwargs: False)
    for option in ("--save-weights", "--checkpoint"):
        status, out, err = _run(capsys, "train", LENET, option, str(tmp_path / "w.st"))
        line = _one_line_error(err)
        assert status == 1 and not out and "permission denied" in line
        assert "choose a folder you can write to" in line


def test_problem_lines_do_not_repeat_the_block_name(capsys, tmp_path):
    project = load_template("lenet")
    commands.SetParams(project.graph.node_by_name("conv1").id, {"kernel_size": 40}).redo(
        project.graph
    )
    path = tmp_path / "broken.json"
    save_project(project, path)
    _, _, err = _run(capsys, "summary", str(path))
    assert err.startswith("conv1") and "conv1: conv1" not in err


def test_a_schedule_shows_the_next_lr_each_epoch(capsys, tmp_path):
    tiny = tmp_path / "tiny.npz"
    rng = np.random.default_rng(0)
    np.savez(tiny, x_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
             y_train=np.arange(20) % 10, x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
             y_test=np.arange(10))  # fmt: skip
    status, _, err = _run(
        capsys, "train", LENET, "--dataset", str(tiny), "--epochs", "2", "--schedule", "step",
        "--gamma", "0.5", "--no-progress",
    )  # fmt: skip
    assert status == 0, err
    assert "next lr 0.005\n" in err and "next lr 0.0025\n" in err


def test_export_errors_name_the_weights_file_once(capsys, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    out = str(tmp_path / "a.py")
    status, _, err = _run(capsys, "export", LENET, "-o", out, "--weights", str(bad))
    line = _one_line_error(err)
    assert status == 1 and line.startswith(f"netbuilder: error: {bad}: ") and "a.py" not in line


def test_train_says_how_the_data_is_adapted(tmp_path):
    from netbuilder.cli import data_line
    from netbuilder.data import load_npz

    rng = np.random.default_rng(0)
    path = tmp_path / "colour.npz"
    images = rng.integers(0, 256, (30, 28, 28, 3), dtype=np.uint8)
    np.savez(path, x_train=images[:20], y_train=np.arange(20) % 10, x_test=images[20:],
             y_test=np.arange(10))  # fmt: skip
    line = data_line(load_npz(path), load_template("lenet").graph)
    assert line.startswith("colour: 20 train + 10 test, 28x28")
    assert line.endswith("; colour turned grey, centre-padded to 32x32 for input1")


def test_resume_goes_on_from_a_checkpoint_as_an_unbroken_run(capsys, tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    np.savez(data, x_train=images[:48], y_train=np.arange(48) % 10, x_test=images[48:],
             y_test=np.arange(12) % 10)  # fmt: skip
    mlp = str(template_path("mlp"))
    common = ["--dataset", str(data), "--batch-size", "16", "--no-progress"]
    status, straight, _ = _run(capsys, "train", mlp, "--epochs", "2", *common)
    assert status == 0
    ckpt = tmp_path / "run.ckpt"
    assert _run(capsys, "train", mlp, "--epochs", "1", "--checkpoint", str(ckpt), *common)[0] == 0
    resume = ["--epochs", "1", "--resume", str(ckpt)]
    status, resumed, err = _run(capsys, "train", mlp, *resume, *common)
    assert status == 0, err
    assert "resuming after step 3 (epoch 1)" in err and "epoch 2/2:" in err
    assert resumed.splitlines()[-1] == straight.splitlines()[-1]  # the same test accuracy
    status, _, err = _run(capsys, "train", LENET, "--resume", str(ckpt), *common)
    line = _one_line_error(err)
    assert status == 1 and line.startswith(f"netbuilder: error: {ckpt}: cannot resume from it")



def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    # `netbuilder summary big.json | head -3`: the closed pipe is no traceback, and the exit
    # status is the shell's for a writer stopped by SIGPIPE (the table is larger than the pipe)
    nodes = [{"id": "n0", "type": "Input", "name": "input1", "params": {"shape": [16]}}]
    nodes += [{"id": f"n{i}", "type": "ReLU", "name": f"relu{i}"} for i in range(1, 3000)]
    edges = [{"src": f"n{i - 1}", "dst": f"n{i}", "dst_port": 0} for i in range(1, 3000)]
    project = tmp_path / "big.json"
    graph = {"name": "Big", "nodes": nodes, "edges": edges}
    project.write_text(json.dumps({"format": "netbuilder-project", "version": 2, "graph": graph}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "netbuilder", "summary", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_single_threaded_env(),
    )
    assert proc.stdout.readline().startswith(b"Network: Big")
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err
    assert proc.returncode == 141
