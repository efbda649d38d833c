"""The Trainer: events in order with their fields, control from another thread, NaN handling,
determinism, checkpoints and feature maps (on a small CNN with dropout and slices of the
bundled sample, so that the whole file stays quick; LeNet itself trains in test_cli.py)."""

import math
import os
import threading
import time

import numpy as np
import pytest

import engine
from netbuilder.data import DataSplit, load_dataset
from netbuilder.graph import Graph, commands
from netbuilder.training import (
    OPTIMIZERS,
    EpochEnd,
    Failed,
    Finished,
    LayerDiagnostics,
    Paused,
    Resumed,
    RunStarted,
    StepEnd,
    Stopped,
    Trainer,
    TrainingError,
    TrainSettings,
)

SMALL_CNN = [
    ("Input", "input1", {"shape": [1, 14, 14]}),  # the 28x28 digits are resized to 14x14
    ("Conv2d", "conv1", {"out_channels": 4, "kernel_size": 3}),
    ("ReLU", "relu1", {}),
    ("MaxPool2d", "pool1", {"kernel_size": 2}),
    ("Flatten", "flatten1", {}),
    ("Dropout", "drop1", {"p": 0.2}),
    ("Linear", "fc1", {"out_features": 10}),
]


def _chain(specs):
    nodes = [
        {"id": f"n{i}", "type": t, "name": name, "params": params, "pos": [i * 150.0, 0.0]}
        for i, (t, name, params) in enumerate(specs)
    ]
    edges = [{"src": f"n{i}", "dst": f"n{i + 1}", "dst_port": 0} for i in range(len(specs) - 1)]
    return Graph.from_dict({"name": "Small", "nodes": nodes, "edges": edges})


@pytest.fixture(scope="module")
def net():
    graph = _chain(SMALL_CNN)
    assert not graph.problems()
    return graph


@pytest.fixture(scope="module")
def sample():
    return load_dataset("sample")


def _subset(split, n_train, n_test):
    return DataSplit(
        "small",
        split.x_train[:n_train],
        split.y_train[:n_train],
        split.x_test[:n_test],
        split.y_test[:n_test],
        split.num_classes,
        split.source,
    )


@pytest.fixture(scope="module")
def small(sample):
    return _subset(sample, 640, 200)


@pytest.fixture(scope="module")
def tiny(sample):
    return _subset(sample, 128, 64)


def _run(graph, data, **settings):
    trainer = Trainer(graph, TrainSettings(**settings), data=data)
    events = []
    trainer.subscribe(events.append)
    final = trainer.run()
    return trainer, events, final


def test_events_arrive_in_order_with_the_promised_fields(net, small):
    trainer, events, final = _run(net, small, epochs=2, batch_size=64, grad_every=4)

    kinds = [type(e) for e in events if not isinstance(e, LayerDiagnostics)]
    assert kinds == [RunStarted, *[StepEnd] * 10, EpochEnd, *[StepEnd] * 10, EpochEnd, Finished]
    assert final is events[-1] and final.step == 20

    started = events[0]
    param_names = tuple(name for name, _ in trainer.model.named_parameters())
    assert started.param_names == param_names and "conv1.weight" in param_names
    assert started.layer_names == ("conv1", "fc1")
    assert (started.epochs, started.steps_per_epoch) == (2, 10)
    assert started.input_shape == (1, 14, 14) and started.num_classes == 10
    assert (started.train_samples, started.test_samples) == (640, 200)

    steps = [e for e in events if isinstance(e, StepEnd)]
    assert [s.step for s in steps] == list(range(1, 21))
    assert [s.epoch for s in steps] == [1] * 10 + [2] * 10
    sizes = {name: p.numel() for name, p in trainer.model.named_parameters()}
    for s in steps:
        assert math.isfinite(s.loss) and s.samples_per_s > 0 and s.lr == pytest.approx(0.01)
        if s.step % 4:
            assert s.grad_norms is None and s.histograms is None
            continue
        assert set(s.grad_norms) == set(param_names)
        assert all(v > 0 and math.isfinite(v) for v in s.grad_norms.values())
        for name, pair in s.histograms.items():
            for key in ("grad", "weight"):
                counts, edges = pair[key]
                assert counts.shape == (32,) and edges.shape == (33,)
                assert counts.sum() == sizes[name]
    # the norms are those of the real gradients left by the last step
    last = steps[-1]
    for name, p in trainer.model.named_parameters():
        assert last.grad_norms[name] == pytest.approx(
            float(np.linalg.norm(p.grad.numpy())), rel=1e-5
        )

    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2]
    for e, losses in zip(epochs, ([s.loss for s in steps[:10]], [s.loss for s in steps[10:]])):
        assert e.train_loss == pytest.approx(np.mean(losses), rel=1e-5)
        assert e.confusion.shape == (10, 10) and e.confusion.sum() == 200
        assert e.test_accuracy == pytest.approx(np.trace(e.confusion) / 200)
        assert np.array_equal(e.confusion.sum(axis=1), np.bincount(small.y_test, minlength=10))
        assert math.isfinite(e.test_loss) and e.seconds > 0
        assert e.samples.images.dtype == np.uint8 and e.samples.images.shape == (16, 28, 28)
        assert np.array_equal(e.samples.images, small.x_test[:16])
        assert np.array_equal(e.samples.labels, small.y_test[:16])
        assert e.samples.predicted.shape == (16,) and e.samples.predicted.max() < 10
    assert epochs[1].train_loss < epochs[0].train_loss  # it learns


