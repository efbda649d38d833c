"""What the Trainer's events cost: the same training steps with and without them.

Run A: no listener, gradient statistics off (grad_every=0).
Run B: a listener that queues every event (as the GUI does) and gradient norms plus 32-bin
       histograms of every parameter's gradient and weights every `--grad-every` steps.
A and B alternate (A B A B ...) and the medians are compared; the issue's bar is < 5%.
Also printed: the time the Trainer itself counted in statistics and listeners (B), as a share
of B's training time, which does not suffer from the noise of comparing two runs.

    python3 benchmarks/trainer_overhead.py [--steps 60] [--rounds 5] [--dataset sample]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import time

from netbuilder.data import DataSplit, load_dataset
from netbuilder.graph.project import load_project
from netbuilder.resources import resource_path
from netbuilder.training import StepEnd, Trainer, TrainSettings


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
    data = DataSplit(full.name, full.x_train[:n], full.y_train[:n], full.x_test[:64],
                     full.y_test[:64], full.num_classes, full.source)

    def run(with_events: bool):
        settings = TrainSettings.from_dict(project.training).replace(
            epochs=1, batch_size=args.batch_size,
            grad_every=args.grad_every if with_events else 0)
        trainer = Trainer(project.graph, settings, data=data)
        _ = trainer.model  # compile outside the timing
        events = queue.SimpleQueue()
        if with_events:
            trainer.subscribe(events.put)
        t0 = time.perf_counter()
        final = trainer.run()
        seconds = time.perf_counter() - t0
        assert type(final).__name__ == "Finished", final
        sampled = 0
        while not events.empty():
            event = events.get()
            sampled += isinstance(event, StepEnd) and event.grad_norms is not None
        return seconds, trainer.event_seconds, sampled

    run(True)  # warm-up: imports, caches, allocator
    bare, full_events, counted, sampled = [], [], [], 0
    for _ in range(args.rounds):
        bare.append(run(False)[0])
        seconds, event_seconds, sampled = run(True)
        full_events.append(seconds)
        counted.append(event_seconds / seconds)
    a, b = statistics.median(bare), statistics.median(full_events)
    a_min, b_min = min(bare), min(full_events)
    print(f"{args.steps} steps of batch {args.batch_size}, {args.rounds} rounds (A B alternated)")
    print(f"A without events:   median {a:.3f} s ({a / args.steps * 1000:.2f} ms/step), "
          f"best {a_min:.3f} s")
    print(f"B with events:      median {b:.3f} s ({b / args.steps * 1000:.2f} ms/step), "
          f"best {b_min:.3f} s; gradient statistics on {sampled} steps (every {args.grad_every})")
    print(f"overhead (B-A)/A:   {(b - a) / a * 100:+.2f} % of medians, "
          f"{(b_min - a_min) / a_min * 100:+.2f} % of bests (noisy on a shared machine)")
    print(f"counted by Trainer: {statistics.median(counted) * 100:.2f} % of B's time in "
          "statistics and listeners (timed inside the run: the figure to trust)")


if __name__ == "__main__":
    main()
