"""LeNet on real MNIST: the engine against PyTorch CPU, in one process.

    python3 benchmarks/lenet_vs_torch.py                 # ms/step, ratio, per-op split, memory
    python3 benchmarks/lenet_vs_torch.py --epoch         # one epoch each: test accuracy, seconds
    python3 benchmarks/lenet_vs_torch.py --data DIR      # another MNIST IDX folder
    python3 benchmarks/lenet_vs_torch.py --ab-kernels OTHER/engine/_kernels
        # this tree's kernels (B) against another checkout's (A), alternating with PyTorch

The recipe: LeNet (conv 6@5x5, relu, maxpool 2; conv 16@5x5, relu, maxpool 2; fc 120, 84, 10
with relu), input padded 28 -> 32 and normalised, cross-entropy, SGD lr 0.01 momentum 0.9,
batch 64. Both frameworks start from the same weights and see the same batches. Timings
alternate chunks of steps (engine, PyTorch, engine, PyTorch ...) and report medians, so a
machine shared with other work slows both alike; a short pause before each chunk lets the other
library's idle worker threads stop spinning. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import statistics
import struct
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "mnist"
MEAN, STD = 0.1307, 0.3081

try:
    import torch
except ImportError:  # pragma: no cover - the benchmark needs PyTorch to compare with
    sys.exit("this benchmark compares with PyTorch: pip install torch")

sys.path.insert(0, str(REPO))
import engine  # noqa: E402
import engine.nn as enn  # noqa: E402
import engine.optim as eoptim  # noqa: E402
from engine.autograd import graph as egraph  # noqa: E402


# ----------------------------------------------------------------------------- data
def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    (magic,) = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(folder: Path):
    """(x_train, y_train, x_test, y_test): float32 (N, 1, 32, 32) normalised, int64 labels."""
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip
    paths = []
    for name in names:
        p = folder / f"{name}.gz"
        if not p.exists():
            sys.exit(f"MNIST file {p} not found; pass --data with an MNIST IDX folder")
        paths.append(p)
    out = []
    for images, labels in ((paths[0], paths[1]), (paths[2], paths[3])):
        x = read_idx(images)
        # pad with black (0) like torchvision's Pad(2), then normalise
        padded = np.zeros((x.shape[0], 1, 32, 32), dtype=np.float32)
        padded[:, 0, 2:30, 2:30] = x
        padded *= np.float32(1 / 255)
        padded -= np.float32(MEAN)
        padded *= np.float32(1 / STD)
        out += [padded, read_idx(labels).astype(np.int64)]
    return out


# ----------------------------------------------------------------------------- models
def torch_lenet():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip


def engine_lenet(like):
    nn = enn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip
    # same starting weights as the PyTorch twin
    state = {k: engine.from_numpy(v.detach().numpy().copy()) for k, v in like.state_dict().items()}
    model.load_state_dict(state)
    return model


class Runner:
    """One framework's model, loss and optimizer, and its training step."""

    def __init__(self, name, model, lib, optim_mod):
        self.name = name
        self.model = model
        self.lib = lib
        self.loss_fn = lib.nn.CrossEntropyLoss()
        self.opt = optim_mod.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def batch(self, x, y):
        return self.lib.from_numpy(x), self.lib.from_numpy(y)

    def step(self, xb, yb):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        return loss

    def accuracy(self, x, y, batch=1000):
        correct = 0
        with self.lib.no_grad():
            for s in range(0, len(x), batch):
                xb, _ = self.batch(x[s : s + batch], y[s : s + batch])
                pred = self.model(xb).argmax(1).numpy()
                correct += int((pred == y[s : s + batch]).sum())
        return correct / len(x)


def make_runners(seed=0):
    torch.manual_seed(seed)
    tmodel = torch_lenet()
    emodel = engine_lenet(tmodel)
    return Runner("engine", emodel, engine, eoptim), Runner("torch", tmodel, torch, torch.optim)


