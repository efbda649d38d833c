"""engine.save / engine.load: safetensors round trips, PyTorch interchange, no pickle, clear
errors for corrupt, truncated and foreign files."""

import io
import json
import math
import pickle
from collections import Counter, OrderedDict

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import engine
import engine.nn as enn
from engine.serialization import CheckpointError


class _EngineLeNet(enn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = enn.Conv2d(1, 6, 5)
        self.pool = enn.MaxPool2d(2)
        self.conv2 = enn.Conv2d(6, 16, 5)
        self.fc1 = enn.Linear(16 * 5 * 5, 120)
        self.fc2 = enn.Linear(120, 84)
        self.fc3 = enn.Linear(84, 10)

    def forward(self, x):
        F = enn.functional
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = engine.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class _TorchLeNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5)
        self.pool = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x):
        F = torch.nn.functional
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


@pytest.fixture
def model():
    engine.manual_seed(3)
    return _EngineLeNet()


def _trained_adam(model):
    opt = engine.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    x = engine.randn(4, 1, 32, 32)
    y = engine.tensor([1, 2, 3, 4])
    for _ in range(2):
        opt.zero_grad()
        enn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return opt


# ---- round trips -------------------------------------------------------------------------


def test_model_state_dict_round_trip(model, tmp_path):
    path = tmp_path / "lenet.safetensors"
    sd = model.state_dict()
    engine.save(sd, path)
    loaded = engine.load(path)
    assert list(loaded) == list(sd)  # keys and their order
    assert type(loaded) is type(sd)
    for key in sd:
        assert loaded[key].dtype == sd[key].dtype
        np.testing.assert_array_equal(loaded[key]._data, sd[key]._data)
    other = _EngineLeNet()
    other.load_state_dict(loaded)
    x = engine.randn(2, 1, 32, 32)
    np.testing.assert_array_equal(other(x)._data, model(x)._data)
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed into place


def test_pytorch_reads_engine_weights(model, tmp_path):
    path = tmp_path / "lenet.safetensors"
    engine.save(model.state_dict(), path)
    tensors = safetensors.torch.load_file(str(path))
    sd = model.state_dict()
    assert set(tensors) == set(sd)
    for key, value in tensors.items():
        assert value.dtype == torch.float32
        assert torch.equal(value, torch.from_numpy(sd[key]._data.copy()))
    tmodel = _TorchLeNet()
    tmodel.load_state_dict(tensors)  # strict: PyTorch's own key names
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(
        tmodel(torch.from_numpy(x)).detach().numpy(),
        model(engine.tensor(x))._data,
        rtol=1e-4,
        atol=1e-5,
    )


def test_engine_reads_pytorch_weights(tmp_path):
    torch.manual_seed(0)
    tmodel = _TorchLeNet()
    path = tmp_path / "from_torch.safetensors"
    safetensors.torch.save_file(tmodel.state_dict(), str(path))
    loaded = engine.load(path)
    model = _EngineLeNet()
    model.load_state_dict(loaded)
    for key, value in tmodel.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key]._data, value.numpy())


def test_optimizer_and_checkpoint_round_trip(model, tmp_path):
    opt = _trained_adam(model)
    sched = engine.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 3, 8], gamma=0.5)
    plateau = engine.optim.lr_scheduler.ReduceLROnPlateau(opt)
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "plateau": plateau.state_dict(),
        "epoch": 7,
        "history": [2.3, 1.1, float("nan")],
        "note": None,
    }
    path = tmp_path / "checkpoint.safetensors"
    engine.save(checkpoint, path)
    back = engine.load(path)

    assert back["epoch"] == 7 and back["note"] is None
    assert back["history"][:2] == [2.3, 1.1] and math.isnan(back["history"][2])
    assert back["plateau"]["best"] == math.inf
    assert back["scheduler"]["milestones"] == {3: 2, 8: 1}
    ours, saved = opt.state_dict(), back["optimizer"]
    assert saved["param_groups"] == ours["param_groups"]  # tuples (betas) and None kept
    assert list(saved["state"]) == list(ours["state"]) == list(range(10))
    for idx, state in ours["state"].items():
        assert list(saved["state"][idx]) == list(state)
        for key, value in state.items():
            assert saved["state"][idx][key]._data.shape == value._data.shape
            np.testing.assert_array_equal(saved["state"][idx][key]._data, value._data)

    # The restored scheduler keeps working (its milestones are a Counter again).
    resumed = engine.optim.lr_scheduler.MultiStepLR(opt, milestones=[1])
    resumed.load_state_dict(back["scheduler"])
    assert isinstance(resumed.milestones, Counter)
    assert resumed.milestones == sched.milestones

    # PyTorch sees every tensor under a readable path name.
    names = safetensors.torch.load_file(str(path))
    assert "model.conv1.weight" in names and "optimizer.state.0.exp_avg" in names
    assert names["optimizer.state.0.step"].shape == ()


