"""An image folder's first load (Pillow decodes every file) against its second (one cached
array read back).

    python3 benchmarks/image_folder_cache.py [--folder DIR] [--images 5000] [--size 32]

Without --folder, DIR/train/<class>/*.png and DIR/test/<class>/*.png are written to a
temporary folder first (10 classes, --images in all, a fifth of them for testing). The cache
goes to a temporary folder too, so the user's own is left alone.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def write_folder(root: Path, images: int, size: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(images):
        split = "test" if (i // 10) % 5 == 0 else "train"
        folder = root / split / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:06d}.png")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", help="an image folder (default: made up)")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NETBUILDER_CACHE_DIR"] = str(Path(tmp) / "cache")
        from netbuilder.data.images import load_image_folder

        folder = Path(args.folder) if args.folder else Path(tmp) / "images"
        if not args.folder:
            write_folder(folder, args.images, args.size)
        size = (args.size, args.size)
        t0 = time.perf_counter()
        first = load_image_folder(folder, size)
        t1 = time.perf_counter()
        second = load_image_folder(folder, size)
        t2 = time.perf_counter()
        assert np.array_equal(first.x_train, second.x_train)
        n = len(first.y_train) + len(first.y_test)
        print(f"{n:,} images of {size[0]}x{size[1]} in {first.num_classes} classes")
        print(f"first load (decode, cache written): {t1 - t0:.2f} s")
        print(f"second load (from the cache):       {t2 - t1:.3f} s ({(t1 - t0) / (t2 - t1):.0f}x)")


if __name__ == "__main__":
    main()
