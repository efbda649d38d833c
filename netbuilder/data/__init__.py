"""Data sets: the bundled MNIST sample, IDX folders, Keras-style .npz, the MNIST download, and
their adaptation to the network's Input block. No Qt here."""

from .datasets import DataSplit, load_dataset, load_idx_folder, load_npz, sample_path
from .download import (
    MNIST_FILES,
    MNIST_MIRRORS,
    cache_dir,
    download_mnist,
    mnist_cache_dir,
)
from .errors import DataError, DownloadCancelled, DownloadError
from .idx import read_idx
from .prepare import Prepared, prepare, resize_bilinear

__all__ = [
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "DataError",
    "DataSplit",
    "DownloadCancelled",
    "DownloadError",
    "Prepared",
    "cache_dir",
    "download_mnist",
    "load_dataset",
    "load_idx_folder",
    "load_npz",
    "mnist_cache_dir",
    "prepare",
    "read_idx",
    "resize_bilinear",
    "sample_path",
]
