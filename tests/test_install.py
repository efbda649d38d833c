"""NetBuilder installed the way a user installs it: one lookup for the bundled files, templates by
name wherever a project is accepted, the desktop launcher, and the wheel itself built, put into a
fresh venv and run from an empty folder."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import types
import zipfile
from pathlib import Path

import pytest

from netbuilder import desktop
from netbuilder.cli import main
from netbuilder.graph.templates import (
    DEFAULT_TEMPLATE,
    headline,
    list_templates,
    load_template,
    template_names,
)
from netbuilder.resources import resource_names, resource_path, resources_root

REPO = Path(__file__).resolve().parent.parent


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# -- the one lookup -----------------------------------------------------------------------------


def test_a_checkout_reads_its_own_resources_folder():
    assert resources_root() == REPO / "resources"
    assert resource_path("templates", "lenet.json") == REPO / "resources/templates/lenet.json"
    assert "netbuilder.svg" in resource_names("icons", ".svg")
    assert resource_names("no-such-folder") == []
    with pytest.raises(FileNotFoundError, match="no-such-icon.svg"):
        resource_path("icons", "no-such-icon.svg")


def test_every_reader_goes_through_the_lookup():
    # a path built beside the package would work in a checkout and break when installed
    for path in (REPO / "netbuilder").rglob("*.py"):
        if path.name == "resources.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert '"resources"' not in text and "parents[2]" not in text, path


# -- templates ----------------------------------------------------------------------------------


def test_templates_are_every_json_file_titled_by_its_own_description(tmp_path, monkeypatch):
    import netbuilder.resources as resources

    folder = tmp_path / "templates"
    shutil.copytree(REPO / "resources" / "templates", folder)
    tiny = json.loads((folder / "mlp.json").read_text())
    tiny["description"] = "Tiny net: one layer. Nothing else."
    (folder / "tiny.json").write_text(json.dumps(tiny))
    (folder / "notes.txt").write_text("not a template")
    monkeypatch.setattr(resources, "resources_root", lambda: tmp_path)

    names = template_names()
    assert names[0] == DEFAULT_TEMPLATE and "tiny" in names and "notes" not in names
    assert dict(list_templates())["tiny"] == "Tiny net"
    assert load_template("tiny").graph.total_params == load_template("mlp").graph.total_params


def test_headline_is_the_first_clause_and_short():
    assert headline("LeNet-5 as in the tutorial: two stages.", "x") == "LeNet-5 as in the tutorial"
    assert headline("A CNN (with batch norm) and dropout.", "x") == "A CNN"
    assert headline("A small net. It is small.", "x") == "A small net"
    assert headline("", "fallback") == "fallback"
    long = headline("word " * 40, "x")
    assert len(long) <= 70 and long.endswith("…")


def test_templates_command_prints_one_line_each(capsys):
    status, out, err = _run(capsys, "templates")
    assert status == 0 and not err
    lines = out.splitlines()
    assert len(lines) == len(template_names())
    assert lines[0].split()[0] == "lenet" and "61,706 params" in lines[0]
    assert "LeNet-5" in lines[0]


def test_a_template_name_works_wherever_a_project_does(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = _run(capsys, "summary", "lenet")
    assert status == 0 and "Total params: 61,706" in out
    status, out, _ = _run(capsys, "export", "mlp", "-o", "mlp.py")
    assert status == 0 and (tmp_path / "mlp.py").is_file()
    compile((tmp_path / "mlp.py").read_text(), "mlp.py", "exec")
    status, out, err = _run(
        capsys, "train", "lenet", "--epochs", "1", "--no-progress", "--seed", "1"
    )
    assert status == 0 and "test accuracy" in out, err


def test_a_file_of_that_name_wins_over_the_template(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "resources" / "templates" / "mlp.json", tmp_path / "lenet")
    status, out, _ = _run(capsys, "summary", "lenet")
    assert status == 0 and "Total params: 235,146" in out


def test_neither_file_nor_template_is_one_line_naming_the_templates(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lenet").mkdir()  # a folder of that name does not hide the template
    assert _run(capsys, "summary", "lenet")[0] == 0
    for argv in (["summary", "lenett"], ["train", "lenett"], ["lenett"]):
        status, out, err = _run(capsys, *argv)
        assert status == 1 and not out
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "lenett" in lines[0], err
        assert all(name in lines[0] for name in template_names())
    status, _, err = _run(capsys, "summary", "missing.json")
    assert status == 1 and "missing.json" in err and "templates" not in err


def test_open_takes_a_template_name(monkeypatch, tmp_path):
    calls = []
    fake = types.ModuleType("netbuilder.ui.app")
    fake.main = lambda argv: calls.append(list(argv)) or 0
    monkeypatch.setitem(sys.modules, "netbuilder.ui.app", fake)
    monkeypatch.chdir(tmp_path)
    assert main(["mlp"]) == 0 and main(["open", "resnet"]) == 0
    assert [c[1:] for c in calls] == [["mlp"], ["resnet"]]


# -- desktop launcher ---------------------------------------------------------------------------


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_install_desktop_writes_a_launcher_and_remove_takes_it_away(capsys, tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    status, out, err = _run(capsys, "install-desktop")
    assert status == 0 and not err
    entry = data / "applications" / "netbuilder.desktop"
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "netbuilder.svg"
    assert out.splitlines() == [f"wrote {entry}", f"wrote {icon}"]
    fields = _entry(entry)
    assert fields["Type"] == "Application" and fields["Name"] == "NetBuilder"
    assert fields["Exec"] == f"{sys.executable} -m netbuilder %f"
    assert fields["Icon"] == "netbuilder" and fields["Terminal"] == "false"
    assert icon.read_bytes() == resource_path("icons", "netbuilder.svg").read_bytes()
    assert entry.stat().st_mode & 0o644 == 0o644
    # again: the same two files, replaced in place, no temp files left behind
    assert _run(capsys, "install-desktop")[0] == 0
    assert sorted(p.name for p in entry.parent.iterdir()) == ["netbuilder.desktop"]
    assert sorted(p.name for p in icon.parent.iterdir()) == ["netbuilder.svg"]

    status, out, _ = _run(capsys, "install-desktop", "--remove")
    assert status == 0 and out.splitlines() == [f"removed {entry}", f"removed {icon}"]
    assert not entry.exists() and not icon.exists()
    status, out, _ = _run(capsys, "install-desktop", "--remove")
    assert status == 0 and "no NetBuilder launcher" in out


def test_install_desktop_follows_the_xdg_rules_and_refuses_what_is_not_its_own(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # the spec says: ignore it
    assert desktop.launcher_files().entry == (
        tmp_path / ".local/share/applications/netbuilder.desktop"
    )
    monkeypatch.delenv("XDG_DATA_HOME")
    entry = desktop.launcher_files().entry
    entry.mkdir(parents=True)  # a folder where the launcher goes
    status, _, err = _run(capsys, "install-desktop")
    assert status == 1 and len(err.strip().splitlines()) == 1 and "not a regular file" in err
    assert entry.is_dir()


def test_install_desktop_elsewhere_says_how_to_start_the_app(capsys, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    status, out, err = _run(capsys, "install-desktop")
    assert status == 1 and not out
    assert len(err.strip().splitlines()) == 1 and "Linux" in err


def test_exec_line_quotes_paths_as_the_spec_says():
    text = desktop.desktop_entry(["/opt/my apps/py$thon", "-m", "netbuilder"])
    assert 'Exec="/opt/my apps/py\\\\$thon" -m netbuilder %f' in text.splitlines()
    assert "Exec=/usr/bin/python3 -m netbuilder %f" in desktop.desktop_entry(
        ["/usr/bin/python3", "-m", "netbuilder"]
    )
    with pytest.raises(desktop.DesktopError, match="line break"):
        desktop.desktop_entry(["/bad\npath"])


# -- the wheel, installed into a fresh venv -----------------------------------------------------

# what a build needs; anything else in the checkout stays out of the copy
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "engine", "netbuilder", "resources")

APP_CHECK = """
import sys, traceback
from PySide6.QtCore import QTimer
import netbuilder
from netbuilder.cli import main
from netbuilder.ui import icons
from netbuilder.ui.app import make_app

