"""One recipe for the app and the exports: `netbuilder train` (the Trainer), the exported engine
script and the exported PyTorch script take the same steps on the same data.

For every optimizer, lr schedule and loss, with random valid settings, the runs start from the
same weights and must give the same losses at each of the first 20 steps, the same mean loss
per epoch and the same weights after them: `netbuilder train` on the saved project and the
engine script exactly as the Trainer, PyTorch within rtol 1e-4. A setting the export dropped
(Adam's betas, say) changes the numbers and fails here.
"""

import importlib.util
import json
import zlib

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from netbuilder import cli
from netbuilder.data import DataSplit
from netbuilder.export import write_export
from netbuilder.graph import History
from netbuilder.graph import commands as C
from netbuilder.graph.project import save_project
from netbuilder.graph.templates import load_template
from netbuilder.resources import resource_path
from netbuilder.training import (
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    EpochEnd,
    StepEnd,
    Trainer,
    TrainSettings,
    recipe,
)
from netbuilder.training.schema import SETTINGS

STEPS_PER_EPOCH, EPOCHS, BATCH = 5, 4, 8  # 20 steps; the schedule steps 4 times


def small_graph(loss):
    """Input 1x14x14 (the 28x28 images are resized) -> Linear 32 -> ReLU -> Linear 10."""
    graph = load_template("mlp").graph
    h = History(graph)
    h.push(C.RemoveItems(list(graph.nodes)))
    previous = None
    layers = [
        ("Input", {"shape": [1, 14, 14]}),
        ("Flatten", {}),
        ("Linear", {"out_features": 32}),
        ("ReLU", {}),
        ("Linear", {"out_features": 10}),
    ]
    if loss == "nll":
        layers.append(("LogSoftmax", {"dim": 1}))
    for type_, params in layers:
        cmd = C.AddNode(type_, (0, 0), params)
        h.push(cmd)
        if previous is not None:
            h.push(C.Connect(previous, cmd.node_id, 0))
        previous = cmd.node_id
    assert graph.problems() == []
    return graph


def random_settings(rng, optimizer, schedule, loss) -> dict:
    """Valid settings with every option of the optimizer and schedule away from its default."""
    momentum = float(rng.uniform(0.5, 0.95))
    nesterov = bool(rng.integers(2))
    return {
        "optimizer": optimizer,
        "schedule": schedule,
        "loss": loss,
        "lr": float(10 ** rng.uniform(-2.5, -1.5)) if optimizer != "adagrad" else 0.05,
        "momentum": momentum,
        "nesterov": nesterov,
        "dampening": 0.0 if nesterov else float(rng.uniform(0, 0.5)),
        "betas": [float(rng.uniform(0.7, 0.95)), float(rng.uniform(0.9, 0.999))],
        "eps": float(10 ** rng.uniform(-6, -4)),  # float32 cancellation below (centered)
        "amsgrad": bool(rng.integers(2)),
        "alpha": float(rng.uniform(0.8, 0.99)),
        "rmsprop_momentum": float(rng.uniform(0, 0.5)),
        "centered": bool(rng.integers(2)),
        "lr_decay": float(rng.uniform(0, 0.1)),
        "initial_accumulator_value": float(rng.uniform(0, 0.5)),
        "weight_decay": float(10 ** rng.uniform(-4, -2)),
        "step_size": int(rng.integers(1, 3)),
        "gamma": float(rng.uniform(0.3, 0.9)),
        "milestones": sorted(int(m) for m in rng.choice([1, 2, 3], 2, replace=False)),
        "t_max": int(rng.integers(0, 6)),
        "patience": int(rng.integers(0, 2)),
        "batch_size": BATCH,
        "epochs": EPOCHS,
        "seed": int(rng.integers(0, 1000)),
        "grad_every": 0,
    }


def augmented(rng, training: dict) -> dict:
    """Every batch augmented: the scripts must draw and change it as the Trainer does."""
    return dict(
        training,
        augment_crop=int(rng.integers(1, 3)),
        augment_flip=True,
        augment_rotate=float(rng.uniform(1, 15)),
        augment_translate=float(rng.uniform(0.05, 0.15)),
        augment_jitter=float(rng.uniform(0.1, 0.3)),
    )


# every optimizer, every schedule and every loss at least once, in mixed pairs
CASES = [
    (OPTIMIZERS[i % len(OPTIMIZERS)], SCHEDULES[i % len(SCHEDULES)], LOSSES[i % len(LOSSES)])
    for i in range(max(len(OPTIMIZERS), len(SCHEDULES), len(LOSSES)) + 2)
]


def test_cases_cover_every_choice():
    assert {c[0] for c in CASES} == set(OPTIMIZERS)
    assert {c[1] for c in CASES} == set(SCHEDULES)
    assert {c[2] for c in CASES} == set(LOSSES)


def test_every_optimizer_option_is_a_setting_and_reaches_the_call():
    """Each keyword of the recipe names a setting that applies to that optimizer/schedule."""
    names = {s.name: s for s in SETTINGS}
    for table, key in ((recipe.OPTIMIZERS, "optimizer"), (recipe.SCHEDULES, "schedule")):
        assert set(table) == set(names[key].keys)
        for choice, call in table.items():
            for setting in call.kwargs.values() if call else ():
                assert setting in names, setting
                assert names[setting].applies_to({**_defaults(), key: choice}), (choice, setting)


def _defaults():
    return {s.name: s.default for s in SETTINGS}


