"""Safe file output, in one place: atomic writes and checks that an output cannot destroy an input.

Every writer of engine and NetBuilder goes through ``atomic_write`` (whole files) or
``open_output_stream`` (logs written as they grow), and command lines check their outputs with
``check_outputs`` before doing any work. The rules:

- only regular files are written: a folder, device, FIFO or socket at the path is refused;
- a symlink is written through to its target; the link itself stays;
- a whole-file write goes to an anonymous temp file (O_TMPFILE) in the target's folder and is
  renamed over the target: readers see the old file or the new one, never half of one, and a
  killed process leaves nothing behind. Where O_TMPFILE is missing the temp file is named
  ``.<name>.<pid>-<random>.tmp``, and the next write to that name removes the ones whose
  process is gone;
- an output that is the same file as an input or as another output (same path after
  resolving links, or the same inode) is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from pathlib import Path

__all__ = [
    "OutputError",
    "atomic_write",
    "check_output",
    "check_outputs",
    "memory_budget",
    "open_output_stream",
    "output_target",
    "same_file",
]

_TEMP_SUFFIX = ".tmp"


class OutputError(OSError):
    """An output that must not or cannot be written; str() is one line naming the file."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "cannot write the file"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def output_target(path) -> Path:
    """The file a write to `path` must change: symlinks followed to their target. Refuses a
    path at which something other than a regular file exists, or whose folder is missing."""
    path = Path(os.fspath(path))
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        st = None  # a missing folder is reported below
    except OSError as exc:
        raise OutputError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        what = _kind(st.st_mode)
        hint = "; give a file name inside it" if stat.S_ISDIR(st.st_mode) else ""
        raise OutputError(f"{path}: is {what}, not a regular file; it is not written{hint}")
    folder = target.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputError(
            f"{path}: the folder {folder} {what}; choose a path in an existing folder"
        )
    return target


def _file_mode(target: Path) -> int:
    """The replaced file's mode, else the one open() would give (umask applied)."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}{_TEMP_SUFFIX}")


def _clean_stale(target: Path) -> None:
    """Remove temp files an earlier, killed write to `target` left (their process is gone)."""
    pattern = re.compile(
        re.escape(f".{target.name}.") + r"(\d+)-[0-9a-f]{8}" + re.escape(_TEMP_SUFFIX)
    )
    try:
        names = os.listdir(target.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if not match:
            continue
        pid = int(match.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # that writer is still running
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        with contextlib.suppress(OSError):
            os.unlink(target.parent / name)


def _write_all(fd: int, data) -> None:
    view = memoryview(data).cast("B")
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _open_anonymous(folder: Path, mode: int) -> int | None:
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None  # the file system has no anonymous files: use a named temp file
        raise


def _link_anonymous(fd: int, name: Path) -> None:
    """Give the anonymous file a name. With a dir fd os.link calls linkat(AT_SYMLINK_FOLLOW),
    which follows /proc/self/fd/N to the open file (plain link() would not)."""
    dir_fd = os.open(name.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.link(
            f"/proc/self/fd/{fd}", name.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd,
            follow_symlinks=True,
        )
    finally:
        os.close(dir_fd)


def atomic_write(path, data) -> Path:
    """Replace the file at `path` (through a symlink: its target) by `data` (bytes-like), all
    or nothing. Returns the file written. Raises OutputError for a path that must not be
    written, the OSError itself when the write fails; no temp file is left either way."""
    target = output_target(path)
    mode = _file_mode(target)
    _clean_stale(target)
    fd = _open_anonymous(target.parent, mode)
    temp = None
    try:
        if fd is None:
            temp = _temp_name(target)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, mode)
        _write_all(fd, data)
        os.fsync(fd)
        if temp is None:
            temp = _temp_name(target)
            _link_anonymous(fd, temp)
        os.replace(temp, target)
        temp = None
    finally:
        if fd is not None:
            os.close(fd)
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return target


def open_output_stream(path, encoding: str = "utf-8"):
    """A text file opened for writing from its start, for logs that grow as they are written
    (not atomic, on purpose: a crash keeps what was logged). Same refusals as atomic_write;
    a FIFO or device is refused without blocking on it."""
    target = output_target(path)
    fd = os.open(
        target, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666
    )
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # it changed since the check
            raise OutputError(
                f"{path}: is {_kind(st.st_mode)}, not a regular file; it is not written"
            )
        os.set_blocking(fd, True)
        os.ftruncate(fd, 0)
        return open(fd, "w", encoding=encoding, buffering=1, closefd=True)  # noqa: SIM115
    except BaseException:
        os.close(fd)
        raise


def check_output(path) -> Path:
    """Refuse now what a later write to `path` would refuse, including a folder that cannot be
    written to: a long run should not fail only at its end."""
    target = output_target(path)
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{path}: cannot write in {target.parent} (permission denied); "
            "choose a folder you can write to"
        )
    return target  # (a read-only file is replaced like any other: the folder is what counts)


def _identity(path) -> tuple[str, tuple[int, int] | None]:
    real = os.path.realpath(os.fspath(path))
    try:
        st = os.stat(real)
        return real, (st.st_dev, st.st_ino)
    except OSError:
        return real, None


def same_file(a, b) -> bool:
    """True when `a` and `b` name the same file: the same path once links are resolved, or
    the same inode (a hard link, a bind mount)."""
    real_a, id_a = _identity(a)
    real_b, id_b = _identity(b)
    return real_a == real_b or (id_a is not None and id_a == id_b)


def _expand(label: str, path) -> list[tuple[str, Path]]:
    """An input folder stands for the files in it (an IDX data set folder)."""
    path = Path(os.fspath(path))
    if path.is_dir():
        try:
            return [(label, child) for child in sorted(path.iterdir())[:10_000] if child.is_file()]
        except OSError:
            return []
    return [(label, path)]


def check_outputs(outputs, inputs=()) -> list[Path]:
    """Check (label, path) outputs before any work: each must be writable (see check_output),
    none may be the same file as an input or as another output. Labels are what the user
    typed (an option such as --save-weights, or "the project"). Returns the targets."""
    outputs = [(label, Path(os.fspath(p))) for label, p in outputs if p is not None]
    expanded = [item for label, p in inputs if p is not None for item in _expand(label, p)]
    for label, path in outputs:
        for in_label, in_path in expanded:
            if same_file(path, in_path):
                raise OutputError(
                    f"{label} {path}: is the same file as {in_label} {in_path}; writing it "
                    "would destroy that input, so choose another name"
                )
    for i, (label, path) in enumerate(outputs):
        for other_label, other in outputs[:i]:
            if same_file(path, other):
                raise OutputError(
                    f"{label} {path}: is the same file as {other_label} {other}; give each "
                    "output its own name"
                )
    return [check_output(path) for _, path in outputs]


def memory_budget() -> int:
    """Bytes a reader may allocate for one file: half the machine's memory, and no more than
    an address-space limit (ulimit -v) leaves."""
    budget = 8 * 2**30
    with contextlib.suppress(ValueError, OSError, AttributeError):
        budget = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            budget = min(budget, soft // 2)
    except (ImportError, ValueError, OSError):
        pass
    override = os.environ.get("ENGINE_MEMORY_BUDGET")
    if override and override.isdigit():
        budget = min(budget, int(override))
    return budget