app = make_app()

def check():
    try:
        window = next(w for w in app.topLevelWidgets() if w.objectName() == "NetBuilderMainWindow")
        image = icons.block_icon("conv2d.svg").pixmap(32, 32).toImage()
        painted = sum(image.pixelColor(x, y).alpha() > 0 for x in range(32) for y in range(32))
        print("package:", netbuilder.__file__)
        print("title:", window.windowTitle(), window.isWindowModified())
        print("blocks:", len(window.graph.nodes))
        print("app icon null:", window.windowIcon().isNull())
        print("painted pixels:", painted)
        actions = [a for a in window.toolbar.actions() if not a.isSeparator()]
        print("null action icons:", sum(a.icon().isNull() for a in actions), len(actions))
        print("stylesheet:", len(app.styleSheet()))
        window.grab().save(sys.argv[1])
        app.quit()
    except BaseException:
        traceback.print_exc()
        app.exit(3)

QTimer.singleShot(2500, check)
sys.exit(main(["lenet"]))
"""


PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


def _site_packages() -> list[str]:
    import site

    found = [*site.getsitepackages(), site.getusersitepackages()]
    return [p for p in dict.fromkeys(found) if Path(p).is_dir()]


def _under(prefix: str, names) -> set[str]:
    return {n.removeprefix(prefix) for n in names if n.startswith(prefix)}


def _clean_env(home: Path, venv: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local/state"),
        QT_QPA_PLATFORM="offscreen",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    return env


def _check(cmd, cwd, env, timeout=120):
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_wheel_in_a_fresh_venv_runs_from_an_empty_folder(tmp_path):
    started = time.perf_counter()
    src, dist, venv, home, work = (tmp_path / d for d in ("src", "dist", "venv", "home", "work"))
    for d in (src, home, work):
        d.mkdir()
    for name in BUILD_INPUTS:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, src / name)
    env = _clean_env(home)

    # the sdist first, then the wheel from it: what pip does with a source release
    build_sdist = (
        "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))"
    )
    sdist = (
        dist / _check([sys.executable, "-c", build_sdist, str(dist)], src, env).stdout.split()[-1]
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-cache-dir"]
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    _check([*pip, "wheel", *offline, "-w", str(dist), str(sdist)], work, env)
    (wheel,) = dist.glob("netbuilder-*.whl")

    bundled = sorted(
        p.relative_to(REPO / "resources").as_posix()
        for p in (REPO / "resources").rglob("*")
        if p.is_file()
    )
    with tarfile.open(sdist) as tar:
        root = tar.getnames()[0].split("/")[0]
        in_sdist = _under(f"{root}/resources/", tar.getnames())
    with zipfile.ZipFile(wheel) as whl:
        in_wheel = _under("netbuilder/_resources/", whl.namelist())
        assert not [n for n in whl.namelist() if n.startswith(("resources/", "tests/"))]
    assert set(bundled) <= in_sdist and set(bundled) <= in_wheel

    # numpy, PySide6 and pip come from the interpreter running the tests (no downloads): its
    # site-packages folders are appended to the venv's path, after the venv's own, so the
    # netbuilder imported is the wheel's (their .pth files, an editable install's, stay unread)
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)], work, env)
    python = venv / "bin" / "python"
    purelib = _check([str(python), "-c", PURELIB], work, env).stdout.strip()
    (Path(purelib) / "borrowed-packages.pth").write_text("\n".join(_site_packages()) + "\n")
    venv_env = _clean_env(home, venv)
    _check([str(python), *pip[1:], "install", *offline, str(wheel)], work, venv_env)
    netbuilder = str(venv / "bin" / "netbuilder")

    out = _check([netbuilder, "--help"], work, venv_env).stdout
    assert "templates" in out and "install-desktop" in out
    assert _check([str(python), "-m", "netbuilder", "--help"], work, venv_env).stdout == out
    out = _check([netbuilder, "templates"], work, venv_env).stdout
    assert [line.split()[0] for line in out.splitlines()] == template_names()
    out = _check([netbuilder, "summary", "lenet"], work, venv_env).stdout
    assert "Total params: 61,706" in out
    out = _check([netbuilder, "train", "lenet", "--epochs", "1"], work, venv_env).stdout
    assert "test accuracy" in out
    out = _check([netbuilder, "export", "lenet", "-o", "x.py"], work, venv_env).stdout
    assert (work / "x.py").is_file() and "wrote x.py" in out
    out = _check([netbuilder, "install-desktop"], work, venv_env).stdout
    entry = _entry(home / ".local/share/applications/netbuilder.desktop")
    assert entry["Exec"].split()[0] == str(python)

    shot = tmp_path / "window.png"
    result = _check([str(python), "-c", APP_CHECK, str(shot)], work, venv_env)
    report = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert report["package"].startswith(str(venv)), report["package"]
    assert report["title"] == "lenet[*] False" and int(report["blocks"]) > 5
    assert report["app icon null"] == "False" and int(report["painted pixels"]) > 50
    assert report["null action icons"].split() == ["0", "8"] and int(report["stylesheet"]) > 100
    assert shot.stat().st_size > 10_000
    assert not [p for p in work.iterdir() if p.name != "x.py"]  # nothing else left behind

    # the same wheel imported as a zip archive: the files come out of the archive
    zip_check = (
        "import netbuilder, sys; from netbuilder.cli import main; "
        "from netbuilder.ui.app import make_app; from netbuilder.ui import icons; "
        "assert netbuilder.__file__.startswith(sys.argv[1]), netbuilder.__file__; "
        "app = make_app(); assert not icons.app_icon().pixmap(16, 16).isNull(); "
        "assert app.styleSheet(); sys.exit(main(['summary', 'lenet']))"
    )
    zip_env = dict(env, PYTHONPATH=str(wheel))
    result = _check([sys.executable, "-c", zip_check, str(wheel)], work, zip_env)
    assert "Total params: 61,706" in result.stdout

    seconds = time.perf_counter() - started
    print(f"wheel built, installed and run in {seconds:.1f} s")
