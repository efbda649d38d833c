"""Coarse parallelism for the kernels: independent micro-batches split across a few threads.

numpy releases the GIL inside its copies, ufunc loops and BLAS calls, so two threads working on
different micro-batches of one convolution really run at once. Each call splits its items into
one contiguous range per thread and joins once, so a thread that another process holds off the
CPU delays the op by at most its own share (unlike a multi-threaded BLAS, which synchronises
inside every product). Results do not depend on the number of threads.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = [
    "available_cores",
    "default_threads",
    "num_threads",
    "set_num_threads",
    "parallel_for",
    "parallel_slices",
]

# Past four threads the micro-batches get too small for numpy's per-call cost to pay off.
MAX_DEFAULT_THREADS = 4


def available_cores():
    """Cores this process may run on (its CPU affinity where the system reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_threads():
    """OMP_NUM_THREADS when it holds a positive whole number (its first entry), as torch
    reads it; otherwise the available cores, at most MAX_DEFAULT_THREADS."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return min(available_cores(), MAX_DEFAULT_THREADS)


_threads = default_threads()
_executor = None
_executor_pid = None  # a forked child has the executor object but none of its threads
_lock = threading.Lock()


def num_threads():
    """Threads the kernels split their work across (the calling thread included)."""
    return _threads


def set_num_threads(n):
    """Let the kernels use n threads (the calling thread included); 1 turns parallelism off."""
    global _threads, _executor
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be at least 1, got {n}")
    with _lock:
        if _executor is not None and n != _threads:
            _executor.shutdown(wait=False)
            _executor = None
        _threads = n


def _helpers():
    global _executor, _executor_pid
    with _lock:
        if _executor is None or _executor_pid != os.getpid():
            _executor = ThreadPoolExecutor(
                max_workers=_threads - 1, thread_name_prefix="engine-kernel"
            )
            _executor_pid = os.getpid()
        return _executor


def _run(fn, start, stop):
    for i in range(start, stop):
        fn(i)


# set in the helper threads: a parallel_for called from inside one runs as a plain loop, since
# waiting there for the pool's other workers could wait for itself
_inside = threading.local()


def _run_with_errstate(errstate, fn, start, stop):
    # numpy's error settings are per thread: a caller's np.errstate must reach the helpers too
    _inside.helper = True
    with np.errstate(**errstate):
        _run(fn, start, stop)


def parallel_for(fn, count, parallel=True):
    """fn(i) for every i in range(count), each exactly once; fn must write disjoint outputs.

    The calling thread runs the first range itself, so with one thread (or one item, or
    parallel=False) this is a plain loop with no thread hand-off at all. Callers pass
    parallel=False for work too small to share: every numpy call a helper makes has to win
    the GIL back from the other thread, which costs more than a small op saves (LeNet-sized
    kernels ran 10-40% slower on two threads than on one).
    """
    parts = min(_threads, count) if parallel and not getattr(_inside, "helper", False) else 1
    if parts < 2:
        _run(fn, 0, count)
        return
    bounds = [count * p // parts for p in range(parts + 1)]
    futures = []
    try:
        pool = _helpers()
        errstate = np.geterr()
        for p in range(1, parts):
            futures.append(pool.submit(_run_with_errstate, errstate, fn, bounds[p], bounds[p + 1]))
    except RuntimeError:
        # the pool was shut down by a concurrent set_num_threads: do the rest here
        _run(fn, bounds[len(futures) + 1], count)
    try:
        _run(fn, bounds[0], bounds[1])
    finally:
        for f in futures:
            f.result()


def parallel_slices(fn, n, parallel=True, min_slice=1):
    """fn(start, stop) over range(n) cut into one contiguous slice per thread (fewer where a
    slice would be shorter than min_slice); a single fn(0, n) when parallel is False."""
    parts = max(1, min(_threads, n // max(1, min_slice))) if parallel else 1
    bounds = [n * p // parts for p in range(parts + 1)]
    parallel_for(lambda i: fn(bounds[i], bounds[i + 1]), parts)
