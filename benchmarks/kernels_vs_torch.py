"""The numpy kernels alone against PyTorch's ops, on LeNet's shapes.

    python3 benchmarks/kernels_vs_torch.py            # batch 64
    python3 benchmarks/kernels_vs_torch.py --batch 256

Each kernel (forward, backward) is timed against the same PyTorch op, alternating, many
repetitions; prints the median and the best time of each and their ratio. Use it to tune the
kernels without the autograd engine in the way. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

try:
    import torch
except ImportError:  # pragma: no cover
    sys.exit("this benchmark compares with PyTorch: pip install torch")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from engine._kernels import (  # noqa: E402
    conv2d_backward,
    conv2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)

F = torch.nn.functional
ONE, NOPAD = (1, 1), (0, 0, 0, 0)


def cases(n, rng):
    """(name, engine callable, torch callable) for each LeNet kernel at batch n."""
    x = rng.standard_normal((n, 1, 32, 32)).astype(np.float32)
    w1 = (rng.standard_normal((6, 1, 5, 5)) * 0.2).astype(np.float32)
    w2 = (rng.standard_normal((16, 6, 5, 5)) * 0.1).astype(np.float32)
    b1, b2 = np.zeros(6, np.float32), np.zeros(16, np.float32)
    # the engine's activations, in its own memory layout
    c1, k1 = conv2d_forward(x, w1, b1, ONE, NOPAD, ONE, 1)
    r1 = np.maximum(c1, 0)
    p1, _, kp1 = max_pool2d_forward(r1, (2, 2), (2, 2), (0, 0), ONE, False, False)
    c2, k2 = conv2d_forward(p1, w2, b2, ONE, NOPAD, ONE, 1)
    r2 = np.maximum(c2, 0)
    _, _, kp2 = max_pool2d_forward(r2, (2, 2), (2, 2), (0, 0), ONE, False, False)
    g_p2 = np.ones((n, 16, 5, 5), np.float32)
    g_r2 = max_pool2d_backward(g_p2, kp2) * (c2 > 0)
    g_p1 = conv2d_backward(g_r2, k2, True, False, False)[0]
    g_r1 = max_pool2d_backward(g_p1, kp1) * (c1 > 0)

    # PyTorch's twins with autograd graphs to run backward through
    t = lambda a, grad=False: torch.tensor(np.ascontiguousarray(a), requires_grad=grad)  # noqa: E731
    tx, tw1, tb1 = t(x), t(w1, True), t(b1, True)
    tp1, tw2, tb2 = t(p1, True), t(w2, True), t(b2, True)
    tr1, tr2 = t(r1, True), t(r2, True)
    tc1 = F.conv2d(tx, tw1, tb1)
    tc2 = F.conv2d(tp1, tw2, tb2)
    tq1 = F.max_pool2d(tr1, 2)
    tq2 = F.max_pool2d(tr2, 2)
    tg1, tg2 = t(g_r1), t(g_r2)
    tgp1, tgp2 = t(g_p1), t(g_p2)

    def tback(out, grad, inputs):
        return lambda: torch.autograd.grad(out, inputs, grad, retain_graph=True)

    return [
        ("conv1 forward", lambda: conv2d_forward(x, w1, b1, ONE, NOPAD, ONE, 1),
         lambda: F.conv2d(tx, tw1, tb1)),
        ("conv1 backward (no input grad)", lambda: conv2d_backward(g_r1, k1, False, True, True),
         tback(tc1, tg1, (tw1, tb1))),
        ("pool1 forward", lambda: max_pool2d_forward(r1, (2, 2), (2, 2), (0, 0), ONE, False, False),
         lambda: F.max_pool2d(tr1, 2)),
        ("pool1 backward", lambda: max_pool2d_backward(g_p1, kp1), tback(tq1, tgp1, (tr1,))),
        ("conv2 forward", lambda: conv2d_forward(p1, w2, b2, ONE, NOPAD, ONE, 1),
         lambda: F.conv2d(tp1, tw2, tb2)),
        ("conv2 backward", lambda: conv2d_backward(g_r2, k2, True, True, True),
         tback(tc2, tg2, (tp1, tw2, tb2))),
        ("pool2 forward", lambda: max_pool2d_forward(r2, (2, 2), (2, 2), (0, 0), ONE, False, False),
         lambda: F.max_pool2d(tr2, 2)),
        ("pool2 backward", lambda: max_pool2d_backward(g_p2, kp2), tback(tq2, tgp2, (tr2,))),
    ]  # fmt: skip


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=40)
    args = ap.parse_args(argv)
    print(f"batch {args.batch}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"{'kernel':32s} {'engine ms':>18s} {'PyTorch ms':>18s} {'ratio':>12s}")
    print(f"{'':32s} {'median   best':>18s} {'median   best':>18s} {'median best':>12s}")
    tot = {"e": [0.0, 0.0], "t": [0.0, 0.0]}
    for name, eng, tch in cases(args.batch, np.random.default_rng(0)):
        te, tt = [], []
        for fn in (eng, tch):  # warm-up
            fn()
        for _ in range(args.reps):
            for fn, acc in ((eng, te), (tch, tt)):
                s = time.perf_counter()
                fn()
                acc.append((time.perf_counter() - s) * 1e3)
        me, be, mt, bt = statistics.median(te), min(te), statistics.median(tt), min(tt)
        tot["e"][0] += me
        tot["e"][1] += be
        tot["t"][0] += mt
        tot["t"][1] += bt
        print(f"{name:32s} {me:8.3f} {be:8.3f}  {mt:8.3f} {bt:8.3f}  {me / mt:5.2f} {be / bt:5.2f}")
    (me, be), (mt, bt) = tot["e"], tot["t"]
    total = "total"
    print(f"{total:32s} {me:8.3f} {be:8.3f}  {mt:8.3f} {bt:8.3f}  {me / mt:5.2f} {be / bt:5.2f}")


if __name__ == "__main__":
    main()
