"""Errors the engine raises where PyTorch raises: same exception type, same message."""

import pytest
import torch
import torch.nn.functional as TF

import engine
import engine.nn.functional as EF


def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return type(exc), str(exc)
    return None, None


CASES = {
    "int64 @ float32": lambda lib, F: lib.ones(2, 3, dtype=lib.int64) @ lib.ones(3, 2),
    "float32 @ float64": lambda lib, F: lib.ones(2, 3) @ lib.ones(3, 2, dtype=lib.float64),
    "mm float32, int64": lambda lib, F: lib.mm(lib.ones(2, 3), lib.ones(3, 2, dtype=lib.int64)),
    "matmul uint8 @ float32": lambda lib, F: lib.ones(2, 3, dtype=lib.uint8) @ lib.ones(3, 2),
    "dot float32, float64": lambda lib, F: lib.ones(3) @ lib.ones(3, dtype=lib.float64),
    "mv float32, float64": lambda lib, F: lib.ones(2, 3) @ lib.ones(3, dtype=lib.float64),
    "bmm float32, int64": lambda lib, F: lib.bmm(
        lib.ones(2, 2, 3), lib.ones(2, 3, 2, dtype=lib.int64)
    ),
    "conv2d stride=0": lambda lib, F: F.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(1, 1, 3, 3), stride=0
    ),
    "conv2d padding=-1": lambda lib, F: F.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(1, 1, 3, 3), padding=-1
    ),
    "conv2d stride=0 padding=-1": lambda lib, F: F.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(1, 1, 3, 3), stride=0, padding=-1
    ),
    "conv2d dilation=(1, 0)": lambda lib, F: F.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(1, 1, 3, 3), dilation=(1, 0)
    ),
    "conv2d groups=0": lambda lib, F: F.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(1, 1, 3, 3), groups=0
    ),
    "Conv2d(padding=-1)": lambda lib, F: lib.nn.Conv2d(1, 1, 3, padding=-1)(lib.ones(1, 1, 5, 5)),
    "softmax dim=5": lambda lib, F: F.softmax(lib.ones(2, 3), dim=5),
    "log_softmax dim=-3": lambda lib, F: F.log_softmax(lib.ones(2, 3), dim=-3),
    "Tensor.softmax dim=2": lambda lib, F: lib.ones(2, 3).softmax(dim=2),
    "expand (2) to (4, 3)": lambda lib, F: lib.ones(2).expand(4, 3),
    "expand (3, 1) to (4, 3)": lambda lib, F: lib.ones(3, 1).expand(4, 3),
    "expand (3, 2) to (3, 4)": lambda lib, F: lib.ones(3, 2).expand(3, 4),
    "load_state_dict of a list": lambda lib, F: lib.nn.Linear(2, 2).load_state_dict(
        [("weight", lib.ones(2, 2)), ("bias", lib.ones(2))]
    ),
    "argmax of an empty tensor": lambda lib, F: lib.ones(0).argmax(),
    "argmin of an empty tensor": lambda lib, F: lib.ones(0).argmin(),
    "argmax over an empty dim": lambda lib, F: lib.ones(0, 3).argmax(dim=0),
    "argmin over an empty dim": lambda lib, F: lib.argmin(lib.ones(3, 0), dim=1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_raises_what_torch_raises(case):
    want_type, want_text = _error(lambda: CASES[case](torch, TF))
    got_type, got_text = _error(lambda: CASES[case](engine, EF))
    assert want_type is not None, "torch accepts it"
    assert got_type is not None, f"the engine accepts it (torch: {want_text})"
    assert issubclass(got_type, want_type), (got_type, got_text)
    assert got_text.replace("engine", "torch") == want_text


def test_what_torch_accepts_still_works():
    assert engine.ones(3).expand(4, 3).shape == (4, 3)
    assert engine.ones(3, 1).expand(3, 4).shape == (3, 4)
    assert engine.ones(2, 3).softmax(dim=-1).shape == (2, 3)
    double = engine.ones(2, 3, dtype=engine.float64)
    assert (double @ double.T).dtype == engine.float64
    assert engine.ones(0, 3).argmax(dim=1).shape == (0,)
    assert int(engine.tensor(5.0).argmax()) == 0
