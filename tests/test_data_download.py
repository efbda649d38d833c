"""download_mnist against local HTTP servers on 127.0.0.1 serving the shared MNIST files:
plain, corrupted, interrupted, range-ignoring, unreachable, cancelled. Never the internet."""

import gzip
import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

from netbuilder.data import (
    MNIST_FILES,
    DownloadCancelled,
    DownloadError,
    download_mnist,
    load_dataset,
)
from netbuilder.data import download as download_module

TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


class Mirror:
    """A tiny HTTP server for `files` {name: bytes}; behaviour knobs per instance."""

    def __init__(
        self, files, drop_after=None, honour_range=True, send_length=True, wrong_resume=False
    ):
        self.files = dict(files)
        self.drop_after = dict(drop_after or {})  # name -> bytes to send before dropping, once
        self.honour_range = honour_range
        self.send_length = send_length
        self.wrong_resume = wrong_resume  # answer a Range with 206 from byte 0
        self.requests = []  # (name, Range header or None)
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                rng = self.headers.get("Range")
                mirror.requests.append((name, rng))
                data = mirror.files.get(name)
                if data is None:
                    self.send_error(404, "no such file")
                    return
                start = 0
                if rng and mirror.honour_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if mirror.wrong_resume:
                        start = 0
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                if mirror.send_length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = mirror.drop_after.pop(name, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mnist/"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def names_requested(self):
        return [name for name, _ in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def gz_files(mnist_dir):
    return {f"{name}.gz": (mnist_dir / f"{name}.gz").read_bytes() for name in MNIST_FILES}


@pytest.fixture
def mirrors():
    started = []

    def start(files, **kw):
        m = Mirror(files, **kw)
        started.append(m)
        return m

    yield start
    for m in started:
        m.close()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture
def only(monkeypatch):
    """Limit download_mnist to some of the files, to keep a test fast."""

    def limit(*names):
        subset = {n.removesuffix(".gz"): MNIST_FILES[n.removesuffix(".gz")] for n in names}
        monkeypatch.setattr(download_module, "MNIST_FILES", subset)

    return limit


def assert_complete(folder, gz_files, names=None):
    """The folder holds exactly the shared files (byte for byte) and no partial files."""
    for name in names or gz_files:
        assert (folder / name).read_bytes() == gz_files[name], name
    assert not list(folder.glob("*.part"))


def test_file_table_matches_the_shared_readme(mnist_dir):
    readme = (mnist_dir / "README.md").read_text()
    for name, sha in MNIST_FILES.items():
        assert f"{sha}  {name}" in readme
        data = gzip.decompress((mnist_dir / f"{name}.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == sha


def test_download_reports_progress_and_loads(gz_files, mirrors, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path))
    good = mirrors(gz_files)
    calls = []
    folder = download_mnist(progress=lambda *a: calls.append(a), mirrors=[good.url])
    assert folder == tmp_path / "mnist"
    assert_complete(folder, gz_files)
    for name, data in gz_files.items():
        mine = [(done, total) for done, total, file_name in calls if file_name == name]
        assert mine[0] == (0, len(data)) and mine[-1] == (len(data), len(data))
        assert all(a[0] <= b[0] for a, b in zip(mine, mine[1:]))
    split = load_dataset("mnist")
    assert np.bincount(split.y_test).tolist() == TEST_COUNTS
    # a second call finds everything in place and fetches nothing
    download_mnist(mirrors=[good.url])
    assert len(good.requests) == 4


LABELS = ("train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def test_unknown_length_gives_none_total(gz_files, mirrors, tmp_path, only):
    only(*LABELS)
    good = mirrors(gz_files, send_length=False)
    totals = set()
    download_mnist(tmp_path, progress=lambda d, t, n: totals.add(t), mirrors=[good.url])
    assert totals == {None}
    assert_complete(tmp_path, gz_files, LABELS)


def test_corrupted_content_falls_back_to_the_next_mirror(gz_files, mirrors, tmp_path, only):
    only(*LABELS, "t10k-images-idx3-ubyte.gz")
    labels = gzip.decompress(gz_files["t10k-labels-idx1-ubyte.gz"])
    bad = dict(gz_files)
    # valid gzip, wrong content: only the content hash can catch it
    bad["t10k-labels-idx1-ubyte.gz"] = gzip.compress(labels[:-1] + bytes([(labels[-1] + 1) % 10]))
    # damaged gzip stream
    damaged = bytearray(gz_files["train-labels-idx1-ubyte.gz"])
    damaged[5000:5100] = bytes(100)
    bad["train-labels-idx1-ubyte.gz"] = bytes(damaged)
    corrupt, good = mirrors(bad), mirrors(gz_files)
    download_mnist(tmp_path, mirrors=[corrupt.url, good.url])
    assert_complete(tmp_path, gz_files, (*LABELS, "t10k-images-idx3-ubyte.gz"))
    assert sorted(good.names_requested()) == sorted(LABELS)


def test_every_mirror_corrupt_is_a_clear_error(gz_files, mirrors, tmp_path, only):
    only("t10k-labels-idx1-ubyte.gz")
    bad = dict(gz_files)
    bad["t10k-labels-idx1-ubyte.gz"] = gzip.compress(b"\x00\x00\x08\x01" + bytes(20))
    one, two = mirrors(bad), mirrors(bad)
    with pytest.raises(DownloadError) as err:
        download_mnist(tmp_path, mirrors=[one.url, two.url])
    message = str(err.value)
    assert "could not download t10k-labels-idx1-ubyte.gz from any mirror" in message
    assert f"{one.url}t10k-labels-idx1-ubyte.gz: content check failed" in message
    assert f"{two.url}t10k-labels-idx1-ubyte.gz: content check failed" in message
    assert not (tmp_path / "t10k-labels-idx1-ubyte.gz").exists()
    assert not list(tmp_path.glob("*.part"))


def test_interrupted_transfer_resumes_with_range(gz_files, mirrors, tmp_path, only):
    name = "train-images-idx3-ubyte.gz"
    only(name)
    half = len(gz_files[name]) // 2
    flaky = mirrors(gz_files, drop_after={name: half})
    download_mnist(tmp_path, mirrors=[flaky.url])
    assert_complete(tmp_path, gz_files, [name])
    assert flaky.requests == [(name, None), (name, f"bytes={half}-")]


def test_interrupted_transfer_restarts_when_ranges_are_ignored(gz_files, mirrors, tmp_path, only):
    name = "t10k-images-idx3-ubyte.gz"
    only(name)
    flaky = mirrors(gz_files, honour_range=False, drop_after={name: 100_000})
    calls = []
    download_mnist(tmp_path, progress=lambda *a: calls.append(a), mirrors=[flaky.url])
    assert_complete(tmp_path, gz_files, [name])
    assert flaky.requests == [(name, None), (name, "bytes=100000-")]
    assert [c[0] for c in calls].count(0) == 2  # counted from zero again


def test_unreachable_and_missing_mirrors_fall_through(gz_files, mirrors, tmp_path, only):
    only(*LABELS, "t10k-images-idx3-ubyte.gz")
    partial = mirrors({k: v for k, v in gz_files.items() if "labels" in k})
    good = mirrors(gz_files)
    download_mnist(tmp_path, mirrors=[closed_port_url(), partial.url, good.url])
    assert_complete(tmp_path, gz_files, (*LABELS, "t10k-images-idx3-ubyte.gz"))
    assert good.names_requested() == ["t10k-images-idx3-ubyte.gz"]


def test_no_mirror_reachable(tmp_path):
    dead = closed_port_url()
    with pytest.raises(DownloadError) as err:
        download_mnist(tmp_path, mirrors=[dead])
    message = str(err.value)
    assert f"{dead}train-images-idx3-ubyte.gz: URLError" in message
    assert "Connection refused" in message
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in message


def test_cancel_keeps_the_part_and_a_retry_resumes(gz_files, mirrors, tmp_path, only):
    name = "train-images-idx3-ubyte.gz"
    only(name)
    good = mirrors(gz_files)
    stop = threading.Event()

    def progress(done, total, file_name):
        if done > 200_000:
            stop.set()

    with pytest.raises(DownloadCancelled, match="cancelled"):
        download_mnist(tmp_path, progress=progress, mirrors=[good.url], cancel=stop)
    kept = (tmp_path / f"{name}.part").stat().st_size
    assert 200_000 < kept < len(gz_files[name])
    download_mnist(tmp_path, mirrors=[good.url], cancel=lambda: False)
    assert_complete(tmp_path, gz_files, [name])
    assert good.requests == [(name, None), (name, f"bytes={kept}-")]


def test_cancel_before_start(tmp_path):
    stop = threading.Event()
    stop.set()
    with pytest.raises(DownloadCancelled):
        download_mnist(tmp_path, mirrors=[closed_port_url()], cancel=stop)
    with pytest.raises(TypeError, match="cancel must be"):
        download_mnist(tmp_path, cancel="yes")


def test_damaged_cached_file_is_fetched_again(gz_files, mirrors, tmp_path, only):
    only(*LABELS)
    good = mirrors(gz_files)
    download_mnist(tmp_path, mirrors=[good.url])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    download_mnist(tmp_path, mirrors=[good.url])
    assert_complete(tmp_path, gz_files, LABELS)
    assert good.names_requested() == [*LABELS, "t10k-labels-idx1-ubyte.gz"]


def test_stale_part_from_another_file_is_replaced(gz_files, mirrors, tmp_path, only):
    only("t10k-labels-idx1-ubyte.gz")
    good = mirrors(gz_files)
    stale = gz_files["train-labels-idx1-ubyte.gz"][:1000]
    (tmp_path / "t10k-labels-idx1-ubyte.gz.part").write_bytes(stale)
    download_mnist(tmp_path, mirrors=[good.url])
    assert_complete(tmp_path, gz_files, ["t10k-labels-idx1-ubyte.gz"])
    assert good.requests == [
        ("t10k-labels-idx1-ubyte.gz", "bytes=1000-"),
        ("t10k-labels-idx1-ubyte.gz", None),
    ]


def test_unwritable_destination(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DownloadError, match="cannot create the folder"):
        download_mnist(blocker / "mnist", mirrors=[])


def test_command_line_download(gz_files, mirrors, tmp_path, only, capsys):
    from netbuilder.data.__main__ import main

    only(*LABELS)
    good = mirrors(gz_files)
    assert main([str(tmp_path), "--mirror", closed_port_url(), "--mirror", good.url]) == 0
    assert f"MNIST is ready in {tmp_path}" in capsys.readouterr().out
    assert_complete(tmp_path, gz_files, LABELS)
    assert main([str(tmp_path / "other"), "--mirror", closed_port_url()]) == 1
    assert "could not download train-labels-idx1-ubyte.gz" in capsys.readouterr().err


def test_resume_at_the_wrong_offset_starts_again(gz_files, mirrors, tmp_path, only):
    name = "t10k-labels-idx1-ubyte.gz"
    only(name)
    odd = mirrors(gz_files, wrong_resume=True)
    (tmp_path / f"{name}.part").write_bytes(gz_files[name][:1000])
    download_mnist(tmp_path, mirrors=[odd.url])
    assert_complete(tmp_path, gz_files, [name])
    assert odd.requests == [(name, "bytes=1000-"), (name, None)]
