"""Build resources/data/mnist-sample.npz, the bundled MNIST sample, from the full MNIST.

    python3 scripts/make_sample.py [MNIST_DIR] [-o OUT.npz] [--train 6000] [--test 1000]

Class-balanced (the same number of images per digit), chosen with a fixed seed and kept in
MNIST's original order, written byte-for-byte reproducibly (fixed zip timestamps), so running it
again gives the identical file.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MNIST = REPO.parent / "shared" / "datasets" / "mnist"
DEFAULT_OUT = REPO / "resources" / "data" / "mnist-sample.npz"
SEED = 0


def balanced_indices(labels: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """`total // classes` indices per class, sorted (original order)."""
    classes = np.unique(labels)
    per_class = total // len(classes)
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in classes]
    return np.sort(np.concatenate(picks))


def build_sample(split, n_train: int = 6000, n_test: int = 1000, seed: int = SEED) -> dict:
    """The sample's four arrays from a full DataSplit."""
    rng = np.random.default_rng(seed)
    train = balanced_indices(split.y_train, n_train, rng)
    test = balanced_indices(split.y_test, n_test, rng)
    return {
        "x_train": split.x_train[train],
        "y_train": split.y_train[train].astype(np.uint8),
        "x_test": split.x_test[test],
        "y_test": split.y_test[test].astype(np.uint8),
    }


def write_npz(arrays: dict, out: Path) -> None:
    """A compressed .npz that np.load reads, with fixed timestamps; written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as archive:
            for key, value in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, buffer.getvalue(), compresslevel=9)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; this is a shipped file
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "mnist_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_MNIST,
        help=f"MNIST IDX folder (default: {DEFAULT_MNIST})",
    )
    parser.add_argument(
        "-o", "--out", type=Path, default=DEFAULT_OUT, help=f"output .npz (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--train", type=int, default=6000, help="training images (default 6000)")
    parser.add_argument("--test", type=int, default=1000, help="test images (default 1000)")
    args = parser.parse_args(argv)

    from netbuilder.data import DataError, load_idx_folder

    try:
        split = load_idx_folder(args.mnist_dir, name="mnist")
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    arrays = build_sample(split, args.train, args.test)
    write_npz(arrays, args.out)
    size = args.out.stat().st_size
    print(
        f"wrote {args.out}: {len(arrays['y_train'])} train + {len(arrays['y_test'])} test "
        f"images, {size / 1e6:.2f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
