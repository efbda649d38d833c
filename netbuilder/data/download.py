"""Downloading the named data sets (MNIST, Fashion-MNIST, KMNIST, CIFAR-10) into the user cache.

Each file arrives as `<file>.part`, resumes with an HTTP Range request after a dropped
connection (or restarts when the server ignores ranges), is checked by its SHA-256 and only
then renamed into place. A failing mirror hands over to the next one. MNIST's files are
checked by the SHA-256 of their *uncompressed* content (its mirrors recompress, so .gz hashes
differ); the others by the SHA-256 of the file as published. CIFAR-10's archive is unpacked
into cifar-10-batches-bin (regular files of known names and bounded sizes only) and removed.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import DataError, DownloadCancelled, DownloadError

# The mirrors torchvision uses, then TensorFlow's.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# SHA-256 of the uncompressed IDX files.
MNIST_FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


@dataclass(frozen=True)
class Remote:
    """A data set NetBuilder can download by name."""

    name: str  # as given to load_dataset and the CLI; also the cache folder's name
    title: str
    mirrors: tuple[str, ...]
    # file name as served -> SHA-256: of the uncompressed content when `content_hash`, else
    # of the file itself
    files: dict
    content_hash: bool = False
    class_names: tuple[str, ...] = ()


# Published SHA-256 of the files as their hosts serve them (the values TensorFlow Datasets'
# checksum registry and other downloaders record; the sizes are 26,421,880 / 29,515 /
# 4,422,102 / 5,148 bytes for Fashion-MNIST, 170,052,171 for the CIFAR-10 archive).
REMOTES = {
    "mnist": Remote(
        "mnist",
        "MNIST",
        MNIST_MIRRORS,
        {f"{name}.gz": digest for name, digest in MNIST_FILES.items()},
        content_hash=True,
    ),
    "fashion-mnist": Remote(
        "fashion-mnist",
        "Fashion-MNIST",
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images-idx3-ubyte.gz": (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
            ),
            "train-labels-idx1-ubyte.gz": (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
            ),
        },
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),  # fmt: skip
    ),
    "kmnist": Remote(
        "kmnist",
        "Kuzushiji-MNIST",
        (
            "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        ),
        {
            "train-images-idx3-ubyte.gz": (
                "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"
            ),
            "train-labels-idx1-ubyte.gz": (
                "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"
            ),
        },
        # the romanised readings of the ten hiragana
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    ),
    "cifar10": Remote(
        "cifar10",
        "CIFAR-10",
        ("https://www.cs.toronto.edu/~kriz/",),
        {
            "cifar-10-binary.tar.gz": (
                "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
            )
        },
    ),
}

# What the CIFAR-10 archive may hold that is kept, and how big each file may be.
CIFAR_MEMBERS = {
    **{f"data_batch_{i}.bin": 30_730_000 for i in range(1, 6)},
    "test_batch.bin": 30_730_000,
    "batches.meta.txt": 64 * 1024,
}
MAX_ARCHIVE_MEMBERS = 1000

CACHE_ENV_VAR = "NETBUILDER_CACHE_DIR"
CHUNK = 1 << 16
TIMEOUT_S = 30
RESUME_TRIES = 5  # connections to one mirror for one file while each one makes progress
USER_AGENT = "netbuilder (python urllib)"

Progress = Callable[[int, "int | None", str], None]


def cache_dir() -> Path:
    """NetBuilder's per-user cache folder ($NETBUILDER_CACHE_DIR overrides it)."""
    override = os.environ.get(CACHE_ENV_VAR)
    return (
        Path(override).expanduser() if override else Path(platformdirs.user_cache_dir("netbuilder"))
    )


def mnist_cache_dir() -> Path:
    return cache_dir() / "mnist"


def dataset_cache_dir(name: str) -> Path:
    """Where the named data set lives once downloaded (for cifar10: the batches' folder)."""
    folder = cache_dir() / name
    return folder / "cifar-10-batches-bin" if name == "cifar10" else folder


def _cancel_check(cancel) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError("cancel must be a threading.Event or a callable returning bool")


