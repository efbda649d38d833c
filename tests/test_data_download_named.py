"""Named downloads (Fashion-MNIST, KMNIST, CIFAR-10) against local HTTP servers on 127.0.0.1:
checked by the SHA-256 of the file as served, resumed after a drop, CIFAR-10's archive
unpacked safely. The tables are narrowed to files made here; never the internet."""

import dataclasses
import gzip
import hashlib
import io
import tarfile

import numpy as np
import pytest
from data_files import CIFAR_CLASSES, write_cifar_folder
from test_data_download import Mirror, closed_port_url

from netbuilder.data import DataError, DownloadError, load_dataset
from netbuilder.data import download as download_module
from netbuilder.data.download import REMOTES, download_dataset


@pytest.fixture
def mirrors():
    started = []

    def start(files, **kw):
        mirror = Mirror(files, **kw)
        started.append(mirror)
        return mirror

    yield start
    for mirror in started:
        mirror.close()


def idx_gz(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(head + array.astype(np.uint8).tobytes(), mtime=0)


def idx_files(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (30, 28, 28))),
        "train-labels-idx1-ubyte.gz": idx_gz(np.arange(30) % 10),
        "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (10, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": idx_gz(np.arange(10) % 10),
    }


def pin(monkeypatch, name, files):
    """Point the named data set's table at `files` and their SHA-256."""
    table = {f: hashlib.sha256(data).hexdigest() for f, data in files.items()}
    remote = dataclasses.replace(REMOTES[name], files=table)
    monkeypatch.setitem(REMOTES, name, remote)


def cifar_archive(tmp_path, extra=None) -> bytes:
    folder = write_cifar_folder(tmp_path / "src", per_batch=4, test=5)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-bin")
        (tmp_path / "readme.html").write_text("<p>readme</p>")
        tar.add(tmp_path / "readme.html", arcname="cifar-10-batches-bin/readme.html")
        for info, data in extra or ():
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def test_the_tables_pin_every_file():
    for name, remote in REMOTES.items():
        assert remote.mirrors and remote.files, name
        for digest in remote.files.values():
            assert len(digest) == 64 and int(digest, 16) >= 0
    assert list(REMOTES["cifar10"].files) == ["cifar-10-binary.tar.gz"]
    assert len(REMOTES["fashion-mnist"].class_names) == 10


@pytest.mark.parametrize("name", ["fashion-mnist", "kmnist"])
def test_idx_data_sets_download_once_and_load_with_class_names(
    name, mirrors, tmp_path, monkeypatch
):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path))
    files = idx_files()
    pin(monkeypatch, name, files)
    with pytest.raises(DataError, match=f"not downloaded yet.*netbuilder.data {name}"):
        load_dataset(name)
    first = mirrors(files, drop_after={"train-images-idx3-ubyte.gz": 5000})
    seen = []
    folder = download_dataset(name, mirrors=[first.url], progress=lambda *a: seen.append(a))
    assert folder == tmp_path / name
    for file, data in files.items():
        assert (folder / file).read_bytes() == data
    assert ("train-images-idx3-ubyte.gz", "bytes=5000-") in first.requests  # resumed
    assert seen[-1][0] == seen[-1][1]
    data = load_dataset(name)
    assert data.name == name and data.x_train.shape == (30, 28, 28)
    assert data.class_names == REMOTES[name].class_names
    count = len(first.requests)
    download_dataset(name, mirrors=[first.url])  # intact: nothing fetched again
    assert len(first.requests) == count


def test_a_changed_file_on_the_server_is_refused(mirrors, tmp_path, monkeypatch):
    files = idx_files()
    pin(monkeypatch, "kmnist", files)
    tampered = dict(files, **{"t10k-labels-idx1-ubyte.gz": idx_gz(np.zeros(10))})
    bad = mirrors(tampered)
    with pytest.raises(DownloadError, match="content check failed"):
        download_dataset("kmnist", tmp_path, mirrors=[closed_port_url(), bad.url])
    assert not (tmp_path / "t10k-labels-idx1-ubyte.gz").exists()


def test_cifar10_downloads_unpacks_and_loads(mirrors, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    archive = cifar_archive(tmp_path)
    files = {"cifar-10-binary.tar.gz": archive}
    pin(monkeypatch, "cifar10", files)
    server = mirrors(files, drop_after={"cifar-10-binary.tar.gz": len(archive) // 2})
    folder = download_dataset("cifar10", mirrors=[server.url])
    assert folder == tmp_path / "cache" / "cifar10" / "cifar-10-batches-bin"
    assert sorted(p.name for p in folder.iterdir()) == sorted(download_module.CIFAR_MEMBERS)
    assert not (folder.parent / "cifar-10-binary.tar.gz").exists()  # unpacked, then removed
    data = load_dataset("cifar10")
    assert data.x_train.shape == (20, 32, 32, 3) and data.class_names == CIFAR_CLASSES
    requests = len(server.requests)
    assert download_dataset("cifar10", mirrors=[server.url]) == folder
    assert len(server.requests) == requests


def _member(name, kind=tarfile.REGTYPE, data=b"x", link=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, len(data) if kind == tarfile.REGTYPE else 0, link
    return info, data if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize(
    "extra, message",
    [
        ([_member("../evil.txt")], "points outside the archive"),
        ([_member("/etc/evil.txt")], "points outside the archive"),
        ([_member("cifar-10-batches-bin/x", tarfile.SYMTYPE, link="/etc/passwd")], "is a link"),
        ([_member("cifar-10-batches-bin/h", tarfile.LNKTYPE, link="etc")], "is a link"),
        ([_member("cifar-10-batches-bin/f", tarfile.FIFOTYPE)], "not a regular file"),
    ],
)
def test_hostile_archives_are_refused_and_leave_nothing(tmp_path, extra, message):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(cifar_archive(tmp_path, extra))
    target = tmp_path / "out" / "cifar-10-batches-bin"
    target.parent.mkdir()
    with pytest.raises(DataError, match=message):
        download_module.extract_cifar(archive, target)
    assert list(target.parent.iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_oversized_member_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(cifar_archive(tmp_path))
    caps = dict(download_module.CIFAR_MEMBERS, **{"test_batch.bin": 3073})
    monkeypatch.setattr(download_module, "CIFAR_MEMBERS", caps)
    target = tmp_path / "out"
    with pytest.raises(DataError, match="test_batch.bin' is 15,365 bytes, over 3,073"):
        download_module.extract_cifar(archive, target)
    assert not target.exists()


def test_command_line_downloads_a_named_set(mirrors, tmp_path, monkeypatch, capsys):
    from netbuilder.data.__main__ import main

    files = idx_files(1)
    pin(monkeypatch, "fashion-mnist", files)
    server = mirrors(files)
    assert main(["fashion-mnist", str(tmp_path), "--mirror", server.url]) == 0
    assert f"Fashion-MNIST is ready in {tmp_path}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["nosuch", str(tmp_path)])
