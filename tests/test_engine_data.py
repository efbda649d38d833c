"""engine.utils.data against torch.utils.data: datasets, samplers, DataLoader, collation."""

import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import engine
from engine.utils import data as edata


def _np(t):
    return t._data if isinstance(t, engine.Tensor) else t.detach().numpy()


def _tensor_dataset(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) % 4
    return edata.TensorDataset(engine.tensor(x), engine.tensor(y)), x, y


def _seen_ids(loader):
    ids = []
    for xb, _ in loader:
        ids.extend((_np(xb)[:, 0] // 3).astype(int).tolist())
    return ids


# ---- datasets ----------------------------------------------------------------------------


def test_tensor_dataset_items_and_len():
    ds, x, y = _tensor_dataset(7)
    assert len(ds) == 7
    xi, yi = ds[3]
    np.testing.assert_array_equal(_np(xi), x[3])
    assert yi.item() == y[3]
    assert yi.dtype == engine.int64


def test_tensor_dataset_size_mismatch_is_refused():
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        edata.TensorDataset(engine.zeros(3, 2), engine.zeros(4))


def test_subset_and_concat():
    ds, x, _ = _tensor_dataset(6)
    sub = edata.Subset(ds, [5, 0, 2])
    assert len(sub) == 3
    np.testing.assert_array_equal(_np(sub[0][0]), x[5])
    both = ds + sub
    assert isinstance(both, edata.ConcatDataset)
    assert len(both) == 9
    np.testing.assert_array_equal(_np(both[7][0]), x[0])
    np.testing.assert_array_equal(_np(both[-1][0]), x[2])


def test_random_split_lengths_disjoint_and_reproducible():
    ds, _, _ = _tensor_dataset(10)
    a, b = edata.random_split(ds, [7, 3], generator=engine.Generator().manual_seed(1))
    assert (len(a), len(b)) == (7, 3)
    assert sorted(a.indices + b.indices) == list(range(10))
    a2, _ = edata.random_split(ds, [7, 3], generator=engine.Generator().manual_seed(1))
    a3, _ = edata.random_split(ds, [7, 3], generator=engine.Generator().manual_seed(2))
    assert a.indices == a2.indices
    assert a.indices != a3.indices


def test_random_split_fractions_match_pytorch_lengths():
    ds, _, _ = _tensor_dataset(10)
    for fractions in ([0.5, 0.5], [0.33, 0.33, 0.34], [0.25, 0.75], [0.1, 0.2, 0.3, 0.4]):
        ours = [len(s) for s in edata.random_split(ds, fractions)]
        theirs = [len(s) for s in tdata.random_split(range(10), fractions)]
        assert ours == theirs


def test_random_split_wrong_total_is_refused():
    ds, _, _ = _tensor_dataset(10)
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        edata.random_split(ds, [3, 3])


# ---- DataLoader: order, coverage, batches ------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (5, 8), (1, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_sample_once_per_epoch_and_partial_batch(n, batch_size, drop_last):
    ds, _, _ = _tensor_dataset(n)
    loader = edata.DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        drop_last=drop_last,
        generator=engine.Generator().manual_seed(0),
    )
    expected_batches = n // batch_size if drop_last else -(-n // batch_size)
    assert len(loader) == expected_batches
    for _epoch in range(2):
        sizes = [len(xb) for xb, _ in loader]
        assert len(sizes) == expected_batches
        assert all(s == batch_size for s in sizes[:-1])
        if drop_last:
            assert all(s == batch_size for s in sizes)
        elif n % batch_size:
            assert sizes[-1] == n % batch_size
        ids = _seen_ids(loader)
        if drop_last:
            assert len(ids) == len(set(ids)) == expected_batches * batch_size
        else:
            assert sorted(ids) == list(range(n))


def test_sequential_order_and_values_equal_pytorch():
    ds, x, y = _tensor_dataset(10)
    ours = list(edata.DataLoader(ds, batch_size=4))
    theirs = list(
        tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), 4)
    )
    assert len(ours) == len(theirs) == 3
    for (xe, ye), (xt, yt) in zip(ours, theirs):
        np.testing.assert_array_equal(_np(xe), _np(xt))
        np.testing.assert_array_equal(_np(ye), _np(yt))
        assert xe.dtype == engine.float32 and ye.dtype == engine.int64


def test_shuffle_reproducible_with_seeded_generator():
    ds, _, _ = _tensor_dataset(50)

    def orders(seed, epochs=3):
        loader = edata.DataLoader(
            ds, batch_size=7, shuffle=True, generator=engine.Generator().manual_seed(seed)
        )
        return [_seen_ids(loader) for _ in range(epochs)]

    first = orders(3)
    assert first == orders(3)
    assert first != orders(4)
    assert first[0] != first[1]  # a new order every epoch
    assert first[0] != list(range(50))