def gz_content_sha256(path: Path) -> str:
    """SHA-256 of a gzip file's uncompressed content; DataError when the gzip is damaged.
    zlib directly: about three times faster than GzipFile on 47 MB."""
    digest = hashlib.sha256()
    inflater = None
    empty = True
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                empty = False
                while chunk:
                    if inflater is None:
                        inflater = zlib.decompressobj(wbits=31)  # gzip header, one member
                    digest.update(inflater.decompress(chunk))
                    chunk = b""
                    if inflater.eof:  # another member may follow
                        chunk, inflater = inflater.unused_data, None
    except zlib.error as exc:
        raise DataError(path, f"damaged gzip data ({exc})") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if inflater is not None or empty:
        raise DataError(path, "gzip data is truncated")
    return digest.hexdigest()


def _fetch(url: str, part: Path, progress: Progress | None, file_name: str, cancelled) -> None:
    """Bring `part` to the complete file at `url`, resuming from its current size.
    Raises OSError/HTTPException for network trouble, DownloadCancelled when cancelled."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            # the part file already holds everything (or more): let the hash decide
            return
        raise
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored the range: start again
        elif offset and not response.headers.get("Content-Range", "").startswith(
            f"bytes {offset}-"
        ):
            part.unlink()  # resumed somewhere else: the next try starts from zero
            raise http.client.HTTPException(
                f"the server resumed at {response.headers.get('Content-Range')!r}, "
                f"not at byte {offset}"
            )
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        done = offset
        with open(part, "ab" if offset else "wb") as out:
            if progress:
                progress(done, total, file_name)
            while True:
                if cancelled():
                    raise DownloadCancelled(part, "download cancelled; run it again to resume")
                block = response.read(CHUNK)
                if not block:
                    break
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total, file_name)
        if total is not None and done < total:
            raise http.client.IncompleteRead(b"", total - done)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(path, f"cannot read the file ({exc.strerror or exc})") from None
    return digest.hexdigest()


def _download_one(
    file: str, sha256: str, dest: Path, mirrors, progress, cancelled, content_hash=True
) -> Path:
    digest_of = gz_content_sha256 if content_hash else file_sha256
    final = dest / file
    if final.exists():
        try:
            if digest_of(final) == sha256:
                return final
        except DataError:
            pass
        final.unlink()  # damaged or stale copy: fetch a fresh one
    part = dest / f"{file}.part"
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + f"/{file}"
        tries = 0
        # a part file left by an earlier run or mirror may not match this one: one fresh try
        stale_part = part.exists()
        while True:
            tries += 1
            before = part.stat().st_size if part.exists() else 0
            try:
                _fetch(url, part, progress, final.name, cancelled)
            except DownloadCancelled:
                raise
            except urllib.error.HTTPError as exc:
                failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
                break
            except (OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", None) or exc
                grew = part.exists() and part.stat().st_size > before
                discarded = before > 0 and not part.exists()
                if (grew or discarded) and tries < RESUME_TRIES:
                    continue  # dropped midway: resume from where it stopped (or from zero)
                failures.append(f"{url}: {type(exc).__name__}: {reason}")
                break
            try:
                got = digest_of(part)
            except DataError as exc:
                got = f"unreadable ({exc.problem})"
            if got == sha256:
                os.replace(part, final)
                return final
            part.unlink()
            if stale_part:
                stale_part, tries = False, 0
                continue
            failures.append(
                f"{url}: content check failed (SHA-256 of the data {got[:16]}..., "
                f"expected {sha256[:16]}...)"
            )
            break
    if part.exists() and part.stat().st_size == 0:
        part.unlink()
    tried = "\n  ".join(failures) or "no mirrors given"
    raise DownloadError(final, f"could not download {file} from any mirror:\n  {tried}")


def download_mnist(
    dest_dir: str | Path | None = None,
    progress: Progress | None = None,
    mirrors: Iterable[str] | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
) -> Path:
    """Download the four MNIST files into `dest_dir` (default: the user cache, where
    load_dataset("mnist") looks) and return that folder. Files already there and intact are
    kept. `progress(bytes_done, bytes_total, file_name)` is called per chunk from the calling
    thread; bytes_total is None when the server does not say. `cancel` (an Event, or a callable
    returning True) stops the download with DownloadCancelled; a later call resumes it.
    Raises DownloadError naming each mirror's failure."""
    return download_dataset("mnist", dest_dir, progress, mirrors, cancel)


