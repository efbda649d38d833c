#!/usr/bin/env python3
"""Render the data view ("Look at the data") to docs/screenshots/data-view*.png at 1280x800.

    python3 scripts/screenshot_data_view.py [--out docs/screenshots] [--cifar FOLDER]

The bundled sample for a 1x32x32 input; a CIFAR-10 binary folder for a 3x32x32 input (without
--cifar, a small one written in the real format to a temporary folder, its images made up).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def made_up_cifar(root: Path) -> Path:
    """A CIFAR-10 binary folder of soft coloured shapes, one kind per class."""
    import numpy as np

    rng = np.random.default_rng(0)
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck")  # fmt: skip
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:32, 0:32]
    for name in ("data_batch_1.bin", "test_batch.bin"):
        records = []
        for i in range(200):
            label = i % 10
            hue = np.array([(label * 37) % 256, (label * 91 + 60) % 256, (label * 53 + 120) % 256])
            cy, cx = rng.integers(8, 24, size=2)
            radius = 5 + label % 4 * 2
            shape = ((yy - cy) ** 2 + (xx - cx) ** 2) < radius**2
            sky = np.linspace(40, 200, 32)[:, None, None] * np.ones((32, 32, 3)) * [0.6, 0.7, 1.0]
            image = np.where(shape[..., None], hue, sky) + rng.normal(0, 10, (32, 32, 3))
            image = np.clip(image, 0, 255).astype(np.uint8)
            records.append(np.concatenate([[label], image.transpose(2, 0, 1).reshape(-1)]))
        (folder / name).write_bytes(np.array(records, dtype=np.uint8).tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(names) + "\n")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--cifar", help="a CIFAR-10 binary folder (default: made-up images)")
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from netbuilder.ui import theme
    from netbuilder.ui.data_view import DataView

    theme.apply(app, dark=False)
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        cifar = args.cifar or str(made_up_cifar(Path(tmp)))
        for spec, shape, name in (("sample", (1, 32, 32), "data-view.png"),
                                  (cifar, (3, 32, 32), "data-view-cifar.png")):  # fmt: skip
            view = DataView(spec, shape)
            view.resize(1280, 800)
            view.show()
            for _ in range(3):
                app.processEvents()
            view.grab().save(str(out / name))
            print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
