"""Training-step speed of the engine against PyTorch CPU on the networks people build.

    python3 benchmarks/suite.py                       # every network at batch 32, 64 and 128
    python3 benchmarks/suite.py --quick               # batch 64 only, fewer rounds
    python3 benchmarks/suite.py --networks resnet,cifar_resnet8 --batches 64 --profile
    python3 benchmarks/suite.py --threads 1           # both frameworks on one thread

Networks: the app's templates (resources/templates: lenet, mlp, bn_cnn, resnet) compiled from
their graphs with netbuilder's compiler for both frameworks, plus CIFAR-sized (3x32x32) ones: a
VGG-style net (3x3 padding-1 convolutions with BatchNorm), a ResNet-8-style net (stride-2
downsampling, 1x1 projection shortcuts) and an MLP. Each network is built once in PyTorch and
its state_dict copied into the engine's twin, so both start from the same weights; both see the
same random batches (speed does not depend on the pixel values).

One step = zero_grad, forward, cross-entropy, backward, SGD (lr 0.01, momentum 0.9) step.
Timed chunks of steps alternate (engine, PyTorch, engine, ...) in one process and the medians of
the chunk means are compared, so other work on a shared machine slows both alike; both use the
same number of threads (printed). Peak memory of one step: numpy's allocations (tracemalloc) for
the engine, the CPU allocator's live bytes (torch.profiler) for PyTorch. --profile splits the
engine's step by op (module forwards, autograd nodes' backwards). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

try:
    import torch
except ImportError:  # pragma: no cover - the benchmark needs PyTorch to compare with
    sys.exit("this benchmark compares with PyTorch: pip install torch")

sys.path.insert(0, str(REPO))
import engine  # noqa: E402
from engine.autograd import graph as egraph  # noqa: E402


# ----------------------------------------------------------------------------- networks
def template(name):
    """A template's graph compiled for a library (engine or torch)."""

    def build(lib):
        from netbuilder.compile import compile_graph
        from netbuilder.graph.templates import load_template

        return compile_graph(load_template(name).graph, lib=lib)

    return build


def cifar_vgg(lib):
    nn = lib.nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(3, 16), *block(16, 16), nn.MaxPool2d(2),
        *block(16, 32), *block(32, 32), nn.MaxPool2d(2),
        *block(32, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
    )  # fmt: skip


def cifar_resnet8(lib):
    """Stem conv, three basic blocks (16, 32 and 64 channels; the last two halve the size with a
    stride-2 convolution and a 1x1 stride-2 projection), global average pool, linear."""
    nn = lib.nn

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.short = None
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + (x if self.short is None else self.short(x)))

    class ResNet8(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(16), nn.ReLU())  # fmt: skip
            self.layers = nn.Sequential(Basic(16, 16, 1), Basic(16, 32, 2), Basic(32, 64, 2))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(self.flatten(self.pool(self.layers(self.stem(x)))))

    return ResNet8()


def cifar_mlp(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Flatten(), nn.Linear(3 * 32 * 32, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10),
    )  # fmt: skip


# name -> (builder(lib), input shape without the batch)
NETWORKS = {
    "lenet": (template("lenet"), (1, 32, 32)),
    "mlp": (template("mlp"), (1, 28, 28)),
    "bn_cnn": (template("bn_cnn"), (1, 28, 28)),
    "resnet": (template("resnet"), (1, 28, 28)),
    "cifar_vgg": (cifar_vgg, (3, 32, 32)),
    "cifar_resnet8": (cifar_resnet8, (3, 32, 32)),
    "cifar_mlp": (cifar_mlp, (3, 32, 32)),
}


def build_pair(name, seed=0):
    """(engine model, torch model) with the same weights and buffers."""
    build, _ = NETWORKS[name]
    torch.manual_seed(seed)
    tmodel = build(torch)
    emodel = build(engine)
    state = {k: engine.from_numpy(v.detach().numpy().copy())
             for k, v in tmodel.state_dict().items()}  # fmt: skip
    emodel.load_state_dict(state)
    return emodel, tmodel