def test_same_seed_gives_the_same_losses(net, tiny):
    def losses(seed):
        _, events, _ = _run(net, tiny, epochs=2, batch_size=32, seed=seed)
        return [e.loss for e in events if isinstance(e, StepEnd)]

    first = losses(3)
    assert first == losses(3)
    assert first != losses(4)


def test_a_nan_loss_stops_the_run_and_leaves_the_network_usable(net, small):
    trainer, events, final = _run(net, small, epochs=3, lr=1e6, batch_size=32)
    assert isinstance(final, Failed)
    assert f"step {final.step + 1}" in final.message and "learning rate" in final.message
    assert "try a lower one" in final.message
    assert not any(isinstance(e, StepEnd) and e.step > final.step for e in events)
    # usable: finite weights, a forward pass, feature maps, and the weights can be saved
    for p in trainer.model.parameters():
        assert np.isfinite(p.detach().numpy()).all()
    assert "the weights are back to those after step 0" in final.message  # it failed at once
    with engine.no_grad():
        out = trainer.model(engine.from_numpy(trainer.prepared.test_x[:4])).numpy()
    assert out.shape == (4, 10) and np.isfinite(out).all()
    assert trainer.feature_maps("conv1", 0).shape == (4, 12, 12)


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def test_pause_resume_and_stop_from_another_thread(net, small):
    trainer = Trainer(net, TrainSettings(epochs=100, batch_size=32), data=small)
    events = []
    trainer.subscribe(events.append)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    try:

        def step_count():
            return sum(isinstance(e, StepEnd) for e in events)

        _wait(lambda: step_count() >= 3)
        at_call = step_count()
        trainer.pause()
        _wait(lambda: any(isinstance(e, Paused) for e in events))
        paused = next(e for e in events if isinstance(e, Paused))
        assert paused.step <= at_call + 1  # within one step
        held = step_count()
        cpu = time.process_time()
        time.sleep(0.4)
        assert step_count() == held  # nothing moves while paused
        assert time.process_time() - cpu < 0.15  # and the paused thread does not spin

        trainer.resume()
        _wait(lambda: step_count() >= held + 3)
        resumed = [e for e in events if isinstance(e, Resumed)]
        assert len(resumed) == 1 and resumed[0].step == paused.step
        assert events.index(resumed[0]) == events.index(paused) + 1

        at_stop = step_count()
        trainer.stop()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        trainer.stop()
        thread.join(10)
    assert isinstance(events[-1], Stopped)
    assert events[-1].step <= at_stop + 1
    assert sum(isinstance(e, (Stopped, Finished, Failed)) for e in events) == 1


