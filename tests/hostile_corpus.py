"""A small corpus of hostile input files, generated (no binaries are committed).

`build(folder)` writes every file and returns {name: (path, reader)}, reader being one of
"idx-images", "idx-labels", "npz", "weights", "project". Each file is built to make a careless
reader allocate far more than the file holds, decompress without end, overflow, or crash; every
one must be refused with a one-line error in bounded memory. Run it to keep a copy:
`python3 tests/hostile_corpus.py FOLDER`.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

_TEMPLATE = Path(__file__).resolve().parent.parent / "resources" / "templates" / "lenet.json"


def _idx_header(type_code: int, dims) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def _zeros_gzip(header: bytes, zero_bytes: int) -> bytes:
    """gzip of header + zero_bytes zeros, written in pieces: a bomb of ~1000:1."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as f:
        f.write(header)
        chunk = bytes(1 << 20)
        left = zero_bytes
        while left:
            f.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
    return out.getvalue()


def _npy(shape, dtype="<u1", body: bytes = b"", header_text: str | None = None) -> bytes:
    text = header_text or repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    text += " " * ((64 - (len(text) + 11) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + body


def _npz(members: dict[str, bytes], compress=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compress) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def _valid_npz_members() -> dict[str, bytes]:
    members = {}
    for key, value in {
        "x_train": np.zeros((4, 8, 8), np.uint8),
        "y_train": np.arange(4, dtype=np.int64),
        "x_test": np.zeros((2, 8, 8), np.uint8),
        "y_test": np.arange(2, dtype=np.int64),
    }.items():
        buf = io.BytesIO()
        np.save(buf, value)
        members[f"{key}.npy"] = buf.getvalue()
    return members


def _safetensors(header: dict, body: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def _project(change) -> bytes:
    data = json.loads(_TEMPLATE.read_text())
    data = copy.deepcopy(data)
    change(data)
    return json.dumps(data).encode()


def _chain(n: int, cycle: bool) -> dict:
    nodes = [{"id": "n0", "type": "Input", "name": "input1", "params": {"shape": [8]}}]
    edges = []
    for i in range(1, n):
        nodes.append({"id": f"n{i}", "type": "ReLU", "name": f"relu{i}", "params": {}})
        edges.append({"src": f"n{i - 1}", "dst": f"n{i}", "dst_port": 0})
    if cycle:
        edges[0] = {"src": f"n{n - 1}", "dst": "n1", "dst_port": 0}
    return {"format": "netbuilder-project", "version": 1,
            "graph": {"name": "Net", "nodes": nodes, "edges": edges}}  # fmt: skip


def _set(path: str, value):
    def change(data):
        *keys, last = path.split("/")
        node = data
        for key in keys:
            node = node[int(key) if key.isdigit() else key]
        node[int(last) if last.isdigit() else last] = value

    return change


def _concat_port(data):
    data["graph"]["nodes"].append({"id": "c", "type": "Concat", "name": "cat", "params": {}})
    data["graph"]["edges"].append({"src": "n1", "dst": "c", "dst_port": 1_000_000_000})


def files() -> dict[str, tuple[bytes, str]]:
    """name -> (content, reader)."""
    big = 2**32 - 1
    corpus = {
        # IDX
        "idx-gzip-bomb.gz": (
            _zeros_gzip(_idx_header(0x08, [60000, 28, 28]), 64 * 2**20), "idx-images"),
        "idx-huge-claim": (_idx_header(0x08, [big, big, big]) + bytes(64), "idx-images"),
        "idx-huge-claim.gz": (gzip.compress(_idx_header(0x08, [big, big, big]) + bytes(64)),
                              "idx-images"),
        "idx-product-past-2-64": (_idx_header(0x08, [big] * 4) + bytes(16), "idx-images"),
        "idx-truncated-header": (bytes([0, 0, 8, 3, 0, 0]), "idx-images"),
        "idx-zero-dims": (_idx_header(0x08, [0, 28, 28]), "idx-images"),
        "idx-labels-huge": (_idx_header(0x08, [big]) + bytes(8), "idx-labels"),
        "idx-damaged.gz": (gzip.compress(_idx_header(0x08, [2, 2, 2]) + bytes(8))[:-12] + b"x" * 12,
                           "idx-images"),
        "idx-empty": (b"", "idx-labels"),
        # .npz
        "npz-huge-shape.npz": (_npz({**_valid_npz_members(),
                                     "x_train.npy": _npy((10**6, 10**6, 10**6))}), "npz"),
        "npz-zip-bomb.npz": (_npz({**_valid_npz_members(),
                                   "x_train.npy": _npy((2**14, 64, 64), body=bytes(2**26))}),
                             "npz"),
        "npz-malformed-header.npz": (
            _npz({**_valid_npz_members(),
                  "x_train.npy": _npy((), header_text="{'descr': '<u1', 'shape': (1,")}),
            "npz"),
        "npz-unterminated-string.npz": (
            _npz({**_valid_npz_members(), "x_train.npy": _npy((), header_text="{'descr': '")}),
            "npz"),
        "npz-object-array.npz": (_npz({**_valid_npz_members(),
                                       "x_train.npy": _npy((2,), dtype="|O", body=b"\x80\x04N.")}),
                                 "npz"),
        "npz-negative-shape.npz": (_npz({**_valid_npz_members(),
                                         "x_train.npy": _npy((-1, -4))}), "npz"),
        "npz-stored-short.npz": (_npz({**_valid_npz_members(),
                                       "x_train.npy": _npy((100, 28, 28), body=bytes(10))},
                                      zipfile.ZIP_STORED), "npz"),
        "npz-not-zip.npz": (b"PK\x03\x04" + bytes(100), "npz"),
        # weights
        "weights-huge-shape.safetensors": (_safetensors(
            {"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 16]}}, bytes(16)),
            "weights"),
        "weights-offsets-past-end.safetensors": (_safetensors(
            {"w": {"dtype": "F32", "shape": [2**28], "data_offsets": [0, 2**30]}}, bytes(16)),
            "weights"),
        "weights-header-length-huge.safetensors": (struct.pack("<Q", 2**62) + b"{}", "weights"),
        "weights-deep-json.safetensors": (struct.pack("<Q", 200_000) + b"{" + b'"a":[' * 49_999
                                          + b"]" * 49_999 + b"}" + b" ", "weights"),
        "weights-pickle.pt": (b"\x80\x04\x95" + bytes(20), "weights"),
        # projects
        "project-groups-0.json": (_project(_set("graph/nodes/1/params/groups", 0)),
                                  "project-problem"),
        "project-huge-int.json": (_project(_set("graph/nodes/1/params/out_channels",
                                                int("9" * 4300))), "project"),
        "project-position-1e154.json": (_project(_set("graph/nodes/1/pos", [1e154, 0])),
                                        "project"),
        "project-lone-surrogate.json": (_project(_set("graph/name", "\ud800")), "project"),
        "project-concat-port-1e9.json": (_project(_concat_port), "project"),
        "project-huge-shape.json": (_project(_set("graph/nodes/0/params/shape", [1, 10**9, 10**9])),
                                    "project-problem"),
        "project-cycle-10000.json": (json.dumps(_chain(10_000, cycle=True)).encode(),
                                     "project-problem"),
        "project-deep-json.json": (b"[" * 100_000 + b"]" * 100_000, "project"),
        "project-too-many-blocks.json": (json.dumps(_chain(10_001, cycle=False)).encode(),
                                         "project"),
    }  # fmt: skip
    return corpus


def build(folder) -> dict[str, tuple[Path, str]]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (content, reader) in files().items():
        path = folder / name
        path.write_bytes(content)
        out[name] = (path, reader)
    return out


def read(path, reader: str):
    """Open `path` with the reader under test, as the product does."""
    if reader.startswith("idx"):
        from netbuilder.data.idx import read_idx

        return read_idx(path, reader.split("-")[1])
    if reader == "npz":
        from netbuilder.data.datasets import load_npz

        return load_npz(path)
    if reader == "weights":
        import engine

        return engine.load(path)
    from netbuilder.graph.project import load_project

    return load_project(path)


if __name__ == "__main__":
    for name in build(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus"):
        print(name)
