"""What the Trainer's events cost: the same training steps with and without them.

Run A: no listener, gradient statistics off (grad_every=0).
Run B: a listener that queues every event (as the GUI does) and gradient norms plus 32-bin
       histograms of every parameter's gradient and weights every `--grad-every` steps.
A and B alternate (A B A B ...) and the medians are compared; the target is under 5%.
Also printed: the time the Trainer itself counted in statistics and listeners (B), as a share
of B's training time, which does not suffer from the noise of comparing two runs.

    python3 benchmarks/trainer_overhead.py [--steps 60] [--rounds 5] [--dataset sample]
"""

from __future__ import annotations

import os

# One BLAS thread (before numpy loads): on a shared 2-core box OpenBLAS's threads fight the
# other processes and turn a 20 ms step into 100+ ms of noise. CPU time is reported as well as
# wall time because it suffers much less from the neighbours.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import queue  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from netbuilder.data import DataSplit, load_dataset  # noqa: E402
from netbuilder.graph.project import load_project  # noqa: E402
from netbuilder.resources import resource_path  # noqa: E402
from netbuilder.training import StepEnd, Trainer, TrainSettings  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", default=str(resource_path("templates", "lenet.json")))
    ap.add_argument("--dataset", default="sample")
    ap.add_argument("--steps", type=int, default=60, help="training steps per run")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--grad-every", type=int, default=20)
    args = ap.parse_args()

    project = load_project(args.project)
    full = load_dataset(args.dataset)
    n = args.steps * args.batch_size
    # A tiny test set: the evaluation is the same in A and B and would only dilute the ratio.
    data = DataSplit(
        full.name,
        full.x_train[:n],
        full.y_train[:n],
        full.x_test[:64],
        full.y_test[:64],
        full.num_classes,
        full.source,
    )

    def run(with_events: bool):
        settings = TrainSettings.from_dict(project.training).replace(
            epochs=1, batch_size=args.batch_size, grad_every=args.grad_every if with_events else 0
        )
        trainer = Trainer(project.graph, settings, data=data)
        _ = trainer.model  # compile outside the timing
        events = queue.SimpleQueue()
        if with_events:
            trainer.subscribe(events.put)
        t0, c0 = time.perf_counter(), time.process_time()
        final = trainer.run()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert type(final).__name__ == "Finished", final
        sampled = 0
        while not events.empty():
            event = events.get()
            sampled += isinstance(event, StepEnd) and event.grad_norms is not None
        return seconds, cpu, trainer.event_seconds, sampled

    run(True)  # warm-up: imports, caches, allocator
    a_wall, a_cpu, b_wall, b_cpu, counted, sampled = [], [], [], [], [], 0
    for _ in range(args.rounds):
        seconds, cpu, _, _ = run(False)
        a_wall.append(seconds)
        a_cpu.append(cpu)
        seconds, cpu, event_seconds, sampled = run(True)
        b_wall.append(seconds)
        b_cpu.append(cpu)
        counted.append(event_seconds)

    def line(name, wall, cpu):
        w, c = statistics.median(wall), statistics.median(cpu)
        return (
            f"{name} wall {w:.3f} s ({w / args.steps * 1000:.2f} ms/step), "
            f"CPU {c:.3f} s ({c / args.steps * 1000:.2f} ms/step)"
        )

    def change(a, b):
        a, b = statistics.median(a), statistics.median(b)
        return f"{(b - a) / a * 100:+.2f} %"

    print(
        f"{args.steps} steps of batch {args.batch_size}, {args.rounds} rounds (A B alternated),"
        f" medians"
    )
    print(line("A without events:  ", a_wall, a_cpu))
    print(
        line("B with events:     ", b_wall, b_cpu)
        + f"; gradient statistics on {sampled} steps (every {args.grad_every})"
    )
    print(
        f"overhead (B-A)/A:   wall {change(a_wall, b_wall)}, CPU {change(a_cpu, b_cpu)} "
        "(run-to-run noise on a shared machine is several %)"
    )
    spent = statistics.median(counted)
    print(
        f"counted by Trainer: {spent * 1000:.1f} ms in statistics and listeners per run = "
        f"{spent / statistics.median(b_cpu) * 100:.2f} % of B's CPU time, "
        f"{spent / statistics.median(b_wall) * 100:.2f} % of its wall time "
        "(timed inside the run: free of run-to-run noise)"
    )


if __name__ == "__main__":
    main()
