"""Nothing from outside becomes code: file names, weights paths and graph names that try to
break out of a string or shadow a name give a script that runs `--help` and does nothing else;
bad numbers are refused; any legal graph exports without recursion."""

import subprocess
import sys
import textwrap
import time

import pytest

from netbuilder.compile import compile_graph
from netbuilder.export import ExportError, export_script, write_export
from netbuilder.graph.limits import MAX_BLOCKS
from netbuilder.graph.model import Graph
from netbuilder.graph.templates import load_template

MARKER = "pwned"
HOSTILE_FILE_NAMES = [
    'a""";import os;os.system("touch pwned");""".py',
    "a'''; import os; os.system('touch pwned'); '''.py",
    'quote"inside.py',
    "new\nline.py",
    "named\\N{escape}.py",
    'a") if __import__("os").system("touch pwned") else Path("b.py',
    "{class_name}{script}%(default)s.py",
    "x" * 200 + ".py",
]
HOSTILE_GRAPH_NAMES = [
    "__name__",
    "__doc__",
    "int",
    "max",
    "main",
    "parse_args",
    "\uff4e\uff4e",  # full-width letters Python folds (NFKC) to nn
    "\uff54\uff4f\uff52\uff43\uff48",  # torch
    "\uff26",  # F
    "\uff4e\uff50",  # np
    "\uff4f\uff53",  # os
    "\uff4d\uff41\uff49\uff4e",  # main
    'Net"):\n    import os; os.system("touch pwned")  #',
    "class",
    "match",
]


def run_help(scripts, cwd):
    """`python SCRIPT --help` for each script, in one interpreter (torch imports once)."""
    code = textwrap.dedent(
        """
        import runpy, sys
        for path in sys.argv[1:]:
            sys.argv = [path, "--help"]
            try:
                runpy.run_path(path, run_name="__main__")
            except SystemExit as exc:
                assert exc.code in (0, None), (path, exc.code)
            else:
                raise AssertionError(path + ": --help did not exit")
            print("HELP-OK", flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *map(str, scripts)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("HELP-OK") == len(scripts)
    return proc.stdout


def test_hostile_file_names_cannot_inject_code(tmp_path):
    project = load_template("lenet")
    state = {k: v.numpy() for k, v in compile_graph(project.graph).state_dict().items()}
    scripts = []
    for i, name in enumerate(HOSTILE_FILE_NAMES):
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        target = "torch" if i == 0 else "engine"
        scripts.append(write_export(project, folder / name, target, weights=state))
        text = scripts[-1].read_text()
        assert name not in text  # the name never appears raw, not even in the docstring
        compile(text, name, "exec")
    out = run_help(scripts, tmp_path)
    assert "--weights WEIGHTS" in out
    assert not list(tmp_path.rglob(MARKER))
    # the weights default still names the file beside the script
    for script in scripts:
        assert script.with_suffix(".safetensors").is_file()


def test_hostile_graph_names_give_a_safe_class_name(tmp_path):
    graph = load_template("mlp").graph
    scripts = []
    for i, name in enumerate(HOSTILE_GRAPH_NAMES):
        graph.name = name
        text = export_script(graph, "engine" if i else "torch")
        assert "class Net(nn.Module):" in text, name
        path = tmp_path / f"s{i}.py"
        path.write_text(text)
        scripts.append(path)
    run_help(scripts, tmp_path)
    assert not list(tmp_path.rglob(MARKER))


def test_the_class_name_follows_the_project_unless_the_user_named_the_network():
    graph = load_template("lenet").graph  # the template keeps the default name, Net
    text = export_script(graph, project_name="my-lenet")
    assert "class MyLenet(nn.Module):" in text and "model = MyLenet()" in text
    assert "class Net(nn.Module):" in export_script(graph, project_name="2x; rm -rf")
    graph.name = "LeNet5"
    assert "class LeNet5(nn.Module):" in export_script(graph, project_name="my-lenet")
    with pytest.raises(ExportError, match="cannot name a Python class"):
        export_script(graph, class_name="__name__")


@pytest.mark.parametrize("key", ["lr", "weight_decay", "gamma", "momentum", "eps"])
def test_non_finite_settings_are_refused(key):
    graph = load_template("mlp").graph
    for value in (float("inf"), float("nan"), 10**400):
        with pytest.raises(ExportError, match=f"training setting {key} must be a finite number"):
            export_script(graph, training={key: value})


def test_epochs_zero_is_refused_as_the_app_refuses_it():
    with pytest.raises(ExportError, match="epochs must be at least 1, got 0"):
        export_script(load_template("mlp").graph, training={"epochs": 0})


def chain(n: int) -> Graph:
    """n blocks: an Input, then ReLUs with a Linear every 50th."""
    nodes = [{"id": "n0", "type": "Input", "name": "input1", "params": {"shape": [8]},
              "pos": [0.0, 0.0]}]  # fmt: skip
    for i in range(1, n):
        kind, params = ("Linear", {"out_features": 8}) if i % 50 == 0 else ("ReLU", {})
        nodes.append(
            {"id": f"n{i}", "type": kind, "name": f"b{i}", "params": params, "pos": [i, 0.0]}
        )
    edges = [{"src": f"n{i}", "dst": f"n{i + 1}", "dst_port": 0} for i in range(n - 1)]
    return Graph.from_dict({"name": "Chain", "nodes": nodes, "edges": edges})


# the longest chain a project may hold: MAX_BLOCKS blocks, Input included
@pytest.mark.parametrize("n", [500, MAX_BLOCKS - 1])
def test_long_chains_export_without_recursion(n):
    graph = chain(n)
    start = time.perf_counter()
    text = export_script(graph, "engine")
    print(f"\n{n}-block chain exported in {time.perf_counter() - start:.2f} s")
    compile(text, "chain.py", "exec")
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.count("F.relu(") >= n - 1 - n // 50


def test_the_command_line_export_of_the_reported_names_is_inert(tmp_path, capsys):
    from netbuilder import cli
    from netbuilder.graph.project import save_project
    from netbuilder.training import Trainer

    project = load_template("lenet")
    save_project(project, tmp_path / "lenet.nbproj")
    Trainer(project.graph).save_weights(tmp_path / "trained.safetensors")
    scripts = []
    for i, name in enumerate(HOSTILE_FILE_NAMES[:2] + HOSTILE_FILE_NAMES[5:6]):
        folder = tmp_path / f"cli{i}"
        folder.mkdir()
        argv = ["export", str(tmp_path / "lenet.nbproj"), "-o", str(folder / name),
                "--target", "engine"]  # fmt: skip
        if i == 2:
            argv += ["--weights", str(tmp_path / "trained.safetensors")]
        assert cli.main(argv) == 0, capsys.readouterr().err
        scripts.append(folder / name)
        assert "class Lenet(nn.Module):" in scripts[-1].read_text()
    run_help(scripts, tmp_path)
    assert not list(tmp_path.rglob(MARKER))