class Batches:
    """Shuffled batches of the training set, the same sequence for every caller."""

    def __init__(self, x, y, batch, seed=0):
        self.x, self.y, self.batch = x, y, batch
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))
        self.pos = 0

    def take(self, count):
        out = []
        for _ in range(count):
            if self.pos + self.batch > len(self.order):
                self.order = self.rng.permutation(len(self.x))
                self.pos = 0
            idx = np.sort(self.order[self.pos : self.pos + self.batch])
            self.pos += self.batch
            out.append((self.x[idx], self.y[idx]))
        return out


def run_chunk(runner, batches, step_times=None):
    """Seconds per step over prepared batches (conversion to tensors outside the clock);
    each step's own seconds are appended to step_times when given."""
    prepared = [runner.batch(x, y) for x, y in batches]
    time.sleep(0.15)  # idle worker threads of the other library stop spinning
    tick = time.perf_counter
    start = last = tick()
    for xb, yb in prepared:
        runner.step(xb, yb)
        if step_times is not None:
            now = tick()
            step_times.append(now - last)
            last = now
    return (tick() - start) / len(prepared)


def alternate(runners, data, batch, rounds, steps):
    """Median ms/step of each runner over alternated chunks; also every step's ms."""
    src = Batches(data[0], data[1], batch)
    for r in runners:  # warm-up: first-touch allocations, BLAS thread start
        for x, y in src.take(3):
            r.step(*r.batch(x, y))
    times = defaultdict(list)
    steps_ms = defaultdict(list)
    for _ in range(rounds):
        chunk = src.take(steps)
        for r in runners:
            own = []
            times[r.name].append(run_chunk(r, chunk, own) * 1e3)
            steps_ms[r.name] += [v * 1e3 for v in own]
    return {name: statistics.median(v) for name, v in times.items()}, times, steps_ms


def quiet_estimate(step_ms):
    """The 10th percentile of single steps: what a step costs when no other process interferes
    (a busy shared machine stretches the median, PyTorch's two threads more than numpy)."""
    return float(np.percentile(step_ms, 10))


# ----------------------------------------------------------------------------- profile
CATEGORY = {
    "Conv2d": "conv",
    "MaxPool2d": "pool",
    "Linear": "linear",
    "ReLU": "activation",
    "Flatten": "flatten",
    "CrossEntropyLoss": "loss",
    "ConvolutionBackward0": "conv",
    "MaxPool2DWithIndicesBackward0": "pool",
    "AddmmBackward0": "linear",
    "TBackward0": "linear",
    "ReluBackward0": "activation",
    "ViewBackward0": "flatten",
    "ReshapeAliasBackward0": "flatten",
    "UnsafeViewBackward0": "flatten",
    "LogSoftmaxBackward0": "loss",
    "NllLossBackward0": "loss",
    "AccumulateGrad": "grad accumulation",
}


class Profiler:
    """Times every module's forward (forward hooks) and every graph node's backward (wrapping
    Node.apply) of the engine; installed only for the profiled steps, so the timed chunks run
    the normal path untouched."""

    def __init__(self, model, loss_fn):
        self.model, self.loss_fn = model, loss_fn
        self.fwd = defaultdict(float)
        self.bwd = defaultdict(float)
        self.totals = defaultdict(float)
        self.handles = []

    def __enter__(self):
        stack = []

        def pre(module, args):
            stack.append(time.perf_counter())

        def post(module, args, out):
            t = time.perf_counter() - stack.pop()
            self.fwd[CATEGORY.get(type(module).__name__, type(module).__name__)] += t

        for m in [*self.model.children(), self.loss_fn]:
            self.handles.append(m.register_forward_pre_hook(pre))
            self.handles.append(m.register_forward_hook(post))
        bwd = self.bwd
        self.saved = (egraph.Node.apply, egraph.AccumulateGrad.apply)
        node_apply, acc_apply = self.saved

        def timed(original):
            def apply(node, grad):
                s = time.perf_counter()
                r = original(node, grad)
                name = type(node).__name__
                bwd[CATEGORY.get(name, name)] += time.perf_counter() - s
                return r

            return apply

        egraph.Node.apply = timed(node_apply)
        egraph.AccumulateGrad.apply = timed(acc_apply)
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        egraph.Node.apply, egraph.AccumulateGrad.apply = self.saved

    def step(self, runner, xb, yb):
        tick = time.perf_counter
        s = tick()
        runner.opt.zero_grad()
        t1 = tick()
        out = runner.model(xb)
        loss = runner.loss_fn(out, yb)
        t2 = tick()
        loss.backward()
        t3 = tick()
        runner.opt.step()
        t4 = tick()
        self.totals["zero_grad"] += t1 - s
        self.totals["forward"] += t2 - t1
        self.totals["backward"] += t3 - t2
        self.totals["optimizer"] += t4 - t3