def test_shuffle_reproducible_with_manual_seed():
    ds, _, _ = _tensor_dataset(40)
    loader = edata.DataLoader(ds, batch_size=5, shuffle=True)
    engine.manual_seed(11)
    a = [_seen_ids(loader), _seen_ids(loader)]
    engine.manual_seed(11)
    b = [_seen_ids(loader), _seen_ids(loader)]
    engine.manual_seed(12)
    c = _seen_ids(loader)
    assert a == b
    assert c != a[0]


class _PlainDataset(edata.Dataset):
    """Samples built by __getitem__ (no fast path): numpy image, int label."""

    def __init__(self, n):
        self.x = np.arange(n * 4, dtype=np.float32).reshape(n, 2, 2)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(i % 3)


def test_generic_path_gives_the_same_batches_as_the_tensor_fast_path():
    plain = _PlainDataset(11)
    fast = edata.TensorDataset(
        engine.tensor(plain.x), engine.tensor(np.arange(11, dtype=np.int64) % 3)
    )
    for shuffle in (False, True):
        a = list(
            edata.DataLoader(plain, 4, shuffle=shuffle, generator=engine.Generator().manual_seed(5))
        )
        b = list(
            edata.DataLoader(fast, 4, shuffle=shuffle, generator=engine.Generator().manual_seed(5))
        )
        assert len(a) == len(b) == 3
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(_np(xa), _np(xb))
            np.testing.assert_array_equal(_np(ya), _np(yb))
            assert ya.dtype == yb.dtype == engine.int64


def test_subset_of_tensor_dataset_in_a_loader():
    ds, x, _ = _tensor_dataset(10)
    sub = edata.Subset(ds, [9, 1, 4, 7])
    (xb, _), (xb2, _) = list(edata.DataLoader(sub, batch_size=2))
    np.testing.assert_array_equal(_np(xb), x[[9, 1]])
    np.testing.assert_array_equal(_np(xb2), x[[4, 7]])


# ---- collation --------------------------------------------------------------------------


