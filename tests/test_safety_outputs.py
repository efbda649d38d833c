"""No output destroys an input or a non-regular file, no write leaves half a file or a temp
file behind, and one failing output does not cost the others. Device-like targets are FIFOs
and sockets made in a temp folder: no test ever points a writer at a real device."""

import errno
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.fileio import OutputError, atomic_write, check_outputs, open_output_stream
from netbuilder.cli import main
from netbuilder.graph.project import ProjectError, load_project, save_project
from netbuilder.graph.templates import load_template, template_path

ROOT = Path(__file__).resolve().parent.parent


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _error_lines(err):
    lines = [line for line in err.strip().splitlines() if line.startswith("netbuilder: error:")]
    assert "Traceback" not in err
    return lines


def _listing(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# -- the writer -------------------------------------------------------------------------------


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "real.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    atomic_write(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "made-by-write")
    atomic_write(dangling, b"x")
    assert dangling.is_symlink() and (tmp_path / "made-by-write").read_bytes() == b"x"
    assert _listing(tmp_path) == ["dangling", "link.bin", "made-by-write", "real.bin"]


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "link to fifo"])
def test_non_regular_files_are_refused_without_blocking(tmp_path, kind):
    path = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    elif kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(tmp_path / "pipe")
        path.symlink_to(tmp_path / "pipe")
    before = _listing(tmp_path)
    for write in (lambda: atomic_write(path, b"x"), lambda: open_output_stream(path)):
        with pytest.raises(OutputError, match="not a regular file"):
            write()
    assert _listing(tmp_path) == before
    assert not path.is_file()


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    atomic_write(path, b"old contents")
    real_write = os.write

    def full(fd, data):
        real_write(fd, bytes(data[:3]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, b"new contents, longer")
    with pytest.raises(OSError, match="No space left"):
        engine.save({"w": engine.ones(4)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == b"old contents"
    assert _listing(tmp_path) == ["w.safetensors"]


def test_the_file_mode_is_kept_or_follows_the_umask(tmp_path):
    path = tmp_path / "a"
    old = os.umask(0o022)
    try:
        atomic_write(path, b"1")
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o600)
        atomic_write(path, b"2")
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_stale_temp_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f".w.bin.{dead}-0123abcd.tmp"
    stale.write_bytes(b"half")
    unrelated = tmp_path / ".other.bin.1-0123abcd.tmp"
    unrelated.write_bytes(b"not ours")
    atomic_write(tmp_path / "w.bin", b"whole")
    assert _listing(tmp_path) == [".other.bin.1-0123abcd.tmp", "w.bin"]


_WRITER = """
import sys
sys.path.insert(0, {root!r})
from engine.fileio import atomic_write
path, a, b = sys.argv[1], b"A" * {size}, b"B" * {size}
print("ready", flush=True)
i = 0
while True:
    atomic_write(path, a if i % 2 == 0 else b)
    i += 1
"""


def test_kill_9_at_random_moments_leaves_the_old_or_the_new_file(tmp_path):
    size = 2 * 2**20
    target = tmp_path / "w.bin"
    script = _WRITER.format(root=str(ROOT), size=size)
    rng = random.Random(7)
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if target.exists():
            data = target.read_bytes()
            assert data in (b"A" * size, b"B" * size)
    atomic_write(target, b"last")  # and a later write clears what a kill may have left
    assert _listing(tmp_path) == ["w.bin"]


# -- output checks ------------------------------------------------------------------------------


def test_same_file_is_found_through_links(tmp_path):
    a = tmp_path / "a"
    a.write_text("x")
    (tmp_path / "hard").hardlink_to(a)
    (tmp_path / "soft").symlink_to(a)
    for other in ("hard", "soft", "./a"):
        with pytest.raises(OutputError, match="is the same file as"):
            check_outputs([("--out", tmp_path / other)], [("--in", a)])
    with pytest.raises(OutputError, match="give each output its own name"):
        check_outputs([("--one", tmp_path / "new"), ("--two", tmp_path / "." / "new")])


@pytest.fixture
def train_files(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    np.savez(data, x_train=images[:32], y_train=np.arange(32) % 10, x_test=images[32:],
             y_test=np.arange(8) % 10)  # fmt: skip
    project = tmp_path / "mlp.json"
    project.write_bytes(template_path("mlp").read_bytes())
    common = ["--dataset", data, "--batch-size", "16", "--epochs", "1", "--no-progress"]
    return {"project": project, "data": data, "common": common, "tmp": tmp_path}


def _checkpoint(capsys, files):
    ckpt = files["tmp"] / "run.ckpt"
    status, _, err = _run(capsys, "train", files["project"], "--checkpoint", ckpt, *files["common"])
    assert status == 0, err
    return ckpt


TRAIN_OUTPUTS = ("--save-weights", "--checkpoint", "--metrics-out")


@pytest.mark.parametrize("output", TRAIN_OUTPUTS)
@pytest.mark.parametrize("inp", ["project", "--resume", "--dataset"])
def test_train_refuses_an_output_that_is_an_input(capsys, train_files, output, inp):
    ckpt = _checkpoint(capsys, train_files)
    argv = ["train", train_files["project"], *train_files["common"], "--resume", ckpt]
    victim = {"project": train_files["project"], "--resume": ckpt,
              "--dataset": train_files["data"]}[inp]  # fmt: skip
    before = victim.read_bytes()
    status, out, err = _run(capsys, *argv, output, victim)
    lines = _error_lines(err)
    assert status == 1 and len(lines) == 1 and "is the same file as" in lines[0], err
    assert not out and victim.read_bytes() == before


@pytest.mark.parametrize(
    ("first", "second"),
    [(a, b) for i, a in enumerate(TRAIN_OUTPUTS) for b in TRAIN_OUTPUTS[i + 1 :]],
)
def test_train_refuses_two_outputs_on_one_file(capsys, train_files, first, second):
    out_file = train_files["tmp"] / "out"
    link = train_files["tmp"] / "out-link"
    link.symlink_to(out_file)
    status, _, err = _run(
        capsys, "train", train_files["project"], *train_files["common"], first, out_file,
        second, link,
    )  # fmt: skip
    lines = _error_lines(err)
    assert status == 1 and len(lines) == 1 and "give each output its own name" in lines[0]
    assert not out_file.exists()


def test_train_refuses_a_fifo_output_before_training(capsys, train_files):
    fifo = train_files["tmp"] / "pipe"
    os.mkfifo(fifo)
    for option in TRAIN_OUTPUTS:
        status, out, err = _run(capsys, "train", train_files["project"], *train_files["common"],
                                option, fifo)  # fmt: skip
        lines = _error_lines(err)
        assert status == 1 and len(lines) == 1 and "FIFO" in lines[0] and not out


def test_a_failing_checkpoint_does_not_cost_the_weights(capsys, train_files, monkeypatch):
    from netbuilder.training import Trainer

    def disk_full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Trainer, "save_checkpoint", disk_full)
    weights = train_files["tmp"] / "w.safetensors"
    ckpt = train_files["tmp"] / "c.ckpt"
    status, out, err = _run(capsys, "train", train_files["project"], *train_files["common"],
                            "--checkpoint", ckpt, "--save-weights", weights)  # fmt: skip
    lines = _error_lines(err)
    assert status == 1 and len(lines) == 1
    assert lines[0] == (
        f"netbuilder: error: {ckpt}: could not write the checkpoint: No space left on device"
    )
    assert "fc3.weight" in engine.load(weights) and not ckpt.exists()
    assert "test accuracy" in out


def test_a_full_disk_for_the_metrics_does_not_cost_the_weights(capsys, train_files, monkeypatch):
    import engine.fileio

    class Full:
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            pass

    monkeypatch.setattr(engine.fileio, "open_output_stream", lambda path: Full())
    weights = train_files["tmp"] / "w.safetensors"
    metrics = train_files["tmp"] / "m.jsonl"
    status, out, err = _run(capsys, "train", train_files["project"], *train_files["common"],
                            "--metrics-out", metrics, "--save-weights", weights)  # fmt: skip
    lines = _error_lines(err)
    assert status == 1 and len(lines) == 1 and "could not write the metrics" in lines[0]
    assert "fc3.weight" in engine.load(weights)


@pytest.mark.parametrize("case", ["-o is the project", "-o is --weights", "-o .safetensors",
                                  "weights copy is the project"])  # fmt: skip
def test_export_refuses_outputs_that_replace_inputs(capsys, train_files, case):
    tmp = train_files["tmp"]
    weights = tmp / "w.safetensors"
    assert _run(capsys, "train", train_files["project"], *train_files["common"],
                "--save-weights", weights)[0] == 0  # fmt: skip
    project = train_files["project"]
    if case == "weights copy is the project":
        project = tmp / "net.safetensors"
        project.write_bytes(train_files["project"].read_bytes())
    output = {"-o is the project": project, "-o is --weights": weights,
              "-o .safetensors": tmp / "x.safetensors",
              "weights copy is the project": tmp / "net.py"}[case]  # fmt: skip
    before = {p: p.read_bytes() for p in (project, weights)}
    status, out, err = _run(capsys, "export", project, "-o", output, "--weights", weights)
    lines = _error_lines(err)
    assert status == 1 and len(lines) == 1 and not out, err
    assert {p: p.read_bytes() for p in before} == before


def test_export_refuses_weights_with_flipped_bytes(capsys, train_files):
    weights = train_files["tmp"] / "w.safetensors"
    assert _run(capsys, "train", train_files["project"], *train_files["common"],
                "--save-weights", weights)[0] == 0  # fmt: skip
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0x10  # inside the last tensor
    weights.write_bytes(bytes(data))
    status, _, err = _run(capsys, "export", train_files["project"], "-o",
                          train_files["tmp"] / "net.py", "--weights", weights)  # fmt: skip
    lines = _error_lines(err)
    assert status == 1 and len(lines) == 1 and "checksum" in lines[0]
    assert not (train_files["tmp"] / "net.py").exists()


def test_project_save_refuses_a_fifo_and_writes_through_a_link(tmp_path):
    project = load_template("lenet")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ProjectError, match="FIFO"):
        save_project(project, tmp_path / "pipe")
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    save_project(project, tmp_path / "link.json")
    assert (tmp_path / "link.json").is_symlink()
    assert load_project(tmp_path / "real.json").graph.total_params == 61706


# -- resuming -------------------------------------------------------------------------------------


def test_resume_applies_lr_and_momentum_and_says_so(capsys, train_files):
    ckpt = _checkpoint(capsys, train_files)
    status, _, err = _run(capsys, "train", train_files["project"], *train_files["common"],
                          "--resume", ckpt, "--lr", "0.5", "--momentum", "0.25")  # fmt: skip
    assert status == 0, err
    assert "resuming after step 2 (epoch 1) with lr 0.5, momentum 0.25" in err
    status, _, err = _run(capsys, "train", train_files["project"], *train_files["common"],
                          "--resume", ckpt, "--gamma", "0.5")  # fmt: skip
    lines = _error_lines(err)
    assert status == 2 and len(lines) == 1 and "--gamma cannot be changed on --resume" in lines[0]
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "replace the checkpoint's values" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("damage", ["nan weights", "negative progress"])
def test_resume_names_what_is_wrong_with_the_checkpoint(capsys, train_files, damage):
    ckpt = _checkpoint(capsys, train_files)
    state = engine.load(ckpt)
    if damage == "nan weights":
        state["model"]["fc1.weight"][0, 0] = float("nan")
        expected = "the weights fc1.weight hold 1 NaN or infinite value(s)"
    else:
        state["progress"]["epoch"] = -4
        expected = "damaged progress: the epoch count is -4"
    engine.save(state, ckpt)
    status, _, err = _run(capsys, "train", train_files["project"], *train_files["common"],
                          "--resume", ckpt)  # fmt: skip
    lines = _error_lines(err)
    assert status == 1 and len(lines) == 1 and expected in lines[0], err
    assert "learning rate" not in err


# -- signals --------------------------------------------------------------------------------------


def _train_process(tmp_path, *extra):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "ENGINE_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}  # fmt: skip
    metrics = tmp_path / "m.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netbuilder", "train", str(template_path("lenet")), "--epochs",
         "50", "--metrics-out", str(metrics), *map(str, extra)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.05)
    return proc, metrics