def test_stop_while_paused_ends_the_run(net, tiny):
    trainer = Trainer(net, TrainSettings(epochs=100, batch_size=16), data=tiny)
    events = []
    trainer.subscribe(events.append)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    _wait(lambda: any(isinstance(e, StepEnd) for e in events))
    trainer.pause()
    _wait(lambda: any(isinstance(e, Paused) for e in events))
    trainer.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(events[-1], Stopped) and not any(isinstance(e, Resumed) for e in events)
    # the Trainer is reusable after a stop: a new run goes on from there
    stopped_at = events[-1].step
    trainer.settings = TrainSettings(epochs=1, batch_size=16)
    assert isinstance(trainer.run(), Finished)
    again = [e for e in events if isinstance(e, RunStarted)][-1]
    assert again.first_step == stopped_at + 1
    assert next(e for e in events[events.index(again) :] if isinstance(e, StepEnd)).step == (
        stopped_at + 1
    )


def test_exceptions_become_failed_events(net, tiny):
    def explode(event):
        if isinstance(event, StepEnd) and event.step == 2:
            raise RuntimeError("listener went wrong")

    trainer = Trainer(net, TrainSettings(batch_size=16), data=tiny)
    events = []
    trainer.subscribe(events.append)
    trainer.subscribe(explode)
    final = trainer.run()  # does not raise
    assert isinstance(final, Failed) and events[-1] is final
    assert "RuntimeError: listener went wrong" in final.message


def test_bad_data_and_bad_graphs_fail_with_a_message(net, tiny, tmp_path):
    missing = tmp_path / "nowhere"
    final = Trainer(net, TrainSettings(dataset=str(missing))).run()
    assert isinstance(final, Failed) and str(missing) in final.message

    broken = Graph.from_dict(net.to_dict())
    conv1 = broken.node_by_name("conv1")
    commands.SetParams(conv1.id, {"kernel_size": 40}).redo(broken)
    assert broken.problems()
    final = Trainer(broken, TrainSettings(), data=tiny).run()
    assert isinstance(final, Failed) and "conv1" in final.message

    short = Graph.from_dict(net.to_dict())
    commands.SetParams(short.node_by_name("fc1").id, {"out_features": 7}).redo(short)
    final = Trainer(short, TrainSettings(), data=tiny).run()
    assert isinstance(final, Failed)
    assert "7 outputs" in final.message and "10 classes" in final.message

    final = Trainer(net, TrainSettings(optimizer="lbfgs"), data=tiny).run()
    assert isinstance(final, Failed) and "optimizer" in final.message


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains(net, small, optimizer):
    lr = 0.01 if optimizer in ("sgd", "adagrad") else 0.001
    trainer, events, final = _run(
        net,
        small,
        optimizer=optimizer,
        lr=lr,
        momentum=0.5,
        rmsprop_momentum=0.5,
        weight_decay=1e-4,
        batch_size=32,
    )
    assert isinstance(final, Finished), final
    assert type(trainer.optimizer).__name__.lower() == optimizer
    losses = [e.loss for e in events if isinstance(e, StepEnd)]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])


@pytest.mark.parametrize(
    ("schedule", "extra", "expected"),
    [
        ("none", {}, [0.1, 0.1, 0.1]),
        ("step", {"step_size": 2, "gamma": 0.5}, [0.1, 0.05, 0.05]),
        ("multistep", {"milestones": (1, 3), "gamma": 0.1}, [0.01, 0.01, 0.001]),
        ("exponential", {"gamma": 0.5}, [0.05, 0.025, 0.0125]),
        ("cosine", {"t_max": 2}, [0.05, 0.0, 0.05]),
    ],
)
def test_lr_schedules_step_once_per_epoch(net, tiny, schedule, extra, expected):
    _, events, final = _run(
        net, tiny, epochs=3, lr=0.1, momentum=0.0, schedule=schedule, batch_size=64, **extra
    )
    assert isinstance(final, Finished), final
    lrs = [e.lr for e in events if isinstance(e, EpochEnd)]
    assert lrs == pytest.approx(expected, abs=1e-9)


def test_plateau_schedule_lowers_lr_when_the_test_loss_stalls(net, tiny):
    # a tiny lr keeps the test loss flat, which the plateau rule must notice
    _, events, final = _run(
        net,
        tiny,
        epochs=4,
        lr=1e-6,
        momentum=0.0,
        schedule="plateau",
        patience=0,
        gamma=0.5,
        batch_size=64,
    )
    assert isinstance(final, Finished), final
    lrs = [e.lr for e in events if isinstance(e, EpochEnd)]
    assert min(lrs) < 1e-6