def download_dataset(
    name: str,
    dest_dir: str | Path | None = None,
    progress: Progress | None = None,
    mirrors: Iterable[str] | None = None,
    cancel: threading.Event | Callable[[], bool] | None = None,
) -> Path:
    """Download the data set `name` (a key of REMOTES) into `dest_dir` (default: its folder in
    the user cache) and return the folder load_dataset reads. Arguments as download_mnist."""
    remote = REMOTES.get(name)
    if remote is None:
        raise ValueError(f"no data set named {name!r}; known: {', '.join(REMOTES)}")
    dest = Path(dest_dir).expanduser() if dest_dir is not None else cache_dir() / name
    if mirrors is None:  # MNIST's from the module's tuple, read now (tests point it home)
        mirrors = MNIST_MIRRORS if name == "mnist" else remote.mirrors
    mirrors = list(mirrors)
    cancelled = _cancel_check(cancel)
    batches = dest / "cifar-10-batches-bin"
    if name == "cifar10" and _complete_cifar(batches):
        return batches
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(dest, f"cannot create the folder ({exc.strerror or exc})") from None
    files = remote.files
    if name == "mnist":  # the module's table, read now (tests narrow it to a few files)
        files = {f"{n}.gz": digest for n, digest in MNIST_FILES.items()}
    got = []
    for file, sha256 in files.items():
        if cancelled():
            raise DownloadCancelled(dest, "download cancelled; run it again to resume")
        got.append(
            _download_one(file, sha256, dest, mirrors, progress, cancelled, remote.content_hash)
        )
    if name == "cifar10":
        extract_cifar(got[0], batches)
        got[0].unlink()  # checked and unpacked: 170 MB the cache need not keep
        return batches
    return dest


def _complete_cifar(folder: Path) -> bool:
    return all((folder / member).is_file() for member in CIFAR_MEMBERS)


def extract_cifar(archive: Path, target: Path) -> Path:
    """Unpack the CIFAR-10 binary archive into `target` (replaced as a whole, never half
    written). Only regular files of the known names, within their size caps, are taken;
    links, devices and paths leaving the archive's folder are refused."""
    parent = target.parent
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                _extract_members(tar, archive, tmp)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError(archive, f"damaged archive ({exc})") from None
        missing = [m for m in CIFAR_MEMBERS if not (tmp / m).is_file()]
        if missing:
            raise DataError(archive, f"the archive lacks {', '.join(missing)}")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _extract_members(tar: tarfile.TarFile, archive: Path, out: Path) -> None:
    seen = 0
    for member in tar:  # streamed: a forged member count never lands in memory
        seen += 1
        if seen > MAX_ARCHIVE_MEMBERS:
            raise DataError(archive, f"more than {MAX_ARCHIVE_MEMBERS} entries: not CIFAR-10's")
        parts = [p for p in member.name.replace("\\", "/").split("/") if p not in ("", ".")]
        if member.name.startswith("/") or ".." in parts:
            raise DataError(archive, f"entry {member.name!r} points outside the archive")
        if member.issym() or member.islnk():
            raise DataError(archive, f"entry {member.name!r} is a link; refused")
        if member.isdir():
            continue
        if not member.isfile():
            raise DataError(archive, f"entry {member.name!r} is not a regular file; refused")
        base = parts[-1]
        cap = CIFAR_MEMBERS.get(base)
        if cap is None or len(parts) != 2:
            continue  # readme.html and the like: not needed
        if member.size > cap:
            raise DataError(
                archive, f"entry {member.name!r} is {member.size:,} bytes, over {cap:,}"
            )
        stream = tar.extractfile(member)
        with stream, open(out / base, "xb") as f:
            written = 0
            while chunk := stream.read(1 << 20):
                written += len(chunk)
                if written > cap:
                    raise DataError(archive, f"entry {member.name!r} is over {cap:,} bytes")
                f.write(chunk)