def test_sigterm_stops_like_ctrl_c_writes_the_outputs_and_exits_143(tmp_path):
    weights = tmp_path / "w.safetensors"
    proc, metrics = _train_process(tmp_path, "--save-weights", weights)
    try:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "SIGTERM: stopping after this step" in err
    assert "fc3.weight" in engine.load(weights)
    assert all(json.loads(line) for line in metrics.read_text().splitlines())
    assert _listing(tmp_path) == ["m.jsonl", "w.safetensors"]


def test_a_second_ctrl_c_quits_at_once_without_a_traceback(tmp_path):
    proc, _ = _train_process(tmp_path)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # whether the second one came during the step or while the process was leaving
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "netbuilder: interrupted" in err or out.strip().endswith(tuple("0123456789"))


def test_a_file_size_limit_fails_the_checkpoint_alone(capsys, train_files):
    """A real write failure (RLIMIT_FSIZE: the kernel refuses the bytes past the limit, as a
    full disk does), not a patched one: the larger checkpoint fails, the weights are written."""
    tmp = train_files["tmp"]
    weights, ckpt = tmp / "w.safetensors", tmp / "c.ckpt"
    assert _run(capsys, "train", train_files["project"], *train_files["common"],
                "--save-weights", weights, "--checkpoint", ckpt)[0] == 0  # fmt: skip
    limit = (weights.stat().st_size + ckpt.stat().st_size) // 2
    assert weights.stat().st_size < limit < ckpt.stat().st_size
    old_checkpoint = ckpt.read_bytes()
    weights.unlink()
    code = (
        "import resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        "from netbuilder.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, "train", str(train_files["project"]),
         *map(str, train_files["common"]), "--save-weights", str(weights), "--checkpoint",
         str(ckpt)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    lines = _error_lines(proc.stderr)
    assert proc.returncode == 1 and lines == [
        f"netbuilder: error: {ckpt}: could not write the checkpoint: File too large"
    ], proc.stderr
    assert "fc3.weight" in engine.load(weights)
    assert ckpt.read_bytes() == old_checkpoint  # the old one, whole
    assert sorted(p.name for p in tmp.iterdir()) == ["c.ckpt", "d.npz", "mlp.json", "w.safetensors"]
