"""What a data set holds, for a look before training: counts per class, image size and
channels, per-channel mean and std, and samples per class. The app's data view and
`netbuilder data DATASET` show the same figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets import DataSplit

STATS_CHUNK = 2048  # images per step of the statistics, to bound temporary memory


@dataclass(frozen=True)
class Summary:
    name: str
    source: str
    height: int
    width: int
    channels: int
    class_names: tuple[str, ...]  # one per class ("0", "1", ... when the data set names none)
    train_counts: tuple[int, ...]
    test_counts: tuple[int, ...]
    mean: tuple[float, ...]  # per channel, on the 0-1 scale (transforms.Normalize's)
    std: tuple[float, ...]

    @property
    def colour(self) -> str:
        return "grey (1 channel)" if self.channels == 1 else "RGB (3 channels)"

    def lines(self) -> list[str]:
        """The summary as text lines (the CLI prints them)."""
        width = max(5, *(len(name) for name in self.class_names))
        out = [
            f"{self.name}: {self.source}",
            f"images: {self.height}x{self.width} {self.colour}, bytes 0-255",
            f"train: {sum(self.train_counts):,} images; test: {sum(self.test_counts):,} images; "
            f"{len(self.class_names)} classes",
            f"  {'#':>3} {'class':<{width}} {'train':>9} {'test':>9}",
        ]
        for k, name in enumerate(self.class_names):
            out.append(
                f"  {k:>3} {name:<{width}} {self.train_counts[k]:>9,} {self.test_counts[k]:>9,}"
            )
        out.append("mean (0-1, per channel): " + ", ".join(f"{m:.4f}" for m in self.mean))
        out.append("std  (0-1, per channel): " + ", ".join(f"{s:.4f}" for s in self.std))
        return out


def summarize(split: DataSplit) -> Summary:
    k = split.num_classes
    names = tuple(split.class_name(i) for i in range(k))
    mean, std = pixel_stats(split.x_train)
    return Summary(
        name=split.name,
        source=split.source,
        height=int(split.x_train.shape[1]),
        width=int(split.x_train.shape[2]),
        channels=split.channels,
        class_names=names,
        train_counts=tuple(int(c) for c in np.bincount(split.y_train, minlength=k)[:k]),
        test_counts=tuple(int(c) for c in np.bincount(split.y_test, minlength=k)[:k]),
        mean=mean,
        std=std,
    )


def pixel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images on the 0-1 scale, in float64 sums."""
    channels = 1 if images.ndim == 3 else images.shape[3]
    total = np.zeros(channels)
    squares = np.zeros(channels)
    for start in range(0, len(images), STATS_CHUNK):
        block = images[start : start + STATS_CHUNK].reshape(-1, channels).astype(np.float64)
        total += block.sum(axis=0)
        squares += np.square(block).sum(axis=0)
    count = images.size // channels
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return tuple(float(m) / 255 for m in mean), tuple(float(s) / 255 for s in std)


def samples_per_class(split: DataSplit, per_class: int, seed: int = 0) -> list[np.ndarray]:
    """Up to `per_class` training images of each class (indices), the same ones each time."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(split.num_classes):
        where = np.flatnonzero(split.y_train == k)
        if len(where) > per_class:
            where = np.sort(rng.choice(where, per_class, replace=False))
        out.append(where)
    return out


def matching_input_shape(split: DataSplit, current=None) -> list[int]:
    """The Input block shape that takes the data set's images as they are: [C, H, W], or the
    flattened [C*H*W] when the block now holds a feature vector."""
    h, w = (int(d) for d in split.image_shape[:2])
    c = split.channels
    if current is not None and len(current) == 1:
        return [c * h * w]
    return [c, h, w]
