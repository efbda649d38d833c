"""DataLoader: batches of a data set in sequential or seeded random order."""

from __future__ import annotations

import numpy as np

from engine.utils.data._collate import default_collate, default_convert
from engine.utils.data.dataset import Subset, TensorDataset
from engine.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler


def _batch_taker(dataset):
    """A function from an index array to the collated batch, for data sets whose samples are
    plain slices of tensors (TensorDataset, and Subsets of one); None otherwise."""
    if type(dataset).__getitem__ is TensorDataset.__getitem__ and isinstance(
        dataset, TensorDataset
    ):
        return dataset._take_batch
    if type(dataset).__getitem__ is Subset.__getitem__ and isinstance(dataset, Subset):
        inner = _batch_taker(dataset.dataset)
        if inner is None:
            return None
        positions = np.asarray(dataset.indices, dtype=np.int64)
        return lambda idx: inner(positions[idx])
    return None


class DataLoader:
    """torch.utils.data.DataLoader for map-style data sets.

    Loading happens in the calling process: ``num_workers`` and ``pin_memory`` are accepted for
    PyTorch scripts and change nothing in the batches.
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        generator=None,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive "
                "with drop_last"
            )
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(
                f"DataLoader needs a map-style data set (with __getitem__ and __len__), "
                f"got {type(dataset).__name__}"
            )
        if sampler is None:
            sampler = (
                RandomSampler(dataset, generator=generator) if shuffle
                else SequentialSampler(dataset)
            )
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.generator = generator
        self._auto_collation = batch_sampler is not None
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        if not self._auto_collation:
            for idx in self.sampler:
                yield self.collate_fn(self.dataset[idx])
            return
        take = _batch_taker(self.dataset) if self._default_collate else None
        if (
            take is not None
            and type(self.batch_sampler) is BatchSampler
            and hasattr(self.batch_sampler.sampler, "_order")
        ):
            # Same batches as the generic path, gathered with one numpy index per tensor.
            for indices in self.batch_sampler._index_batches():
                yield list(take(indices))
            return
        getitems = getattr(self.dataset, "__getitems__", None)
        for indices in self.batch_sampler:
            if getitems is not None:
                samples = getitems(indices)
            else:
                samples = [self.dataset[i] for i in indices]
            yield self.collate_fn(samples)