def _compare_collated(ours, theirs):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, engine.Tensor)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(_np(ours), _np(theirs))
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            _compare_collated(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _compare_collated(a, b)
    else:
        assert ours == theirs


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize(
    "samples",
    [
        [(np.ones((2, 2), np.float32), 1), (np.zeros((2, 2), np.float32), 0)],
        [
            {"img": np.arange(3, dtype=np.uint8), "label": 2.5, "name": "a"},
            {"img": np.arange(3, dtype=np.uint8), "label": -1.0, "name": "b"},
        ],
        [[1, 2.0, True], [3, 4.0, False]],
        [Point(np.float32(1.5), 2), Point(np.float32(3.5), 4)],
        [np.float64(1.0), np.float64(2.0)],
    ],
    ids=["array-int", "dict", "list", "namedtuple", "numpy-scalars"],
)
def test_default_collate_equals_pytorch(samples):
    theirs = tdata.default_collate(samples)
    ours = edata.default_collate(samples)
    if isinstance(theirs, tuple) and hasattr(theirs, "_fields"):
        assert type(ours) is Point
        for a, b in zip(ours, theirs):
            _compare_collated(a, b)
    else:
        _compare_collated(ours, theirs)


def test_default_collate_stacks_engine_tensors_and_rejects_ragged():
    out = edata.default_collate([engine.ones(2, 3), engine.zeros(2, 3)])
    assert tuple(out.shape) == (2, 2, 3)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        edata.default_collate([engine.ones(2), engine.ones(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        edata.default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        edata.default_collate([object(), object()])


def test_custom_collate_fn_and_no_batching():
    ds, x, _ = _tensor_dataset(5)
    loader = edata.DataLoader(ds, batch_size=2, collate_fn=lambda batch: len(batch))
    assert list(loader) == [2, 2, 1]
    single = list(edata.DataLoader(_PlainDataset(3), batch_size=None))
    assert len(single) == 3
    assert isinstance(single[0][0], engine.Tensor)
    assert tuple(single[0][0].shape) == (2, 2)
    assert single[1][1] == 1


# ---- argument checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(sampler=[0, 1], shuffle=True),
        dict(batch_sampler=[[0, 1]], batch_size=2),
        dict(batch_sampler=[[0, 1]], drop_last=True),
        dict(batch_size=None, drop_last=True),
        dict(num_workers=-1),
        dict(batch_size=0),
        dict(batch_size=2, drop_last="yes"),
    ],
)
def test_dataloader_argument_errors_match_pytorch(kwargs):
    with pytest.raises(ValueError) as theirs:
        tdata.DataLoader(list(range(4)), **kwargs)
    ds, _, _ = _tensor_dataset(4)
    with pytest.raises(ValueError) as ours:
        edata.DataLoader(ds, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_sampler_argument_errors_match_pytorch():
    for kwargs in (dict(replacement=1), dict(num_samples=0)):
        with pytest.raises((TypeError, ValueError)) as theirs:
            tdata.RandomSampler(range(3), **kwargs)
        with pytest.raises((TypeError, ValueError)) as ours:
            edata.RandomSampler(range(3), **kwargs)
        assert type(ours.value) is type(theirs.value)
        assert str(ours.value) == str(theirs.value)


def test_random_sampler_num_samples_and_replacement():
    sampler = edata.RandomSampler(
        range(4), num_samples=10, generator=engine.Generator().manual_seed(0)
    )
    drawn = list(sampler)
    assert len(drawn) == len(sampler) == 10
    assert sorted(drawn[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]  # two whole permutations first
    with_replacement = list(
        edata.RandomSampler(
            range(4), replacement=True, num_samples=50, generator=engine.Generator().manual_seed(0)
        )
    )
    assert len(with_replacement) == 50 and set(with_replacement) <= {0, 1, 2, 3}


def test_batch_sampler_over_a_custom_sampler():
    batches = list(edata.BatchSampler([4, 2, 0, 1, 3], 2, False))
    assert batches == [[4, 2], [0, 1], [3]]
    assert len(edata.BatchSampler([4, 2, 0, 1, 3], 2, True)) == 2
    loader = edata.DataLoader(_tensor_dataset(5)[0], sampler=[4, 3], batch_size=1)
    assert [int(_np(xb)[0, 0]) // 3 for xb, _ in loader] == [4, 3]


# ---- streams, weighted sampling, worker options --------------------------------------------


class _Stream(edata.IterableDataset):
    def __init__(self, n, with_len=True):
        self.n = n
        self.with_len = with_len

    def __iter__(self):
        for i in range(self.n):
            yield np.full(2, i, np.float32), i

    def __len__(self):
        if not self.with_len:
            raise TypeError("this stream has no length")
        return self.n


class _TorchStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield np.full(2, i, np.float32), i

    def __len__(self):
        return self.n


@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (3, True), (None, False)])
def test_iterable_dataset_batches_equal_pytorch(batch_size, drop_last):
    ours = edata.DataLoader(_Stream(8), batch_size=batch_size, drop_last=drop_last)
    theirs = tdata.DataLoader(_TorchStream(8), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    a, b = list(ours), list(theirs)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        _compare_collated(x, y)
    chained = list(edata.DataLoader(_Stream(2) + _Stream(3), batch_size=5))
    assert [int(v) for v in _np(chained[0][1])] == [0, 1, 0, 1, 2]
    with pytest.raises(TypeError, match="no length"):
        len(edata.DataLoader(_Stream(3, with_len=False), batch_size=2))


@pytest.mark.parametrize(
    "kwargs",
    [dict(shuffle=True), dict(sampler=[0, 1]), dict(batch_sampler=[[0]], batch_size=1)],
)
def test_iterable_dataset_refuses_orderings_as_pytorch(kwargs):
    with pytest.raises(ValueError) as theirs:
        tdata.DataLoader(_TorchStream(3), **kwargs)
    with pytest.raises(ValueError) as ours:
        edata.DataLoader(_Stream(3), **kwargs)
    assert str(ours.value).split(" but got")[0] == str(theirs.value).split(" but got")[0]


def test_weighted_random_sampler():
    weights = [0.0, 1.0, 0.0, 3.0]
    drawn = list(
        edata.WeightedRandomSampler(weights, 2000, generator=engine.Generator().manual_seed(0))
    )
    assert set(drawn) == {1, 3}
    assert 0.7 < drawn.count(3) / 2000 < 0.8
    no_repeat = list(edata.WeightedRandomSampler(weights, 2, replacement=False))
    assert sorted(no_repeat) == [1, 3]
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement"):
        edata.WeightedRandomSampler(weights, 3, replacement=False)
    for kwargs in (dict(num_samples=0), dict(num_samples=2, replacement=1)):
        with pytest.raises(ValueError) as theirs:
            tdata.WeightedRandomSampler(weights, **kwargs)
        with pytest.raises(ValueError) as ours:
            edata.WeightedRandomSampler(weights, **kwargs)
        assert str(ours.value) == str(theirs.value)
    loader = edata.DataLoader(
        _tensor_dataset(4)[0], batch_size=5, sampler=edata.WeightedRandomSampler(weights, 10)
    )
    ids = _seen_ids(loader)
    assert len(loader) == 2 and len(ids) == 10 and set(ids) <= {1, 3}


@pytest.mark.parametrize(
    "kwargs",
    [dict(timeout=-1), dict(prefetch_factor=2), dict(persistent_workers=True)],
)
def test_worker_option_errors_match_pytorch(kwargs):
    with pytest.raises(ValueError) as theirs:
        tdata.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError) as ours:
        edata.DataLoader(_tensor_dataset(4)[0], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_worker_options_load_the_same_batches_in_process():
    ds, x, _ = _tensor_dataset(6)
    loader = edata.DataLoader(
        ds,
        batch_size=4,
        num_workers=2,
        pin_memory=True,
        persistent_workers=True,
        prefetch_factor=2,
        worker_init_fn=lambda worker_id: None,
    )
    batches = [_np(xb) for xb, _ in loader]
    np.testing.assert_array_equal(np.concatenate(batches), x)
