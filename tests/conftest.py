import os
import pathlib

# Qt must know it is headless before any QApplication exists.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_runtime = pathlib.Path(f"/tmp/runtime-{os.getuid()}")
_runtime.mkdir(mode=0o700, exist_ok=True)
os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime))

import pytest  # noqa: E402

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