def test_containers_numbers_and_arrays_round_trip(tmp_path):
    obj = OrderedDict(
        a=(1, 2.5, True, "text", None),
        b={1: [engine.tensor([1, 2, 3])], 2.5: np.arange(4, dtype=np.uint8), None: -math.inf},
        c=[engine.zeros(0, 3), engine.tensor(True), engine.ones(2, dtype=engine.float64)],
        d={"x.y": engine.ones(1), "x": {"y": engine.zeros(1)}},  # same path name twice
        e=np.float32(0.5),
        f=2**70,
    )
    buf = io.BytesIO()
    engine.save(obj, buf)
    buf.seek(0)
    back = engine.load(buf)
    assert type(back) is OrderedDict and list(back) == list(obj)
    assert back["a"] == obj["a"] and type(back["a"]) is tuple
    assert list(back["b"]) == [1, 2.5, None] and back["b"][None] == -math.inf
    assert back["b"][1][0].dtype == engine.int64
    np.testing.assert_array_equal(back["b"][1][0]._data, [1, 2, 3])
    assert isinstance(back["b"][2.5], np.ndarray) and back["b"][2.5].dtype == np.uint8
    assert tuple(back["c"][0].shape) == (0, 3)
    assert back["c"][1].dtype == engine.bool and back["c"][1]._data.shape == ()
    assert back["c"][2].dtype == engine.float64
    assert back["d"]["x.y"].item() == 1.0 and back["d"]["x"]["y"].item() == 0.0
    assert back["e"] == 0.5 and back["f"] == 2**70


def test_any_header_length_loads():
    """The header length's first byte may look like a pickle opcode (0x80) or zip's 'P'."""
    seen = set()
    for k in range(400):
        buf = io.BytesIO()
        engine.save({"w": engine.ones(2), "note": "x" * k}, buf)
        first = buf.getvalue()[0]
        if first in (0x80, ord("P")) and first not in seen:
            seen.add(first)
            buf.seek(0)
            assert engine.load(buf)["note"] == "x" * k
        if len(seen) == 2:
            break
    assert seen == {0x80, ord("P")}


def test_saved_tensors_are_snapshots_and_loaded_ones_are_writable(tmp_path):
    t = engine.ones(3)
    path = tmp_path / "t.safetensors"
    engine.save({"t": t}, path)
    t._data[:] = 5
    loaded = engine.load(path)["t"]
    np.testing.assert_array_equal(loaded._data, [1, 1, 1])
    loaded._data += 1  # owns writable memory
    np.testing.assert_array_equal(loaded._data, [2, 2, 2])