def profile(runner, data, batch, steps):
    src = Batches(data[0], data[1], batch, seed=1)
    prepared = [runner.batch(x, y) for x, y in src.take(steps + 3)]
    for xb, yb in prepared[:3]:
        runner.step(xb, yb)
    with Profiler(runner.model, runner.loss_fn) as prof:
        for xb, yb in prepared[3:]:
            prof.step(runner, xb, yb)
    ms = lambda v: v / steps * 1e3  # noqa: E731
    rows = []
    for cat in ("conv", "pool", "linear", "activation", "flatten", "loss"):
        rows.append((f"{cat} forward", ms(prof.fwd.pop(cat, 0.0))))
        rows.append((f"{cat} backward", ms(prof.bwd.pop(cat, 0.0))))
    rows.append(("grad accumulation (leaves)", ms(prof.bwd.pop("grad accumulation", 0.0))))
    for cat, v in sorted(prof.fwd.items()):
        rows.append((f"{cat} forward", ms(v)))
    for cat, v in sorted(prof.bwd.items()):
        rows.append((f"{cat} backward", ms(v)))
    fwd_ops = sum(v for k, v in rows if k.endswith("forward"))
    bwd_ops = sum(v for k, v in rows if k.endswith("backward") or k.startswith("grad acc"))
    rows.append(
        ("optimizer step + zero_grad", ms(prof.totals["optimizer"] + prof.totals["zero_grad"]))
    )
    rows.append(("module-call overhead (forward)", ms(prof.totals["forward"]) - fwd_ops))
    rows.append(("autograd engine overhead", ms(prof.totals["backward"]) - bwd_ops))
    total = ms(sum(prof.totals.values()))
    return rows, total


def peak_memory(runner, data, batch):
    """Peak bytes numpy allocated during one engine training step (tracemalloc)."""
    ((x, y),) = Batches(data[0], data[1], batch, seed=2).take(1)
    xb, yb = runner.batch(x, y)
    runner.step(xb, yb)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    runner.step(xb, yb)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def torch_peak_memory(runner, data, batch):
    """Peak bytes PyTorch's CPU allocator held during one training step (its profiler)."""
    ((x, y),) = Batches(data[0], data[1], batch, seed=2).take(1)
    xb, yb = runner.batch(x, y)
    runner.step(xb, yb)
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    with tprofile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        runner.step(xb, yb)
    live = peak = 0
    events = sorted(
        (e for e in prof.events() if getattr(e, "cpu_memory_usage", 0)),
        key=lambda e: e.time_range.start,
    )
    for e in events:
        live += e.cpu_memory_usage
        peak = max(peak, live)
    return peak