class Runner:
    """One framework's model, loss and optimizer, and its training step."""

    def __init__(self, name, model, lib):
        self.name = name
        self.model = model
        self.lib = lib
        self.loss_fn = lib.nn.CrossEntropyLoss()
        self.opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        model.train()

    def batch(self, x, y):
        return self.lib.from_numpy(x), self.lib.from_numpy(y)

    def step(self, xb, yb):
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        return loss


def make_batches(shape, batch, count, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((batch, *shape), dtype=np.float32),
         rng.integers(0, 10, batch).astype(np.int64))
        for _ in range(count)
    ]  # fmt: skip


# the clock of the timed chunks: wall time, or the process's CPU time (--cpu-time)
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def run_chunk(runner, prepared, clock="wall"):
    """Seconds per step over prepared batches (tensors made outside the clock)."""
    time.sleep(0.1)  # the other library's idle worker threads stop spinning
    tick = CLOCK[clock]
    start = tick()
    for xb, yb in prepared:
        runner.step(xb, yb)
    return (tick() - start) / len(prepared)


def alternate(runners, batches, rounds, steps, clock="wall"):
    """Median ms/step of each runner over alternated chunks, and every chunk's ms."""
    prepared = {r.name: [r.batch(x, y) for x, y in batches] for r in runners}
    times = defaultdict(list)
    for k in range(rounds):
        # swap the order every round: neither library always runs first after the pause
        order = runners if k % 2 == 0 else runners[::-1]
        for r in order:
            data = prepared[r.name]
            chunk = [data[(k * steps + i) % len(data)] for i in range(steps)]
            times[r.name].append(run_chunk(r, chunk, clock) * 1e3)
    return {name: statistics.median(v) for name, v in times.items()}, times


# ----------------------------------------------------------------------------- memory
def engine_peak_memory(runner, xb, yb):
    """Peak bytes numpy allocated during one training step (tracemalloc)."""
    runner.step(xb, yb)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    runner.step(xb, yb)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def torch_peak_memory(runner, xb, yb):
    """Peak bytes PyTorch's CPU allocator held during one training step (its profiler)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    runner.step(xb, yb)
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


# ----------------------------------------------------------------------------- profile
# module class or autograd node name -> the op it belongs to
OP_OF = {
    "ConvolutionBackward0": "Conv2d",
    "MaxPool2DWithIndicesBackward0": "MaxPool2d",
    "AvgPool2DBackward0": "AvgPool2d",
    "AdaptiveAvgPool2DBackward0": "AdaptiveAvgPool2d",
    "MeanBackward1": "AdaptiveAvgPool2d",
    "AddmmBackward0": "Linear",
    "MmBackward0": "Linear",
    "TBackward0": "Linear",
    "ReluBackward0": "ReLU",
    "NativeBatchNormBackward0": "BatchNorm",
    "BatchNorm1d": "BatchNorm",
    "BatchNorm2d": "BatchNorm",
    "ViewBackward0": "Flatten",
    "ReshapeAliasBackward0": "Flatten",
    "UnsafeViewBackward0": "Flatten",
    "LogSoftmaxBackward0": "CrossEntropyLoss",
    "NllLossBackward0": "CrossEntropyLoss",
    "MulBackward0": "Dropout",
    "AddBackward0": "Add",
    "AccumulateGrad": "grad accumulation (leaves)",
}


class Profiler:
    """Times every leaf module's forward (hooks) and every graph node's backward (wrapping
    Node.apply) of the engine; installed only for the profiled steps."""

    def __init__(self, model, loss_fn, clock="wall"):
        self.model, self.loss_fn = model, loss_fn
        self.tick = CLOCK[clock]
        self.fwd = defaultdict(float)
        self.bwd = defaultdict(float)
        self.totals = defaultdict(float)
        self.handles = []

    def __enter__(self):
        stack = []

        def pre(module, args):
            stack.append(self.tick())

        def post(module, args, out):
            name = type(module).__name__
            self.fwd[OP_OF.get(name, name)] += self.tick() - stack.pop()

        leaves = [m for m in self.model.modules() if not list(m.children())]
        for m in [*leaves, self.loss_fn]:
            self.handles.append(m.register_forward_pre_hook(pre))
            self.handles.append(m.register_forward_hook(post))
        bwd = self.bwd
        self.saved = (egraph.Node.apply, egraph.AccumulateGrad.apply)

        def timed(original):
            def apply(node, grad):
                s = self.tick()
                r = original(node, grad)
                name = type(node).__name__
                bwd[OP_OF.get(name, name)] += self.tick() - s
                return r

            return apply

        egraph.Node.apply = timed(self.saved[0])
        egraph.AccumulateGrad.apply = timed(self.saved[1])
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        egraph.Node.apply, egraph.AccumulateGrad.apply = self.saved

    def step(self, runner, xb, yb):
        tick = self.tick
        s = tick()
        runner.opt.zero_grad()
        t1 = tick()
        loss = runner.loss_fn(runner.model(xb), yb)
        t2 = tick()
        loss.backward()
        t3 = tick()
        runner.opt.step()
        t4 = tick()
        self.totals["optimizer"] += (t1 - s) + (t4 - t3)
        self.totals["forward"] += t2 - t1
        self.totals["backward"] += t3 - t2


def profile(runner, prepared, steps, clock="wall"):
    """[(row, ms/step)] of the engine's step split by op, and the profiled ms/step."""
    for xb, yb in prepared[:2]:
        runner.step(xb, yb)
    with Profiler(runner.model, runner.loss_fn, clock) as prof:
        for i in range(steps):
            prof.step(runner, *prepared[i % len(prepared)])
    ms = lambda v: v / steps * 1e3  # noqa: E731
    ops = sorted(set(prof.fwd) | set(prof.bwd), key=lambda k: -(prof.fwd[k] + prof.bwd[k]))
    rows = [(op, ms(prof.fwd[op]), ms(prof.bwd[op])) for op in ops]
    fwd_ops = sum(prof.fwd.values())
    bwd_ops = sum(prof.bwd.values())
    rows.append(("optimizer step + zero_grad", ms(prof.totals["optimizer"]), 0.0))
    rows.append(("call overhead, Add, other", ms(prof.totals["forward"] - fwd_ops),
                 ms(prof.totals["backward"] - bwd_ops)))  # fmt: skip
    return rows, ms(sum(prof.totals.values()))


