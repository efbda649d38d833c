"""Record-and-replay harness for programs written against PyTorch: a program runs twice, as
written (``import torch``) and with only its import lines changed to engine's; both runs must
print the same text with the same numbers (float32 tolerance) and end with the same weights.

Randomness is the one thing the frameworks cannot share, so the harness records every random
draw of the torch run (torch.randn/rand/randint/randperm/normal/..., each layer's default init,
nn.init calls, dropout masks, the DataLoader's shuffles) and the engine run replays them in the
same order; Python's and numpy's global generators are seeded alike.
"""

import contextlib
import gzip
import io
import random
import re
from collections import defaultdict

import numpy as np
from engine_parity import torch

import engine
import engine.nn
import engine.nn.functional
import engine.utils.data.sampler

# ---------------------------------------------------------------------- the harness
_IMPORT_SWAPS = [
    (r"^import torch$", "import engine as torch"),
    (r"^import torch\.([\w.]+) as (\w+)$", r"import engine.\1 as \2"),
    (r"^import torch\.([\w.]+)$", r"import engine.\1"),  # the program's `import torch` binds torch
    (r"^from torch import (.*)$", r"from engine import \1"),
    (r"^from torch\.([\w.]+) import (.*)$", r"from engine.\1 import \2"),
]

_RANDOM_FACTORIES = ("randn", "rand", "randint", "randperm", "rand_like", "randn_like", "normal")
_LAYERS = ("Linear", "Conv2d", "Embedding")
_TENSOR_FILLS = ("normal_", "uniform_")  # x.normal_() in user code draws like an init
_INITS = ("uniform_", "normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
          "xavier_normal_")


def engine_source(source):
    """The tutorial with each torch import line swapped for engine's; nothing else changes."""
    out = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(("import torch", "from torch")):
            indent = line[: len(line) - len(line.lstrip())]
            for pattern, repl in _IMPORT_SWAPS:
                new, n = re.subn(pattern, repl, stripped)
                if n:
                    line = indent + new
                    break
            else:
                raise AssertionError(f"no engine twin for import line {stripped!r}")
        out.append(line)
    return "\n".join(out)


@contextlib.contextmanager
def _patched(obj, name, value):
    own = name in vars(obj)  # Tensor inherits most methods from its op mixins
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if own:
            setattr(obj, name, old)
        else:
            delattr(obj, name)


@contextlib.contextmanager
def recording(draws):
    """torch run: keep a copy of every random draw, by kind, in call order."""
    with contextlib.ExitStack() as stack:
        for name in _RANDOM_FACTORIES:
            if name == "randperm":
                continue  # below
            orig = getattr(torch, name)

            def rec(*args, _orig=orig, _name=name, **kwargs):
                t = _orig(*args, **kwargs)
                draws[_name].append(t.detach().numpy().copy())
                return t

            stack.enter_context(_patched(torch, name, rec))

        # torch's RandomSampler draws one extra permutation per pass and keeps none of it when
        # the pass is a whole number of epochs; engine skips that draw, so it is not recorded
        sampler_pass = []
        orig_randperm = torch.randperm

        def rec_randperm(*args, **kwargs):
            t = orig_randperm(*args, **kwargs)
            if sampler_pass:
                count, full, rest = sampler_pass[-1]
                count[0] += 1
                if count[0] > full and rest == 0:
                    return t
            draws["randperm"].append(t.numpy().copy())
            return t

        orig_iter = torch.utils.data.RandomSampler.__iter__

        def rec_iter(self):
            inner = orig_iter(self)
            full, rest = divmod(self.num_samples, len(self.data_source))
            count = [0]
            while True:
                sampler_pass.append((count, full, rest))
                try:
                    index = next(inner)
                except StopIteration:
                    return
                finally:
                    sampler_pass.pop()
                yield index

        orig_dropout = torch.nn.functional.dropout

        def rec_dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
            out = orig_dropout(input, p, training, inplace)
            if training and 0 < p < 1:
                draws["dropout"].append((out != 0).detach().numpy().copy())
            return out

        stack.enter_context(_patched(torch.nn.functional, "dropout", rec_dropout))
        stack.enter_context(_patched(torch, "randperm", rec_randperm))
        stack.enter_context(_patched(torch.utils.data.RandomSampler, "__iter__", rec_iter))
        in_layer = []
        for layer in _LAYERS:
            cls = getattr(torch.nn, layer)
            orig = cls.reset_parameters

            def rec_init(self, _orig=orig, _layer=layer):
                in_layer.append(True)
                try:
                    _orig(self)
                finally:
                    in_layer.pop()
                params = [p for p in (self.weight, getattr(self, "bias", None)) if p is not None]
                draws[_layer].append([p.detach().numpy().copy() for p in params])

            stack.enter_context(_patched(cls, "reset_parameters", rec_init))
        for name in _INITS:
            orig = getattr(torch.nn.init, name)

            def rec_user_init(tensor, *args, _orig=orig, **kwargs):
                outer = not in_layer
                in_layer.append(True)
                try:
                    out = _orig(tensor, *args, **kwargs)
                finally:
                    in_layer.pop()
                if outer:
                    draws["init"].append(tensor.detach().numpy().copy())
                return out

            stack.enter_context(_patched(torch.nn.init, name, rec_user_init))
        for name in _TENSOR_FILLS:
            orig = getattr(torch.Tensor, name)

            def rec_fill(self, *args, _orig=orig, **kwargs):
                out = _orig(self, *args, **kwargs)
                if not in_layer:
                    draws["init"].append(self.detach().numpy().copy())
                return out

            stack.enter_context(_patched(torch.Tensor, name, rec_fill))
        yield