def test_every_setting_applying_to_an_optimizer_is_passed_to_it():
    for setting in SETTINGS:
        for choice in setting.applies.get("optimizer", ()):
            assert setting.name in recipe.OPTIMIZERS[choice].kwargs.values(), (choice, setting)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipe")
    n_train = STEPS_PER_EPOCH * BATCH
    with np.load(resource_path("data", "mnist-sample.npz")) as s:
        arrays = {
            "x_train": s["x_train"][:n_train],
            "y_train": s["y_train"][:n_train].astype(np.int64),
            "x_test": s["x_test"][:24],
            "y_test": s["y_test"][:24].astype(np.int64),
        }
    arrays["y_train"][:10] = np.arange(10)  # every class present: 10 classes everywhere
    path = folder / "data.npz"
    np.savez(path, **arrays)
    split = DataSplit("tiny", *arrays.values(), 10, str(path))
    return split, path


def import_module(path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(path, data_path, weights, saved):
    """main() of an exported script, in-process; the training losses of each step."""
    module = import_module(path)
    losses = []
    make_loss = module.make_loss

    def recording_loss(args):
        loss_fn = make_loss(args)

        def loss(output, target):
            value = loss_fn(output, target)
            if output.requires_grad:  # a training step, not the evaluation
                losses.append(float(value.item()))
            return value

        return loss

    module.make_loss = recording_loss
    epoch_losses = []
    train_epoch = module.train_epoch

    def recording_epoch(*args, **kwargs):
        epoch_losses.append(train_epoch(*args, **kwargs))
        return epoch_losses[-1]

    module.train_epoch = recording_epoch
    threads = torch.get_num_threads()
    try:
        module.main(["--data", str(data_path), "--weights", str(weights), "--save", str(saved),
                     "--threads", "1"])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return np.array(losses), np.array(epoch_losses), load_file(str(saved))


@pytest.mark.parametrize(("optimizer", "schedule", "loss"), CASES)
def test_app_and_both_exports_take_the_same_steps(tmp_path, data, optimizer, schedule, loss):
    rng = np.random.default_rng(zlib.crc32(f"{optimizer} {schedule} {loss}".encode()))
    compare_runs(tmp_path, data, random_settings(rng, optimizer, schedule, loss), loss)


# RMSprop and Adagrad divide by the root of tiny squared gradients, which turns PyTorch's
# float32 rounding into 1e-3 relative differences: the well-conditioned optimizers show that
# augmentation is the same, the cases above that every option is
@pytest.mark.parametrize(("optimizer", "schedule"), [("sgd", "step"), ("adam", "cosine")])
def test_augmented_batches_are_the_same_in_the_app_and_both_exports(
    tmp_path, data, optimizer, schedule
):
    rng = np.random.default_rng(zlib.crc32(f"augmented {optimizer}".encode()))
    training = augmented(rng, random_settings(rng, optimizer, schedule, "cross_entropy"))
    compare_runs(tmp_path, data, training, "cross_entropy")


def compare_runs(tmp_path, data, training, loss):
    split, data_path = data
    settings = TrainSettings.from_dict(training)
    graph = small_graph(loss)

    trainer = Trainer(graph, settings, data=split)
    start = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}
    from safetensors.numpy import save_file

    save_file(start, str(tmp_path / "start.safetensors"))
    app_losses, app_epochs = [], []

    def listen(event):
        if isinstance(event, StepEnd):
            app_losses.append(event.loss)
        elif isinstance(event, EpochEnd):
            app_epochs.append(event.train_loss)

    trainer.subscribe(listen)
    final = trainer.run()
    assert type(final).__name__ == "Finished", final
    app_losses = np.array(app_losses)
    assert len(app_losses) == STEPS_PER_EPOCH * EPOCHS
    app_weights = {k: v.numpy() for k, v in trainer.model.state_dict().items()}

    project = load_template("mlp")
    project.graph, project.training = graph, training

    # `netbuilder train` on the saved project: the Trainer's run, step for step
    save_project(project, tmp_path / "p.nbproj")
    status = cli.main(["train", str(tmp_path / "p.nbproj"), "--dataset", str(data_path),
                       "--no-progress", "--save-weights", str(tmp_path / "cli.safetensors"),
                       "--metrics-out", str(tmp_path / "metrics.jsonl")])  # fmt: skip
    assert status == 0
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().split("\n")
               if line]  # fmt: skip
    cli_losses = [r["loss"] for r in records if r["type"] == "step"]
    np.testing.assert_allclose(cli_losses, app_losses, rtol=1e-6, atol=1e-7)
    cli_weights = load_file(str(tmp_path / "cli.safetensors"))
    for key, value in app_weights.items():
        np.testing.assert_allclose(cli_weights[key], value, rtol=1e-6, atol=1e-7, err_msg=key)

    runs = {}
    for target in ("engine", "torch"):
        script = write_export(project, tmp_path / f"net_{target}.py", target)
        runs[target] = run_script(
            script, data_path, tmp_path / "start.safetensors", tmp_path / f"{target}.safetensors"
        )

    engine_losses, engine_epochs, engine_weights = runs["engine"]
    np.testing.assert_allclose(engine_losses, app_losses, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(engine_epochs, app_epochs, rtol=1e-6)
    for key, value in app_weights.items():
        np.testing.assert_allclose(engine_weights[key], value, rtol=1e-6, atol=1e-7, err_msg=key)
    torch_losses, torch_epochs, torch_weights = runs["torch"]
    np.testing.assert_allclose(torch_losses, app_losses, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(torch_epochs, app_epochs, rtol=1e-4)
    for key, value in app_weights.items():
        np.testing.assert_allclose(torch_weights[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
    moved = [k for k in start if not np.allclose(start[k], app_weights[k])]
    assert moved, "the weights did not change"