def print_profile(name, batch, rows, total):
    print(f"\n{name}, batch {batch}: engine time by op ({total:.2f} ms/step while profiled)")
    print(f"  {'op':28s} {'forward':>9s} {'backward':>9s} {'total':>9s}  share")
    for op, f, b in rows:
        print(f"  {op:28s} {f:7.2f}ms {b:7.2f}ms {f + b:7.2f}ms  {100 * (f + b) / total:4.1f}%")


# ----------------------------------------------------------------------------- main
def steps_for(runner, prepared, target_s):
    """Steps per chunk so that one chunk takes about target_s (after two warm-up steps)."""
    for xb, yb in prepared[:2]:
        runner.step(xb, yb)
    s = time.perf_counter()
    runner.step(*prepared[2 % len(prepared)])
    per = time.perf_counter() - s
    return max(2, min(40, round(target_s / max(per, 1e-4))))


def measure(name, batch, args):
    emodel, tmodel = build_pair(name)
    eng, tch = Runner("engine", emodel, engine), Runner("torch", tmodel, torch)
    shape = NETWORKS[name][1]
    batches = make_batches(shape, batch, 8)
    prep_e = [eng.batch(x, y) for x, y in batches]
    prep_t = [tch.batch(x, y) for x, y in batches]
    steps = steps_for(eng, prep_e, args.chunk_seconds)
    steps_for(tch, prep_t, args.chunk_seconds)  # warm-up only
    med, raw = alternate([eng, tch], batches, args.rounds, steps, args.clock)
    row = {
        "engine": med["engine"],
        "torch": med["torch"],
        "ratio": med["engine"] / med["torch"],
        "spread": [a / b for a, b in zip(raw["engine"], raw["torch"])],
        "steps": steps,
    }
    if not args.no_memory:
        row["engine_mem"] = engine_peak_memory(eng, *prep_e[0])
        try:
            row["torch_mem"] = torch_peak_memory(tch, *prep_t[0])
        except Exception:  # the profiler's memory events differ across versions
            row["torch_mem"] = None
    if args.profile:
        row["profile"] = profile(eng, prep_e, args.profile_steps, args.clock)
    return row


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--networks", default=",".join(NETWORKS),
                    help=f"comma list from: {', '.join(NETWORKS)}")  # fmt: skip
    ap.add_argument("--batches", default="32,64,128", help="comma list of batch sizes")
    ap.add_argument("--rounds", type=int, default=7, help="alternated chunks per framework")
    ap.add_argument("--chunk-seconds", type=float, default=0.4, help="about this long per chunk")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for both frameworks (default: the engine's default)")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="batch 64 only, 3 rounds, short chunks")
    ap.add_argument(
        "--cpu-time",
        dest="clock",
        action="store_const",
        const="cpu",
        default="wall",
        help="time chunks by the process's CPU time, not the wall clock: with --threads 1 a "
        "steadier comparison on a machine busy with other work (threads' idle spinning counts)",
    )
    ap.add_argument("--profile", action="store_true", help="per-op split of the engine's step")
    ap.add_argument("--profile-steps", type=int, default=10)
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory columns")
    args = ap.parse_args(argv)
    names = [n for n in args.networks.split(",") if n]
    unknown = [n for n in names if n not in NETWORKS]
    if unknown:
        ap.error(f"unknown network {', '.join(unknown)}; choose from {', '.join(NETWORKS)}")
    batches = [int(b) for b in args.batches.split(",") if b]
    if args.quick:
        batches = [64] if args.batches == ap.get_default("batches") else batches
        args.rounds = min(args.rounds, 3)
        args.chunk_seconds = min(args.chunk_seconds, 0.25)
    threads = args.threads or engine.get_num_threads()
    engine.set_num_threads(threads)
    torch.set_num_threads(threads)
    load0 = os.getloadavg()
    print(f"engine {engine.get_num_threads()} threads, PyTorch {torch.__version__} "
          f"{torch.get_num_threads()} threads, numpy {np.__version__}, {os.cpu_count()} cores")
    print(f"{args.rounds} alternated chunks of ~{args.chunk_seconds:.2f} s per framework "
          f"({'CPU time' if args.clock == 'cpu' else 'wall clock'}); "
          f"load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}\n")  # fmt: skip
    head = (f"{'network':14s} {'batch':>5s} {'engine ms':>10s} {'torch ms':>9s} {'ratio':>6s} "
            f"{'ratio range':>12s} {'engine MiB':>10s} {'torch MiB':>9s}")  # fmt: skip
    print(head)
    print("-" * len(head))
    results = {}
    for name in names:
        for b in batches:
            r = measure(name, b, args)
            results[name, b] = r
            mem_e = mem_t = ""
            if "engine_mem" in r:
                mem_e = f"{r['engine_mem'] / 2**20:10.1f}"
                mem_t = "" if r["torch_mem"] is None else f"{r['torch_mem'] / 2**20:9.1f}"
            lo, hi = min(r["spread"]), max(r["spread"])
            print(f"{name:14s} {b:5d} {r['engine']:10.2f} {r['torch']:9.2f} {r['ratio']:6.2f} "
                  f"{lo:5.2f}-{hi:<6.2f} {mem_e:>10s} {mem_t:>9s}", flush=True)  # fmt: skip
    ratios = [r["ratio"] for r in results.values()]
    print("-" * len(head))
    print(f"geometric mean of engine/PyTorch ratios: {geomean(ratios):.2f} over {len(ratios)} runs")
    for b in batches:
        at = [r["ratio"] for (n, bb), r in results.items() if bb == b]
        print(f"  batch {b}: geometric mean {geomean(at):.2f}, worst {max(at):.2f}")
    load1 = os.getloadavg()
    print(f"load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if args.profile:
        for (name, b), r in results.items():
            print_profile(name, b, *r["profile"])


if __name__ == "__main__":
    main()