def _take(draws, kind, shape):
    assert draws[kind], f"engine drew more {kind} values than torch did"
    value = draws[kind].pop(0)
    assert value.shape == tuple(shape), f"{kind}: engine drew {shape}, torch drew {value.shape}"
    return value


@contextlib.contextmanager
def replaying(draws):
    """engine run: each random draw returns torch's recorded values (same shape and dtype
    checked: the engine's own call still decides both)."""
    with contextlib.ExitStack() as stack:
        for name in _RANDOM_FACTORIES:
            orig = getattr(engine, name)

            def rep(*args, _orig=orig, _name=name, **kwargs):
                t = _orig(*args, **kwargs)
                t._data[...] = _take(draws, _name, t._data.shape)
                return t

            stack.enter_context(_patched(engine, name, rep))

        def rep_perm(n, generator=None):
            return _take(draws, "randperm", (n,)).astype(np.int64)

        stack.enter_context(_patched(engine.utils.data.sampler, "randperm", rep_perm))

        def rep_dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
            if not (training and 0 < p < 1):
                return input
            keep = _take(draws, "dropout", input._data.shape).astype(input._data.dtype)
            return input * engine.tensor(keep / (1 - p), dtype=input.dtype)

        stack.enter_context(_patched(engine.nn.functional, "dropout", rep_dropout))
        in_layer = []
        for layer in _LAYERS:
            cls = getattr(engine.nn, layer)
            orig = cls.reset_parameters

            def rep_init(self, _orig=orig, _layer=layer):
                in_layer.append(True)
                try:
                    _orig(self)
                finally:
                    in_layer.pop()
                params = [p for p in (self.weight, getattr(self, "bias", None)) if p is not None]
                values = draws[_layer].pop(0)
                for p, v in zip(params, values, strict=True):
                    assert p._data.shape == v.shape
                    p._data[...] = v

            stack.enter_context(_patched(cls, "reset_parameters", rep_init))
        for name in _INITS:
            orig = getattr(engine.nn.init, name)

            def rep_user_init(tensor, *args, _orig=orig, **kwargs):
                outer = not in_layer
                in_layer.append(True)  # an init built on another (xavier on uniform_) draws once
                try:
                    out = _orig(tensor, *args, **kwargs)
                finally:
                    in_layer.pop()
                if outer:
                    tensor._data[...] = _take(draws, "init", tensor._data.shape)
                return out

            stack.enter_context(_patched(engine.nn.init, name, rep_user_init))
        for name in _TENSOR_FILLS:
            orig = getattr(engine.Tensor, name)

            def rep_fill(self, *args, _orig=orig, **kwargs):
                outer = not in_layer
                in_layer.append(True)
                try:
                    out = _orig(self, *args, **kwargs)
                finally:
                    in_layer.pop()
                if outer:
                    self._data[...] = _take(draws, "init", self._data.shape)
                return out

            stack.enter_context(_patched(engine.Tensor, name, rep_fill))
        yield
    left = {k: len(v) for k, v in draws.items() if v}
    assert not left, f"torch drew random values the engine never asked for: {left}"


def run_tutorial(source, tmp_path, env=None):
    """Run ``source`` with torch, then with engine imports; return both (stdout, namespace)."""
    draws = defaultdict(list)
    results = {}
    for lib, text in (("torch", source), ("engine", engine_source(source))):
        random.seed(0)
        np.random.seed(0)
        torch.manual_seed(0)
        engine.manual_seed(0)
        workdir = tmp_path / lib
        workdir.mkdir()
        namespace = {"__name__": f"tutorial_{lib}", **(env or {})}
        buf = io.StringIO()
        with contextlib.chdir(workdir), contextlib.redirect_stdout(buf):
            if lib == "torch":
                try:
                    with recording(draws):
                        exec(compile(text, f"<{lib} tutorial>", "exec"), namespace)
                finally:
                    # set_default_device installs a global torch function mode: undo it
                    torch.set_default_device(None)
            else:
                with replaying(draws):
                    exec(compile(text, f"<{lib} tutorial>", "exec"), namespace)
        results[lib] = (buf.getvalue(), namespace)
    return results["torch"], results["engine"]


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")