# ----------------------------------------------------------------------------- modes
def bench(args, data):
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}")
    print(f"chunks of {args.steps} steps, {args.rounds} rounds, engine and PyTorch alternating\n")
    eng, tch = make_runners()
    med, raw, steps_ms = alternate([eng, tch], data, args.batch, args.rounds, args.steps)
    ratio = med["engine"] / med["torch"]
    print(f"batch {args.batch}: engine {med['engine']:.2f} ms/step, PyTorch {med['torch']:.2f} "
          f"ms/step, engine/PyTorch {ratio:.2f}  (medians of chunk means)")  # fmt: skip
    print("  per-round ratios: "
          + " ".join(f"{a / b:.2f}" for a, b in zip(raw["engine"], raw["torch"])))  # fmt: skip
    qe, qt = quiet_estimate(steps_ms["engine"]), quiet_estimate(steps_ms["torch"])
    print(f"  fastest 10% of single steps: engine {qe:.2f} ms, PyTorch {qt:.2f} ms, "
          f"engine/PyTorch {qe / qt:.2f}")  # fmt: skip

    rows, total = profile(eng, data, args.batch, args.profile_steps)
    print(f"\nengine time by op, batch {args.batch} ({total:.2f} ms/step while profiled):")
    for name, v in rows:
        print(f"  {name:32s} {v:7.3f} ms  {100 * v / total:5.1f}%")

    print(f"\npeak memory of one step, batch {args.batch}:")
    ep = peak_memory(eng, data, args.batch)
    print(f"  engine (numpy allocations, tracemalloc): {ep / 2**20:7.1f} MiB")
    try:
        tp = torch_peak_memory(tch, data, args.batch)
        print(f"  PyTorch (CPU allocator, torch.profiler):  {tp / 2**20:7.1f} MiB")
    except Exception as exc:  # the profiler's memory events differ across versions
        print(f"  PyTorch: not measured ({exc})")
    print(f"  process max RSS (both frameworks and the data): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")  # fmt: skip

    if args.sizes:
        print("\nratio by batch size:")
        for b in args.sizes:
            eng_b, tch_b = make_runners()
            steps = max(4, args.steps * args.batch // b)
            med_b, _, st = alternate([eng_b, tch_b], data, b, args.size_rounds, steps)
            qe, qt = quiet_estimate(st["engine"]), quiet_estimate(st["torch"])
            print(f"  batch {b:4d}: engine {med_b['engine']:7.2f} ms/step, PyTorch "
                  f"{med_b['torch']:7.2f} ms/step, engine/PyTorch "
                  f"{med_b['engine'] / med_b['torch']:.2f}; fastest 10%: "
                  f"{qe:.2f} / {qt:.2f} = {qe / qt:.2f}")  # fmt: skip


def load_kernels(folder: Path):
    """Another checkout's engine/_kernels as a separate package (its conv and pool modules)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "baseline_kernels", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    pkg = importlib.util.module_from_spec(spec)
    sys.modules["baseline_kernels"] = pkg
    spec.loader.exec_module(pkg)
    return sys.modules["baseline_kernels.conv"], sys.modules["baseline_kernels.pool"]


def ab_kernels(args, data):
    """The same engine model stepping with kernels A (--ab-kernels) and B (this tree), and
    PyTorch, in alternating chunks (A and B swap order every round): B/A within one process
    is what a kernel change is worth; a busy machine slows all three alike."""
    import engine.nn.functional as ef

    kernels = {"A": load_kernels(args.ab_kernels), "B": (ef._conv, ef._pool)}
    eng, tch = make_runners()
    src = Batches(data[0], data[1], args.batch)

    def use(name):
        ef._conv, ef._pool = kernels[name]

    for name in ("A", "B"):
        use(name)
        for x, y in src.take(3):
            eng.step(*eng.batch(x, y))
    for x, y in src.take(3):
        tch.step(*tch.batch(x, y))
    chunks, steps_ms = defaultdict(list), defaultdict(list)
    try:
        for r in range(args.rounds):
            chunk = src.take(args.steps)
            for name in ("A", "B", "T") if r % 2 == 0 else ("B", "A", "T"):
                own = []
                if name != "T":
                    use(name)
                chunks[name].append(run_chunk(tch if name == "T" else eng, chunk, own) * 1e3)
                steps_ms[name] += [v * 1e3 for v in own]
    finally:
        use("B")
    print(f"batch {args.batch}, {args.rounds} rounds of {args.steps} steps; A = {args.ab_kernels}, "
          "B = this tree's kernels, T = PyTorch")  # fmt: skip
    med = {k: statistics.median(v) for k, v in chunks.items()}
    quiet = {k: quiet_estimate(v) for k, v in steps_ms.items()}
    for k, label in (("A", "engine, kernels A"), ("B", "engine, kernels B"), ("T", "PyTorch")):
        print(f"  {label:18s} {med[k]:7.2f} ms/step (median chunk), fastest 10% {quiet[k]:6.2f} ms")
    print(f"  B/A: {med['B'] / med['A']:.3f} (chunks), {quiet['B'] / quiet['A']:.3f} (fastest 10%)")
    ratio = {k: (med[k] / med["T"], quiet[k] / quiet["T"]) for k in ("A", "B")}
    print(f"  engine/PyTorch: A {ratio['A'][0]:.2f}, B {ratio['B'][0]:.2f} (chunks); "
          f"A {ratio['A'][1]:.2f}, B {ratio['B'][1]:.2f} (fastest 10%)")  # fmt: skip


def epoch(args, data):
    """One epoch each per seed (initial weights and batch order), trained in alternating chunks
    so both see the same machine load. Identical at first, the two runs part after ~100 steps
    (float rounding, amplified while the loss falls fast), so one epoch's accuracy is a draw
    from a distribution: several seeds show whether the engine's matches PyTorch's."""
    x, y, xt, yt = data
    steps = len(x) // args.batch
    print(f"one epoch, batch {args.batch}, {steps} steps (SGD lr 0.01 momentum 0.9):")
    totals = defaultdict(list)
    for seed in args.seeds:
        eng, tch = make_runners(seed)
        src = Batches(x, y, args.batch, seed=seed + 3)
        secs = {"engine": 0.0, "torch": 0.0}
        done = 0
        while done < steps:
            chunk = src.take(min(args.epoch_chunk, steps - done))
            for r in (eng, tch):
                secs[r.name] += run_chunk(r, chunk) * len(chunk)
            done += len(chunk)
        line = []
        for r in (eng, tch):
            acc = r.accuracy(xt, yt)
            totals[r.name].append((secs[r.name], acc))
            line.append(f"{r.name} {secs[r.name]:6.2f} s, {100 * acc:.2f}%")
        print(f"  seed {seed}: " + "; ".join(line)
              + f"; time ratio {secs['engine'] / secs['torch']:.2f}")  # fmt: skip
    if len(args.seeds) > 1:
        for name, runs in totals.items():
            secs = statistics.median(s for s, _ in runs)
            accs = [a for _, a in runs]
            print(f"  {name:7s} median {secs:6.2f} s per epoch, test accuracy mean "
                  f"{100 * statistics.mean(accs):.2f}% (min {100 * min(accs):.2f}%, "
                  f"max {100 * max(accs):.2f}%)")  # fmt: skip
    e = statistics.median(s for s, _ in totals["engine"])
    t = statistics.median(s for s, _ in totals["torch"])
    print(f"  engine/PyTorch epoch time {e / t:.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MNIST IDX folder (.gz files)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=7, help="alternated chunks per framework")
    ap.add_argument("--steps", type=int, default=30, help="steps per chunk at --batch")
    ap.add_argument("--profile-steps", type=int, default=30)
    ap.add_argument(
        "--sizes",
        type=lambda s: [int(v) for v in s.split(",") if v],
        default=[32, 128, 256],
        help="other batch sizes for the ratio ('' for none)",
    )
    ap.add_argument("--size-rounds", type=int, default=5)
    ap.add_argument("--epoch", action="store_true", help="train one epoch each, print accuracy")
    ap.add_argument("--epoch-chunk", type=int, default=50)
    ap.add_argument(
        "--seeds",
        type=lambda v: [int(s) for s in v.split(",")],
        default=[0, 1, 2],
        help="--epoch: seeds of the initial weights and batch order (comma list)",
    )
    ap.add_argument(
        "--ab-kernels",
        type=Path,
        help="another checkout's engine/_kernels folder: time it (A) against this tree's (B)",
    )
    args = ap.parse_args(argv)
    data = load_mnist(args.data)
    if args.ab_kernels:
        ab_kernels(args, data)
    elif args.epoch:
        epoch(args, data)
    else:
        bench(args, data)


if __name__ == "__main__":
    main()