def test_weights_and_checkpoints_round_trip(net, tiny, tmp_path):
    trainer, _, _ = _run(net, tiny, batch_size=32)
    weights = tmp_path / "w.safetensors"
    trainer.save_weights(weights)
    from safetensors.numpy import load_file

    saved = load_file(str(weights))
    state = trainer.model.state_dict()
    assert set(saved) == set(state)
    for key, value in state.items():
        assert np.array_equal(saved[key], value.numpy())

    checkpoint = tmp_path / "run.ckpt"
    trainer.save_checkpoint(checkpoint)
    other = Trainer(net, TrainSettings(seed=99, batch_size=32), data=tiny)  # other weights
    other.load_checkpoint(checkpoint)  # before any run: builds the optimizer to fill it
    for key, value in trainer.model.state_dict().items():
        assert np.array_equal(other.model.state_dict()[key].numpy(), value.numpy())
    mine = trainer.optimizer.state_dict()["state"]
    theirs = other.optimizer.state_dict()["state"]
    assert set(mine) == set(theirs)
    for k in mine:
        assert np.array_equal(
            np.asarray(mine[k]["momentum_buffer"]), np.asarray(theirs[k]["momentum_buffer"])
        )
    assert (other.step, other.epoch) == (trainer.step, trainer.epoch)
    with pytest.raises(TrainingError, match="not a NetBuilder checkpoint"):
        other.load_checkpoint(weights)
    assert isinstance(other.run(), Finished)  # and it trains on from there
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporary files


def test_checkpoint_at_the_end_when_asked(net, tiny, tmp_path):
    path = tmp_path / "end.ckpt"
    trainer = Trainer(net, TrainSettings(batch_size=64), data=tiny, checkpoint_path=path)
    assert isinstance(trainer.run(), Finished)
    assert engine.load(path)["progress"]["step"] == 2


def test_feature_maps_of_a_conv_block(net, tiny):
    trainer, _, _ = _run(net, tiny, batch_size=64)
    maps = trainer.feature_maps("conv1", 3)
    assert maps.shape == (4, 12, 12) and maps.dtype == np.float32
    x = engine.from_numpy(trainer.prepared.test_x[3:4])
    conv1 = trainer.model.conv1
    with engine.no_grad():
        expected = engine.nn.functional.conv2d(x, conv1.weight, conv1.bias).numpy()[0]
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-5)
    # an array shaped like the Input block works too; later blocks have their own shapes
    assert np.array_equal(trainer.feature_maps("conv1", trainer.prepared.test_x[3]), maps)
    assert trainer.feature_maps("pool1", 3).shape == (4, 6, 6)
    with pytest.raises(TrainingError, match="no test image 64"):
        trainer.feature_maps("conv1", 64)
    with pytest.raises(ValueError, match="nope"):
        trainer.feature_maps("nope", 0)
    # in eval mode: dropout is off, so the same input gives the same logits twice
    assert np.array_equal(trainer.feature_maps("fc1", 3), trainer.feature_maps("fc1", 3))


def test_a_validation_split_is_held_out_and_reported(net, small):
    _, events, final = _run(net, small, epochs=1, val_split=0.25, batch_size=64)
    assert isinstance(final, Finished), final
    assert events[0].train_samples == 480 and events[0].steps_per_epoch == 8
    epoch = next(e for e in events if isinstance(e, EpochEnd))
    assert 0.0 <= epoch.val_accuracy <= 1.0 and math.isfinite(epoch.val_loss)
    _, events, _ = _run(net, small, epochs=1, batch_size=64)
    epoch = next(e for e in events if isinstance(e, EpochEnd))
    assert epoch.val_loss is None and epoch.val_accuracy is None