def test_non_contiguous_tensors_are_saved_by_value(tmp_path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "views.safetensors"
    engine.save({"t": _wrap(base.T)}, path)
    np.testing.assert_array_equal(engine.load(path)["t"]._data, base.T)
    np.testing.assert_array_equal(safetensors.numpy.load_file(str(path))["t"], base.T)


def _wrap(array):
    return engine.Tensor._wrap(array)


def test_saving_into_a_missing_folder_is_named(tmp_path):
    target = tmp_path / "nope" / "w.safetensors"
    with pytest.raises(FileNotFoundError, match="the folder .*nope does not exist"):
        engine.save({"w": engine.ones(1)}, target)


def test_map_location_and_weights_only_are_accepted(tmp_path):
    path = tmp_path / "w.safetensors"
    engine.save({"w": engine.ones(2)}, path)
    assert engine.load(path, map_location="cpu", weights_only=True)["w"].shape == (2,)
    assert engine.load(str(path), map_location=engine.device("cpu"))["w"].shape == (2,)
    with pytest.raises(ValueError, match="CPU only"):
        engine.load(path, map_location="cuda:0")


# ---- what cannot be saved ----------------------------------------------------------------


def test_objects_that_would_need_pickle_are_refused(model, tmp_path):
    path = tmp_path / "existing.safetensors"
    engine.save({"w": engine.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"at obj\['net'\] \(save model.state_dict\(\)"):
        engine.save({"net": model}, path)
    with pytest.raises(CheckpointError, match=r"function at obj\[1\]"):
        engine.save([1, lambda: 0], path)
    with pytest.raises(CheckpointError, match="dict keys must be"):
        engine.save({(1, 2): 3}, path)
    with pytest.raises(CheckpointError, match="cannot store the <U1 array"):
        engine.save({"s": np.array(["a"])}, path)
    assert path.read_bytes() == before  # a refused save leaves the old file alone
    assert not list(tmp_path.glob(".*tmp"))


# ---- what cannot be loaded -----------------------------------------------------------------


@pytest.fixture
def good_file(tmp_path, model):
    path = tmp_path / "good.safetensors"
    engine.save(model.state_dict(), path)
    return path


def _load_error(path):
    with pytest.raises(CheckpointError) as info:
        engine.load(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": "), message
    return message


def test_truncated_files_are_named(good_file):
    data = good_file.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    for cut in (len(data) - 1, len(data) // 2, 8 + header_len + 10):
        good_file.write_bytes(data[:cut])
        assert "truncated" in _load_error(good_file)
    good_file.write_bytes(data[: 8 + header_len // 2])
    assert "truncated: its header should be" in _load_error(good_file)
    good_file.write_bytes(data[:5])
    assert "too short to hold a header" in _load_error(good_file)
    good_file.write_bytes(b"")
    assert "0 bytes long" in _load_error(good_file)


def test_flipped_bytes_are_caught_by_the_checksum(good_file):
    data = bytearray(good_file.read_bytes())
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    header.pop("__metadata__")
    last = max(header, key=lambda k: header[k]["data_offsets"][1])
    data[-3] ^= 0x40
    good_file.write_bytes(bytes(data))
    message = _load_error(good_file)
    assert f"corrupt: the bytes of tensor '{last}' do not match their checksum" in message


def test_corrupt_headers_are_named(good_file):
    data = good_file.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])

    def rewrite(new_header_bytes):
        padded = new_header_bytes + b" " * (-len(new_header_bytes) % 8)
        good_file.write_bytes(len(padded).to_bytes(8, "little") + padded + data[8 + header_len :])

    rewrite(b"{" + data[9 : 8 + header_len // 2])
    assert "corrupt safetensors header" in _load_error(good_file)

    bad = dict(header, **{"fc3.bias": dict(header["fc3.bias"], shape=[11])})
    rewrite(json.dumps(bad).encode())
    assert "corrupt: tensor 'fc3.bias' of shape [11] needs 44 bytes" in _load_error(good_file)

    bad = dict(header, **{"fc3.bias": dict(header["fc3.bias"], dtype="BF16")})
    rewrite(json.dumps(bad).encode())
    assert "dtype BF16, which engine cannot hold" in _load_error(good_file)

    dangling = '{"dict": [["a", {"tensor": "zz"}]]}'
    meta = dict(header["__metadata__"], **{"engine.structure": dangling})
    rewrite(json.dumps(dict(header, __metadata__=meta)).encode())
    assert "refers to a tensor 'zz' it does not hold" in _load_error(good_file)

    meta = dict(header["__metadata__"], **{"engine.structure": '{"module": "os.system"}'})
    rewrite(json.dumps(dict(header, __metadata__=meta)).encode())
    assert "structure holds an entry engine cannot read" in _load_error(good_file)

    meta = dict(header["__metadata__"], **{"engine.format": "9"})
    rewrite(json.dumps(dict(header, __metadata__=meta)).encode())
    assert "format 9; this engine reads format 1" in _load_error(good_file)


def test_deeply_nested_structures_are_refused_cleanly(good_file):
    deep = [1]
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(CheckpointError, match="nested too deeply"):
        engine.save(deep, io.BytesIO())
    data = good_file.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    header["__metadata__"]["engine.structure"] = '{"list": [' * 100000 + "]}" * 100000
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    good_file.write_bytes(len(new).to_bytes(8, "little") + new + data[8 + header_len :])
    assert "nested too deeply" in _load_error(good_file)


def test_pytorch_pickles_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    zipped = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2), "evil": Evil()}, zipped)
    assert "zip archive, as PyTorch's torch.save writes" in _load_error(zipped)
    raw = tmp_path / "model.pkl"
    raw.write_bytes(pickle.dumps(Evil()))
    assert "this is a pickle file" in _load_error(raw)
    assert not marker.exists()


def test_foreign_files_are_named(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("these are not weights, just some text\n")
    assert "not a safetensors file" in _load_error(text)
    noise = tmp_path / "noise.bin"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert "not a safetensors file" in _load_error(noise)
    with pytest.raises(CheckpointError, match="is a folder"):
        engine.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.safetensors: no such file"):
        engine.load(tmp_path / "missing.safetensors")


def test_mismatching_state_dicts_are_named_on_load(good_file):
    other = enn.Sequential(enn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="Missing key|Unexpected key"):
        other.load_state_dict(engine.load(good_file))


def test_saved_files_are_not_private_and_keep_a_replaced_files_mode(tmp_path):
    import os

    path = tmp_path / "w.safetensors"
    umask = os.umask(0o022)
    try:
        engine.save({"w": engine.zeros(2)}, path)
        assert path.stat().st_mode & 0o777 == 0o644  # as open() and torch.save give
        os.chmod(path, 0o640)
        engine.save({"w": engine.ones(2)}, path)
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)
