"""Downloading MNIST from its public mirrors into the user cache.

Each file arrives as `<name>.gz.part`, resumes with an HTTP Range request after a dropped
connection (or restarts when the server ignores ranges), is checked by the SHA-256 of its
*uncompressed* content (mirrors recompress, so .gz hashes differ) and only then renamed into
place. A failing mirror hands over to the next one.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable
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


def _download_one(name: str, sha256: str, dest: Path, mirrors, progress, cancelled) -> Path:
    final = dest / f"{name}.gz"
    if final.exists():
        try:
            if gz_content_sha256(final) == sha256:
                return final
        except DataError:
            pass
        final.unlink()  # damaged or stale copy: fetch a fresh one
    part = dest / f"{name}.gz.part"
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + f"/{name}.gz"
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
                got = gz_content_sha256(part)
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
    raise DownloadError(final, f"could not download {name}.gz from any mirror:\n  {tried}")


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
    dest = Path(dest_dir).expanduser() if dest_dir is not None else mnist_cache_dir()
    mirrors = list(MNIST_MIRRORS if mirrors is None else mirrors)
    cancelled = _cancel_check(cancel)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(dest, f"cannot create the folder ({exc.strerror or exc})") from None
    for name, sha256 in MNIST_FILES.items():
        if cancelled():
            raise DownloadCancelled(dest, "download cancelled; run it again to resume")
        _download_one(name, sha256, dest, mirrors, progress, cancelled)
    return dest