@pytest.mark.parametrize("loss", ["mse", "nll"])
def test_other_losses_train(net, small, loss):
    # nll needs log-probabilities: the network ends in a LogSoftmax block
    graph = _chain([*SMALL_CNN, ("LogSoftmax", "logsoftmax1", {})]) if loss == "nll" else net
    _, events, final = _run(graph, small, loss=loss, lr=0.05, batch_size=32)
    assert isinstance(final, Finished), final
    losses = [e.loss for e in events if isinstance(e, StepEnd)]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    if loss == "nll":  # LogSoftmax + NLL is cross-entropy: the same run, step for step
        _, ce_events, _ = _run(net, small, loss="cross_entropy", lr=0.05, batch_size=32)
        ce = [e.loss for e in ce_events if isinstance(e, StepEnd)]
        np.testing.assert_allclose(losses, ce, rtol=1e-4)


def test_nll_on_raw_scores_is_refused_before_any_step(net, tiny):
    # NLL on scores has no minimum: it would run to -inf and blame the learning rate
    _, events, final = _run(net, tiny, loss="nll")
    assert isinstance(final, Failed) and final.step == 0
    assert "ends in fc1 (Linear)" in final.message and "LogSoftmax" in final.message
    assert not any(isinstance(e, StepEnd) for e in events)


def test_a_wrong_output_size_names_the_block_to_change(tiny):
    graph = _chain([*SMALL_CNN[:-1], ("Linear", "head", {"out_features": 7}), ("ReLU", "r", {})])
    final = Trainer(graph, TrainSettings(), data=tiny).run()
    assert isinstance(final, Failed)
    assert "7 outputs" in final.message and "set head's out_features to 10" in final.message


def test_rmsprop_has_its_own_momentum_defaulting_to_torchs(net, tiny):
    # SGD's 0.9 (the classic recipe) must not leak into RMSprop, whose default is 0
    trainer, _, _ = _run(net, tiny, optimizer="rmsprop", lr=0.001, epochs=1)
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.0
    trainer, _, _ = _run(net, tiny, optimizer="rmsprop", lr=0.001, rmsprop_momentum=0.5)
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.5
    trainer, _, _ = _run(net, tiny, optimizer="sgd", rmsprop_momentum=0.5)
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.9


@pytest.mark.parametrize("name", ["mlp", "bn_cnn", "resnet"])
def test_every_template_trains_a_few_steps(tiny, name):
    from netbuilder.graph.templates import load_template

    graph = load_template(name).graph
    trainer, events, final = _run(graph, _subset(tiny, 64, 32), batch_size=16, lr=0.01)
    assert isinstance(final, Finished), final
    assert all(math.isfinite(e.loss) for e in events if isinstance(e, StepEnd))
    # feature maps of every block with an output, Add and Concat included
    for node in graph.nodes.values():
        assert trainer.feature_maps(node.name, 0).shape == tuple(node.out_shape)


def test_a_checkpoint_resumes_the_same_trajectory(net, tiny, tmp_path):
    # two epochs straight == one epoch, checkpoint, a fresh Trainer, one more epoch: same
    # weights, optimizer state, shuffling order and dropout masks (SMALL_CNN has dropout)
    def losses(trainer):
        events = []
        trainer.subscribe(events.append)
        assert isinstance(trainer.run(), Finished)
        return [e.loss for e in events if isinstance(e, StepEnd)]

    settings = TrainSettings(epochs=2, batch_size=32, seed=4)
    straight = losses(Trainer(net, settings, data=tiny))
    first = Trainer(net, settings.replace(epochs=1), data=tiny)
    head = losses(first)
    first.save_checkpoint(tmp_path / "run.ckpt")
    engine.manual_seed(123)  # whatever ran in between must not matter
    second = Trainer(net, settings.replace(epochs=1), data=tiny)
    second.load_checkpoint(tmp_path / "run.ckpt")
    assert second.step == len(head)
    assert head + losses(second) == straight


def test_saved_weights_are_plainly_readable(net, tmp_path):
    # engine.save writes through mkstemp (0600); a weights file is meant to be shared
    trainer = Trainer(net, TrainSettings())
    old_umask = os.umask(0o022)
    try:
        trainer.save_weights(tmp_path / "w.safetensors")
        trainer.save_checkpoint(tmp_path / "c.ckpt")
    finally:
        os.umask(old_umask)
    for name in ("w.safetensors", "c.ckpt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644
