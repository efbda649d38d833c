import os
import pathlib

# Qt must know it is headless before any QApplication exists.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_runtime = pathlib.Path(f"/tmp/runtime-{os.getuid()}")
_runtime.mkdir(mode=0o700, exist_ok=True)
os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime))

import tempfile  # noqa: E402

import pytest  # noqa: E402

# "My blocks" lives in the user data folder: tests use a fresh one, never the user's.
os.environ.setdefault("NETBUILDER_USER_DATA", tempfile.mkdtemp(prefix="netbuilder-user-"))

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
MNIST_DIR = REPO_ROOT.parent / "shared" / "datasets" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir():
    """The real MNIST IDX folder beside the checkout (tests and benchmarks only)."""
    if not MNIST_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"MNIST not found at {MNIST_DIR}")
        pytest.skip(f"MNIST not found at {MNIST_DIR}")
    return MNIST_DIR


def _answer_message_boxes_by_default():
    """Offscreen, a modal box nobody can see blocks the run for ever: a dirty window closed by
    pytest-qt after a test's own monkeypatches are undone would hang the suite. Every static
    QMessageBox answers at once with the choice that keeps nothing and asks nothing further;
    tests that care about a box patch it themselves."""
    try:
        from PySide6.QtWidgets import QMessageBox
    except ImportError:
        return
    defaults = {
        "warning": QMessageBox.StandardButton.Discard,
        "question": QMessageBox.StandardButton.No,
        "critical": QMessageBox.StandardButton.Ok,
        "information": QMessageBox.StandardButton.Ok,
    }
    for kind, answer in defaults.items():
        setattr(QMessageBox, kind, lambda *args, _answer=answer, **kwargs: _answer)


_answer_message_boxes_by_default()
