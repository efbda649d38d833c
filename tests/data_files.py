"""Small data sets in real formats, written for tests: CIFAR-10 binary batches and image
folders (PNG/JPEG encoded by Pillow)."""

from pathlib import Path

import numpy as np

CIFAR_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


def cifar_images(n: int, seed: int):
    """n colour 32x32 images whose class shows in their colour and layout (learnable), and
    labels cycling through 0-9."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 32, 32, 3)).astype(np.uint8)
    for i, label in enumerate(labels):
        channel, band = label % 3, label // 3  # colour and which quarter of the rows
        images[i, band * 8 : band * 8 + 8, :, channel] += 180
    return images, labels.astype(np.int64)


def write_cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Records as the CIFAR-10 binary version stores them: label byte, then R, G, B planes."""
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    records = np.concatenate([labels.astype(np.uint8)[:, None], planes], axis=1)
    path.write_bytes(records.tobytes())


def write_cifar_folder(root: Path, per_batch: int = 20, test: int = 30, batches: int = 5,
                       seed: int = 0, meta: bool = True) -> Path:  # fmt: skip
    """root/cifar-10-batches-bin with data_batch_1..N.bin, test_batch.bin, batches.meta.txt."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for b in range(1, batches + 1):
        write_cifar_batch(folder / f"data_batch_{b}.bin", *cifar_images(per_batch, seed + b))
    write_cifar_batch(folder / "test_batch.bin", *cifar_images(test, seed + 100))
    if meta:
        (folder / "batches.meta.txt").write_text("\n".join(CIFAR_CLASSES) + "\n\n")
    return folder


def write_image_folder(root: Path, classes=("cat", "dog", "fox"), per_class=(6, 3),
                       size=(20, 24), mode="RGB", ext="png", seed=0) -> Path:  # fmt: skip
    """root/train/<class>/*.ext and root/test/<class>/*.ext; per_class = (train, test)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, count in zip(("train", "test"), per_class, strict=True):
        for k, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                h, w = size
                pixels = rng.integers(0, 50, size=(h, w, 3)).astype(np.uint8)
                pixels[:, :, k % 3] += 200  # the class shows in the colour
                Image.fromarray(pixels).convert(mode).save(folder / f"{i:03d}.{ext}")
    return root