def _normalise(text):
    text = text.replace("engine", "torch")
    return re.sub(r"0x[0-9a-fA-F]+", "0x?", text)


def assert_same_output(torch_out, engine_out, rtol=1e-4, atol=1e-5, chaotic_from=None):
    """Same text line by line; numbers compared with a float32 tolerance. From line
    ``chaotic_from`` on (0-based) the tolerance is 2% or 5e-3: an optimizer jittering around its
    optimum amplifies float32 rounding (summation order) whatever the framework; RMSprop's steps
    of lr=1e-3 move near-zero coefficients by about that much."""
    t_lines = _normalise(torch_out).splitlines()
    e_lines = _normalise(engine_out).splitlines()
    assert len(t_lines) == len(e_lines), (
        f"torch printed {len(t_lines)} lines, engine {len(e_lines)}:\n--- torch\n{torch_out}"
        f"\n--- engine\n{engine_out}"
    )
    for i, (t, e) in enumerate(zip(t_lines, e_lines)):
        if chaotic_from is not None and i >= chaotic_from:
            rtol, atol = max(rtol, 2e-2), max(atol, 5e-3)
        t_skel = " ".join(_NUMBER.sub("#", t).split())
        e_skel = " ".join(_NUMBER.sub("#", e).split())
        assert t_skel == e_skel, f"line {i + 1} differs:\ntorch:  {t}\nengine: {e}"
        t_nums = [float(x) for x in _NUMBER.findall(t)]
        e_nums = [float(x) for x in _NUMBER.findall(e)]
        np.testing.assert_allclose(
            e_nums, t_nums, rtol=rtol, atol=atol,
            err_msg=f"line {i + 1}:\ntorch:  {t}\nengine: {e}",
        )


def as_numpy(x):
    if isinstance(x, (engine.Tensor, torch.Tensor)):
        return np.asarray(x.detach().numpy())
    return np.asarray(x)


def assert_same_values(t_ns, e_ns, names, rtol=1e-4, atol=1e-5):
    for name in names:
        t, e = t_ns[name], e_ns[name]
        if hasattr(t, "state_dict"):
            t_sd, e_sd = t.state_dict(), e.state_dict()
            assert list(t_sd) == list(e_sd), f"{name}: state_dict keys differ"
            for k in t_sd:
                np.testing.assert_allclose(
                    as_numpy(e_sd[k]), as_numpy(t_sd[k]), rtol=rtol, atol=atol,
                    err_msg=f"{name}.{k}",
                )
        else:
            np.testing.assert_allclose(
                as_numpy(e), as_numpy(t), rtol=rtol, atol=atol, err_msg=name
            )


def check_tutorial(
    source, tmp_path, names=(), env=None, rtol=1e-4, atol=1e-5, chaotic_from=None
):
    (t_out, t_ns), (e_out, e_ns) = run_tutorial(source, tmp_path, env)
    assert t_out.strip(), "the tutorial printed nothing"
    assert_same_output(t_out, e_out, rtol, atol, chaotic_from)
    if chaotic_from is not None:
        rtol, atol = max(rtol, 2e-2), max(atol, 5e-3)
    assert_same_values(t_ns, e_ns, names, rtol, atol)
    return t_out, e_out, t_ns, e_ns


@contextlib.contextmanager
def single_torch_thread():
    """Tiny ops: torch's thread pool only fights the other processes on a busy machine (30x
    slower measured on 2 shared cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _read_idx(path, count, item_bytes, header):
    with gzip.open(path) as f:
        f.read(header)
        return np.frombuffer(f.read(count * item_bytes), np.uint8)


def mnist_arrays(mnist_dir, train=2000, test=1000):
    """The first ``train`` training and ``test`` test images (uint8, (N, 28, 28)) and labels,
    as ``mnist_x_train``, ``mnist_y_train``, ``mnist_x_test``, ``mnist_y_test``."""

    def part(prefix, count):
        x = _read_idx(mnist_dir / f"{prefix}-images-idx3-ubyte.gz", count, 784, 16)
        y = _read_idx(mnist_dir / f"{prefix}-labels-idx1-ubyte.gz", count, 1, 8)
        return x.reshape(count, 28, 28), y.astype(np.int64)

    x_train, y_train = part("train", train)
    x_test, y_test = part("t10k", test)
    return {"mnist_x_train": x_train, "mnist_y_train": y_train,
            "mnist_x_test": x_test, "mnist_y_test": y_test}
