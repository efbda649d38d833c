"""Every reader of outside files (IDX, .npz, weights, projects) refuses hostile files with one
line naming the file, in bounded memory: each runs in a subprocess whose address space is
capped (RLIMIT_AS), so an allocation the size a forged header claims would fail the test."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
MEMORY_CAP = 2 * 2**30  # far below what the forged headers claim, above numpy's own needs


def _capped(script: str, timeout=120) -> subprocess.CompletedProcess:
    prelude = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))
        sys.path[:0] = [{str(ROOT)!r}, {str(TESTS)!r}]
        """
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


ERRORS = {
    "idx": "DataError",
    "npz": "DataError",
    "weights": "CheckpointError",
    "project": "ProjectError",
}


def test_the_hostile_corpus_is_refused_in_one_line_each(tmp_path):
    proc = _capped(
        f"""
        import json, hostile_corpus
        results = {{}}
        for name, (path, reader) in hostile_corpus.build({str(tmp_path)!r}).items():
            try:
                value = hostile_corpus.read(path, reader)
                graph = getattr(value, "graph", None)
                problems = [m for _, m in graph.problems()] if graph is not None else None
                results[name] = ["loaded", reader, problems and problems[:3], len(problems or [])]
            except Exception as exc:
                results[name] = [type(exc).__name__, reader, str(exc), str(path)]
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked copy of
        # pytest, so it would count the test runner's own memory
        with open("/proc/self/status") as status:
            hwm = next(line for line in status if line.startswith("VmHWM:"))
        peak = int(hwm.split()[1]) * 1024
        print(json.dumps({{"results": results, "peak": peak}}))
        """
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["peak"] < 600 * 2**20, report["peak"]  # the bombs were never expanded
    for name, (kind, reader, message, extra) in report["results"].items():
        if reader == "project-problem":  # loads; the problem shows on its block, briefly
            assert kind == "loaded" and message, name
            assert all(len(m) < 400 for m in message), (name, message)
            continue
        expected = ERRORS[reader.split("-")[0]]
        assert kind == expected, (name, kind, message)
        assert "\n" not in message and message.startswith(extra), (name, message)
        assert len(message) < 400, (name, message)


_FUZZ = """
import io, gzip, zipfile, json
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
import hostile_corpus

FOLDER = {folder!r}
KIND = {kind!r}
ACCEPTED = {accepted}


def seed_file():
    if KIND == "idx":
        body = np.arange(2 * 3 * 4, dtype=np.uint8).tobytes()
        raw = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]) + body
        return raw
    if KIND == "idx-gz":
        return gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 5]) + bytes(range(5)))
    if KIND == "npz":
        buf = io.BytesIO()
        np.savez(buf, x_train=np.zeros((2, 4, 4), np.uint8), y_train=np.array([0, 1]),
                 x_test=np.zeros((1, 4, 4), np.uint8), y_test=np.array([1]))
        return buf.getvalue()
    if KIND == "weights":
        import engine
        buf = io.BytesIO()
        engine.save({{"w": engine.ones(3, 2), "b": engine.zeros(2), "n": [1, 2.5, None]}}, buf)
        return buf.getvalue()
    return open(hostile_corpus._TEMPLATE, "rb").read()


SEED = seed_file()
READER = {{"idx": "idx-images", "idx-gz": "idx-labels", "npz": "npz", "weights": "weights",
          "project": "project"}}[KIND]


@st.composite
def mutated(draw):
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "int"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(max_size=16))
        elif op == "int" and len(data) > i + 8:
            value = draw(st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1]))
            data[i:i + 8] = value.to_bytes(8, draw(st.sampled_from(["little", "big"])))
    return bytes(data)


@settings(max_examples={examples}, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(mutated())
def fuzz(data):
    path = FOLDER + "/fuzzed"
    with open(path, "wb") as f:
        f.write(data)
    try:
        hostile_corpus.read(path, READER)
    except ACCEPTED as exc:
        assert "\\n" not in str(exc), str(exc)


fuzz()
print("ok")
"""


@pytest.mark.parametrize(
    ("kind", "accepted"),
    [
        ("idx", "DataError"),
        ("idx-gz", "DataError"),
        ("npz", "DataError"),
        ("weights", "CheckpointError"),
        ("project", "ProjectError"),
    ],
)
def test_each_reader_survives_fuzzed_files_under_a_memory_cap(tmp_path, kind, accepted):
    imports = {
        "DataError": "from netbuilder.data import DataError",
        "CheckpointError": "from engine.serialization import CheckpointError",
        "ProjectError": "from netbuilder.graph.project import ProjectError",
    }[accepted]
    script = imports + "\n" + _FUZZ.format(
        folder=str(tmp_path), kind=kind, accepted=accepted, examples=120
    )
    proc = _capped(script, timeout=240)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-4000:]


def test_a_fifo_is_refused_by_every_reader_without_blocking(tmp_path):
    import engine
    from engine.serialization import CheckpointError
    from netbuilder.data import DataError, load_dataset
    from netbuilder.data.idx import read_idx
    from netbuilder.graph.project import ProjectError, load_project

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ProjectError, match="not a regular file"):
        load_project(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        engine.load(fifo)
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset(str(fifo))
    with pytest.raises(DataError, match="not a regular file"):
        read_idx(fifo, "images")


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"x_train": ("zeros", (4, 2, 28, 28), "uint8")},
         "x_train has shape (4, 2, 28, 28): read as channels-first (N, C, H, W), 2 channels"),
        ({"y_train": ("labels", 2**64 - 1, "uint64")},
         "labels out of range: y_train goes up to 18446744073709551615"),
        ({"y_train": ("labels", 1e30, "float64")}, "y_train goes up to 1e+30"),
    ],
)  # fmt: skip
def test_data_messages_say_what_the_file_really_holds(tmp_path, arrays, expected):
    import numpy as np

    from netbuilder.data import DataError, load_dataset

    data = {
        "x_train": np.zeros((4, 28, 28), np.uint8), "y_train": np.arange(4) % 2,
        "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.arange(2),
    }  # fmt: skip
    for key, (kind, value, dtype) in arrays.items():
        if kind == "zeros":
            data[key] = np.zeros(value, dtype)
        else:
            data[key] = np.array([0, value, 1, 0], dtype)
    path = tmp_path / "d.npz"
    np.savez(path, **data)
    with pytest.raises(DataError) as err:
        load_dataset(str(path))
    assert expected in str(err.value)
