"""DataLoader: batches of a data set in sequential or seeded random order."""

from __future__ import annotations

import numpy as np

from engine.utils.data._collate import default_collate, default_convert
from engine.utils.data.dataset import IterableDataset, Subset, TensorDataset
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
    """torch.utils.data.DataLoader for map-style and iterable data sets.

    Loading happens in the calling process (numpy gathers whole batches at once): the worker
    options (``num_workers``, ``worker_init_fn``, ``persistent_workers``, ``prefetch_factor``,
    ``timeout``) and ``pin_memory`` are checked as PyTorch checks them and change nothing in
    the batches; ``worker_init_fn`` is never called, as in PyTorch with ``num_workers=0``.
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
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set "
                "prefetch_factor to None."
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in {False, None}:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, "
                    f"but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, "
                    f"but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
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
        if not self._iterable and not (
            hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")
        ):
            raise TypeError(
                "DataLoader needs a map-style data set (with __getitem__ and __len__) or an "
                f"IterableDataset, got {type(dataset).__name__}"
            )
        if self._iterable:
            sampler = None  # the data set's own order
        elif sampler is None:
            sampler = (
                RandomSampler(dataset, generator=generator) if shuffle
                else SequentialSampler(dataset)
            )
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif self._iterable and batch_size is not None:
            # PyTorch batches streams through a BatchSampler too: the same argument checks.
            BatchSampler(range(1), batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.generator = generator
        self._auto_collation = batch_sampler is not None or (
            self._iterable and batch_size is not None
        )
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)  # TypeError when the stream has no length, as PyTorch
            if self.batch_size is None:
                return length
            if self.drop_last:
                return length // self.batch_size
            return -(-length // self.batch_size)
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        if self._iterable:
            yield from self._iterate_stream()
            return
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

    def _iterate_stream(self):
        if not self._auto_collation:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)
