"""What batch augmentation costs a training step: a colour LeNet (3x32x32) on CIFAR-format data.

Two figures, both printed:
  1. augment_batch alone on a batch, as a share of a plain training step (CPU time; the
     steadier figure on a busy machine);
  2. whole runs with and without augmentation, alternated (A B A B ...), median step times.
The aim is at most 10%.

    python3 benchmarks/augment_cost.py [--data FOLDER] [--steps 40] [--rounds 3]

Without --data, random 32x32 colour images stand in (augmentation's cost does not depend on
what the pixels show).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see trainer_overhead.py
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from netbuilder.data import DataSplit, load_dataset, prepare  # noqa: E402
from netbuilder.data.prepare import augment_batch, augment_rng, make_augment  # noqa: E402
from netbuilder.graph.project import loads_project  # noqa: E402
from netbuilder.resources import resource_path  # noqa: E402
from netbuilder.training import StepEnd, Trainer, TrainSettings  # noqa: E402

AUGMENT = dict(augment_crop=4, augment_flip=True, augment_rotate=10.0, augment_translate=0.1,
               augment_jitter=0.2)  # fmt: skip
# alone, besides all five: the usual CIFAR recipe and each step by itself
PARTS = {
    "crop 4 + flip": dict(augment_crop=4, augment_flip=True),
    "crop 4 + flip + jitter 0.2": dict(augment_crop=4, augment_flip=True, augment_jitter=0.2),
    "rotate 10": dict(augment_rotate=10.0),
    "translate 0.1": dict(augment_translate=0.1),
    "jitter 0.2": dict(augment_jitter=0.2),
    "all five": AUGMENT,
}


def colour_lenet():
    project = json.loads(resource_path("templates", "lenet.json").read_text())
    for node in project["graph"]["nodes"]:
        if node["type"] == "Input":
            node["params"]["shape"] = [3, 32, 32]
    return loads_project(json.dumps(project))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a CIFAR-10 binary folder (default: random images)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    n = args.steps * args.batch_size
    if args.data:
        full = load_dataset(args.data)
        data = DataSplit(full.name, full.x_train[:n], full.y_train[:n], full.x_test[:64],
                         full.y_test[:64], full.num_classes, full.source)  # fmt: skip
    else:
        rng = np.random.default_rng(0)
        data = DataSplit("random", rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                         np.arange(n) % 10, rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8),
                         np.arange(64) % 10, 10, "random")  # fmt: skip
    project = colour_lenet()

    # 1. augment_batch alone against a plain step
    prepared = prepare(data, (3, 32, 32))
    mean = np.array(prepared.mean) * 255
    std = np.array(prepared.std) * 255
    batch = prepared.train_x[: args.batch_size]
    alone = {}
    for name, part in PARTS.items():
        augment = make_augment(TrainSettings(**part), (3, 32, 32), mean, std)
        random = augment_rng(0)
        t0 = time.process_time()
        for _ in range(args.steps):
            augment_batch(batch, random, augment)
        alone[name] = (time.process_time() - t0) / args.steps

    def run(augmented: bool):
        settings = TrainSettings.from_dict(project.training).replace(
            epochs=1, batch_size=args.batch_size, grad_every=0, optimizer="adam", lr=0.001,
            **(AUGMENT if augmented else {}),
        )  # fmt: skip
        trainer = Trainer(project.graph, settings, data=data)
        steps = []
        trainer.subscribe(lambda e: steps.append(time.perf_counter()) if isinstance(e, StepEnd)
                          else None)  # fmt: skip
        c0 = time.process_time()
        trainer.run()
        cpu = time.process_time() - c0
        gaps = np.diff(steps)[2:]  # the first steps warm caches
        return float(np.median(gaps)), cpu / len(steps)

    plain, augmented, plain_cpu, augmented_cpu = [], [], [], []
    for _ in range(args.rounds):
        wall, cpu = run(False)
        plain.append(wall)
        plain_cpu.append(cpu)
        wall, cpu = run(True)
        augmented.append(wall)
        augmented_cpu.append(cpu)
    step = statistics.median(plain_cpu)
    print(f"batch {args.batch_size} of 3x32x32, augmentation {AUGMENT}")
    print(f"a plain step: {step * 1000:.1f} ms CPU")
    for name, seconds in alone.items():
        print(f"augment_batch alone, {name}: {seconds * 1000:.2f} ms CPU per batch = "
              f"{100 * seconds / step:.1f}% of a plain step")  # fmt: skip
    a, b = statistics.median(plain), statistics.median(augmented)
    ac, bc = statistics.median(plain_cpu), statistics.median(augmented_cpu)
    print(f"training step, median wall: plain {a * 1000:.1f} ms, augmented {b * 1000:.1f} ms "
          f"({100 * (b / a - 1):+.1f}%)")  # fmt: skip
    print(f"training step, CPU per step: plain {ac * 1000:.1f} ms, augmented {bc * 1000:.1f} ms "
          f"({100 * (bc / ac - 1):+.1f}%)")  # fmt: skip


if __name__ == "__main__":
    main()
